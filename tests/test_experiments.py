"""DVC experiments (`dvc exp run -S`, and `--queue` + `dvc queue start`) make runs ledger records
truthfully: the experiment's name and baseline revision, its params change as params rather
than dirt; once the experiment is applied and committed, the run is promotable and verifies."""

from __future__ import annotations

import subprocess
import time

from conftest import BIN

RUN1, RUN2 = "lead1-news", "lead2-news"
LEAD2 = "data/eval/configs/lead2.yaml"


def decl(run: str) -> str:
    """The run's declaration: the params file `dvc exp run -S` edits."""
    return f"data/eval/pipelines/{run}/params.yaml"


def fingerprint(box, run):
    return box.read_json(f"data/eval/runs/{run}/fingerprint.json")


def promote(box, run, pid):
    return box.ledger("promote", run, "--as", "baseline", "--id", pid, "--reason", "from an experiment")


def test_an_experiment_run_is_recorded_as_one_and_promotable_once_committed(repo):
    base = repo.git("rev-parse", "HEAD")
    repo.dvc("exp", "run", "-S", f"{decl(RUN1)}:config={LEAD2}", "-n", "swap-config")
    code = fingerprint(repo, RUN1)["code"]
    assert code["dirty"] is False and code["commit"] == base, code
    assert code["experiment"] == {"name": "swap-config", "baseline_rev": base, "params_files": [decl(RUN1)]}
    assert fingerprint(repo, RUN1)["params"]["run"]["config"] == LEAD2
    table = repo.dvc("exp", "show", "--csv").stdout.splitlines()
    header = table[0].split(",")
    assert "swap-config" in "\n".join(table)  # each run's metrics and declaration are columns
    assert f"data/eval/runs/{RUN1}/metrics.json:metrics.token_f1" in header, header
    assert f"{decl(RUN1)}:config" in header
    proc = promote(repo, RUN1, "e1")  # applied to the workspace, not committed yet
    assert proc.returncode == 2 and "commit or stash your changes first (" in proc.stderr, proc.stderr
    repo.commit_all("experiment swap-config")
    proc = promote(repo, RUN1, "e1")
    assert proc.returncode == 0, proc.stderr
    assert repo.ledger("verify").returncode == 0
    promoted = repo.read_json("data/eval/baselines/e1/fingerprint.json")
    assert promoted["code"]["experiment"]["name"] == "swap-config"


def test_an_experiment_whose_params_were_not_committed_is_refused(repo):
    repo.dvc("exp", "run", "-S", f"{decl(RUN1)}:config={LEAD2}", "-n", "not-kept")
    repo.git("checkout", decl(RUN1))  # the experiment's params dropped, its dvc.lock kept
    repo.commit_all("only the lock")
    before = repo.snapshot()
    proc = promote(repo, RUN1, "e2")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "was executed by DVC experiment 'not-kept' with params that are not its committed declaration" in proc.stderr
    assert "`dvc exp apply not-kept`, commit, then promote" in proc.stderr
    assert repo.snapshot() == before


def test_a_plain_repro_with_edited_params_is_still_dirty(repo):
    params = repo.root / decl(RUN1)
    params.write_text(params.read_text().replace('config: "data/eval/configs/lead1.yaml"', f"config: {LEAD2}", 1))
    repo.dvc("repro")
    code = fingerprint(repo, RUN1)["code"]
    assert fingerprint(repo, RUN1)["params"]["run"]["config"] == LEAD2
    assert code["dirty"] is True and decl(RUN1) in code["dirty_paths"] and "experiment" not in code


def test_a_queued_experiment_end_to_end(repo):
    base = repo.git("rev-parse", "HEAD")
    repo.dvc("exp", "run", "--queue", "-S", f"{decl(RUN2)}:config=data/eval/configs/lead1.yaml", "-n", "queued-one")
    # The worker dvc starts keeps the output it inherits open until it has idled 10 s: read from a
    # file, not a pipe, `dvc queue start` returns once the worker is spawned (else after ~16 s)
    log = repo.root.parent / "queue-start.log"
    with log.open("w") as out:
        started = subprocess.run([str(BIN / "dvc"), "queue", "start"], cwd=repo.root, env=repo.env, stdout=out,
                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    assert started.returncode == 0, log.read_text()
    # An experiment that ends leaves a git ref (refs/exps/.../queued-one, or the failed stash):
    # watched with git, which answers at once (`dvc queue status` takes ~3 s a call here)
    deadline = time.monotonic() + 240
    while not any(ref.endswith("/queued-one") or ref.startswith("refs/exps/celery/failed")
                  for ref in repo.git("for-each-ref", "--format=%(refname)", "refs/exps/").split()):
        assert time.monotonic() < deadline, repo.dvc("queue", "status", check=False).stdout
        time.sleep(0.2)
    while True:  # the task's own status is stored just after its ref
        status = repo.dvc("queue", "status", check=False).stdout
        if "queued-one" in status and ("Success" in status or "Failed" in status):
            break
        assert time.monotonic() < deadline, status
    assert "Success" in status, status
    repo.dvc("exp", "apply", "queued-one")
    code = fingerprint(repo, RUN2)["code"]
    assert code["dirty"] is False and code["commit"] == base and code["experiment"]["name"] == "queued-one", code
    repo.commit_all("experiment queued-one")
    proc = promote(repo, RUN2, "q1")
    assert proc.returncode == 0, proc.stderr
    assert repo.ledger("verify").returncode == 0
    repo.dvc("queue", "stop", check=False)
