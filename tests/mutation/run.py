"""Mutation run of one security module over WORKERS copies of HEAD (make mutation).

usage: python tests/mutation/run.py NAME WORKERS [--recheck]

--recheck tests the survivors of a finished run again, each against its suite's whole files
plus the rest of the suite's tests that execute it (new tests are not in the map yet).

NAME picks tests/mutation/NAME.toml (the module and its suite of tests). Each worker is a
`cosmic-ray http-worker` in its own clone of HEAD under /tmp; cosmic-ray mutates that clone in
place and runs tests/mutation/pick_tests.py, which runs the tests that execute the mutated
statement according to the coverage map (make mutation-map). The session database is kept at
tests/mutation/map/NAME.sqlite, so an interrupted run resumes where it stopped; surviving
mutants are printed with their diffs at the end.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAP = ROOT / "tests" / "mutation" / "map"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(name: str, workers: int, recheck: bool = False) -> int:
    spec = tomllib.loads((ROOT / "tests" / "mutation" / f"{name}.toml").read_text())["cosmic-ray"]
    module, suite = spec["module-path"], spec["suite"]
    scratch = Path(f"/tmp/ledger-mutation-{name}")
    shutil.rmtree(scratch, ignore_errors=True)
    ports, procs = [], []
    env = {**os.environ, "LEDGER_MUTATION_MAP": str(MAP), "LEDGER_MUTATION_RECHECK": "1" if recheck else "0"}
    try:
        for i in range(workers):
            copy = scratch / f"w{i}"
            subprocess.run(["git", "clone", "-q", str(ROOT), str(copy)], check=True)
            template = scratch / f"template{i}"  # built once here, from unmutated code
            warm = {**env, "LEDGER_TEST_TEMPLATE": str(template), "PYTHONPATH": str(copy)}
            subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            "tests/test_smoke.py"], cwd=copy, env=warm, check=True,
                           stdout=subprocess.DEVNULL)
            port = free_port()
            log = open(scratch / f"w{i}.log", "w")
            procs.append(subprocess.Popen([str(BIN / "cosmic-ray"), "http-worker", "--port", str(port)],
                                          cwd=copy, env={**env, "LEDGER_TEST_TEMPLATE": str(template)},
                                          stdout=log, stderr=subprocess.STDOUT))
            ports.append(port)
        command = " ".join([sys.executable, "tests/mutation/pick_tests.py", module, *suite])
        config = scratch / "session.toml"
        config.write_text(
            "[cosmic-ray]\n"
            f"module-path = {json.dumps(module)}\n"
            f"timeout = {float(spec.get('timeout', 600))}\n"
            "excluded-modules = []\n"
            f"test-command = {json.dumps(command)}\n"
            "[cosmic-ray.distributor]\nname = \"http\"\n"
            "[cosmic-ray.distributor.http]\n"
            f"worker-urls = {json.dumps([f'http://127.0.0.1:{p}' for p in ports])}\n")
        db = MAP / f"{name}.sqlite"
        if recheck:
            import sqlite3

            with sqlite3.connect(db) as con:
                gone = con.execute("DELETE FROM work_results WHERE test_outcome = 'SURVIVED'").rowcount
            print(f"mutation {name}: rechecking {gone} survivors")
        if not db.exists():
            subprocess.run([str(BIN / "cosmic-ray"), "init", str(config), str(db)], check=True, cwd=ROOT)
            sys.path.insert(0, str(Path(__file__).parent))
            from prune import prune

            print(f"mutation {name}: skipped {prune(db, ROOT)} (see tests/mutation/prune.py)")
        time.sleep(2)  # the workers bind their ports
        started = time.monotonic()
        subprocess.run([str(BIN / "cosmic-ray"), "exec", str(config), str(db)], check=True, cwd=ROOT)
        print(f"mutation {name}: {time.monotonic() - started:.0f} s with {workers} workers")
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait()
    report = subprocess.run([str(BIN / "cr-report"), str(db), "--show-output", "--show-diff"],
                            capture_output=True, text=True).stdout
    print(report[report.rfind("total jobs"):] if "total jobs" in report else report[-2000:])
    (MAP / f"{name}.report.txt").write_text(report)
    print(f"full report: {MAP / f'{name}.report.txt'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]), "--recheck" in sys.argv[3:]))
