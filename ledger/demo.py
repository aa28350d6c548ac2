"""`make demo`: set-up + the main job end to end, in a scratch repository.

The scratch repository is a copy of this checkout's example project (dvc.yaml, params.yaml,
configs, and stages/: a logistic-regression classifier on the iris data that ships inside
scikit-learn) -- never ledger's own source: its stages run the installed `ledger`. With a
throwaway ssh signing key configured in git, it runs what a user runs: `ledger init`, `dvc repro`
(prepare the cases, train the model, evaluate), `ledger run add`, a gate without a baseline, a
signed promotion, a second model version gated against it, compare, reproduce, and `ledger
verify` passing, catching a tampered file, and passing again. The checkout is never modified."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ledger.scaffold import copy_project

BIN = Path(sys.executable).parent
RUN_ADD = ("--config", "data/eval/configs/iris.yaml", "--dataset", "data/eval/datasets/iris.jsonl")


def _step(cwd: Path, env: dict, *cmd: str, ok=(0,)) -> subprocess.CompletedProcess:
    print(f"\n$ {shlex.join(cmd)}", flush=True)
    proc = subprocess.run(cmd, cwd=cwd, env=env, text=True, capture_output=True)
    out = (proc.stdout + proc.stderr).rstrip()
    if out:
        print(out, flush=True)
    if proc.returncode not in ok:
        sys.exit(f"demo failed at: {shlex.join(cmd)} (exit {proc.returncode})")
    return proc


def main() -> None:
    scratch = Path(os.environ.get("LEDGER_DEMO_DIR") or tempfile.mkdtemp(prefix="ledger-demo-"))
    repo = scratch / "repo"
    if repo.exists():
        shutil.rmtree(repo)
    copy_project(repo)
    home = scratch / "home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "DVC_"))}
    env.update(HOME=str(home), GIT_CONFIG_NOSYSTEM="1", PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
               DVC_NO_ANALYTICS="1", DVC_SITE_CACHE_DIR=str(scratch / "dvc-site"))
    key = scratch / "demo-signing-key"
    if not key.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "demo", "-f", str(key)], check=True)

    print(f"ledger demo in {repo} (activate with: export PATH={BIN}:$PATH)")
    run = lambda *cmd, ok=(0,): _step(repo, env, *cmd, ok=ok)  # noqa: E731
    run("git", "init", "-q", "-b", "main")
    for k, v in {"user.name": "Demo Promoter", "user.email": "demo@ledger.example", "gpg.format": "ssh",
                 "user.signingkey": str(key)}.items():
        run("git", "config", k, v)
    run("ledger", "init", "--samples")  # seeds .ledger/allowed_signers with the key configured above
    run("dvc", "config", "core.autostage", "true")  # DVC stages what it writes (no "to track the changes" hints)
    run("git", "add", "-A")
    run("git", "commit", "-q", "-m", "ledger init: the example project")
    run("dvc", "repro")  # prepare the cases, train the model (C=1.0), the two example news runs
    run("ledger", "run", "add", "iris-v1", *RUN_ADD)
    run("git", "add", "-A")
    run("git", "commit", "-q", "-m", "evaluate the classifier")
    run("dvc", "repro")
    run("git", "add", "-A")
    run("git", "commit", "-q", "-m", "runs: iris-v1")
    run("ledger", "gate", "iris-v1", "--tier", "first_sft")  # absolute thresholds: no baseline yet
    run("ledger", "promote", "iris-v1", "--as", "baseline", "--id", "iris-v1",
        "--reason", "first trained classifier")
    run("git", "log", "--stat", "-1", "--format=%h %s%n%n%b")

    print("\n# a second model version: params.yaml train.C 1.0 -> 0.05 (stronger regularisation)")
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("\n  C: 1.0\n", "\n  C: 0.05\n", 1))
    run("ledger", "run", "add", "iris-v2", *RUN_ADD)
    run("git", "add", "-A")
    run("git", "commit", "-q", "-m", "train with C=0.05; evaluate it")
    run("dvc", "repro")  # retrains, evaluates iris-v2 with the new model file
    run("git", "add", "-A")
    run("git", "commit", "-q", "-m", "runs: iris-v2")
    gate = run("ledger", "gate", "iris-v2", "--baseline", "iris-v1", "--tier", "first_sft", ok=(0, 1))
    print(f"(gate exit {gate.returncode}: {'PASS' if gate.returncode == 0 else 'FAIL: not promotable'})")
    run("ledger", "compare", "iris-v1", "iris-v2")
    run("ledger", "reproduce", "iris-v1")
    run("ledger", "verify")

    print("\n# tampering: someone edits the promoted metrics in the working tree")
    metrics = repo / "data/eval/baselines/iris-v1/metrics.json"
    metrics.write_text(metrics.read_text().replace('"accuracy": 1.0', '"accuracy": 0.99'))
    run("ledger", "verify", ok=(1,))
    run("git", "checkout", "--", "data/eval/baselines/iris-v1/metrics.json")
    run("ledger", "verify")
    run("ledger", "show", "iris-v1")
    print(f"\ndemo OK: scratch repository left at {repo}")


if __name__ == "__main__":
    main()
