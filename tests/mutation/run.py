"""Mutation run of one security module over WORKERS copies of HEAD (make mutation).

usage: python tests/mutation/run.py NAME WORKERS [--recheck]

NAME picks tests/mutation/NAME.toml (the module and its suite of tests). Each worker owns a
clone of HEAD under /tmp and runs `cosmic-ray mutate-and-test` there, one mutant at a time:
cosmic-ray mutates the clone in place, runs tests/mutation/pick_tests.py (the tests that
execute the mutated statement, by the coverage map of make mutation-map) and restores it. A
test that hangs fails after LEDGER_MUTATION_TEST_TIMEOUT seconds (pytest-timeout), which
counts as killed. The session database is tests/mutation/map/NAME.sqlite, so an interrupted run
resumes where it stopped.

--recheck tests the survivors of a finished run again, each against its suite's whole files
plus the rest of the suite's tests that execute it (new tests are not in the map yet), or
only against the test ids in LEDGER_MUTATION_TESTS (one per line: the tests written since);
LEDGER_MUTATION_JOBS (job id prefixes) limits it to those survivors.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

ROOT = Path(__file__).resolve().parents[2]
MAP = ROOT / "tests" / "mutation" / "map"
BIN = Path(sys.executable).parent


def _clone(copy: Path, template: Path, env: dict[str, str]) -> None:
    subprocess.run(["git", "clone", "-q", str(ROOT), str(copy)], check=True)
    warm = {**env, "LEDGER_TEST_TEMPLATE": str(template), "PYTHONPATH": str(copy)}
    # the test template, built once from unmutated code (tests/conftest.py)
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_smoke.py"],
                   cwd=copy, env=warm, check=True, stdout=subprocess.DEVNULL)


def _one(copy: Path, env: dict[str, str], mutation, command: str) -> WorkResult:
    proc = subprocess.run([str(BIN / "cosmic-ray"), "mutate-and-test", str(mutation.module_path),
                           mutation.operator_name, str(mutation.occurrence), command],
                          cwd=copy, env=env, capture_output=True, text=True)
    try:
        data = json.loads(proc.stdout)
    except ValueError:
        return WorkResult(worker_outcome=WorkerOutcome.ABNORMAL, output=proc.stdout[-4000:] + proc.stderr[-4000:])
    return WorkResult(worker_outcome=WorkerOutcome(data["worker_outcome"]), output=data.get("output"),
                      test_outcome=TestOutcome(data["test_outcome"]) if data.get("test_outcome") else None,
                      diff=data.get("diff"))


def main(name: str, workers: int, recheck: bool = False) -> int:
    spec = tomllib.loads((ROOT / "tests" / "mutation" / f"{name}.toml").read_text())["cosmic-ray"]
    module, suite = spec["module-path"], spec["suite"]
    db_path = MAP / f"{name}.sqlite"
    if not db_path.exists():
        config = MAP / f"{name}.init.toml"
        config.write_text(f"[cosmic-ray]\nmodule-path = {json.dumps(module)}\ntimeout = 600.0\n"
                          "excluded-modules = []\ntest-command = \"true\"\n"
                          "[cosmic-ray.distributor]\nname = \"local\"\n")
        subprocess.run([str(BIN / "cosmic-ray"), "init", str(config), str(db_path)], check=True, cwd=ROOT)
        sys.path.insert(0, str(Path(__file__).parent))
        from prune import prune

        print(f"mutation {name}: skipped {prune(db_path, ROOT)} (see tests/mutation/prune.py)", flush=True)
    if recheck:
        jobs = os.environ.get("LEDGER_MUTATION_JOBS", "").split()  # job id prefixes: only these survivors
        where = " OR ".join(["job_id LIKE ?"] * len(jobs)) or "1"
        with sqlite3.connect(db_path) as con:
            gone = con.execute("DELETE FROM work_results WHERE (test_outcome = 'SURVIVED' "
                               f"OR worker_outcome = 'ABNORMAL') AND ({where})", [j + "%" for j in jobs]).rowcount
        print(f"mutation {name}: rechecking {gone} survivors", flush=True)
    scratch = Path(f"/tmp/ledger-mutation-{name}")
    shutil.rmtree(scratch, ignore_errors=True)
    env = {**os.environ, "LEDGER_MUTATION_MAP": str(MAP), "LEDGER_MUTATION_RECHECK": "1" if recheck else "0"}
    command = " ".join([sys.executable, "tests/mutation/pick_tests.py", module, *suite])
    with use_db(str(db_path), WorkDB.Mode.open) as db:
        pending = queue.Queue()
        for item in db.pending_work_items:
            pending.put(item)
        total, lock, done = pending.qsize(), threading.Lock(), [0]
        started = time.monotonic()

        def work(i: int) -> None:
            copy, template = scratch / f"w{i}", scratch / f"template{i}"
            _clone(copy, template, env)
            mine = {**env, "LEDGER_TEST_TEMPLATE": str(template)}
            while True:
                try:
                    item = pending.get_nowait()
                except queue.Empty:
                    return
                result = _one(copy, mine, item.mutations[0], command)
                with lock:
                    db.set_result(item.job_id, result)
                    done[0] += 1
                    print(f"[{done[0]}/{total} {time.monotonic() - started:.0f}s] "
                          f"{result.test_outcome or result.worker_outcome}", flush=True)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    print(f"mutation {name}: {total} mutants in {time.monotonic() - started:.0f} s with {workers} workers")
    report = subprocess.run([str(BIN / "cr-report"), str(db_path), "--show-output", "--show-diff"],
                            capture_output=True, text=True).stdout
    (MAP / f"{name}.report.txt").write_text(report)
    print(report[report.rfind("total jobs"):] if "total jobs" in report else report[-2000:])
    print(f"full report: {MAP / f'{name}.report.txt'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]), "--recheck" in sys.argv[3:]))
