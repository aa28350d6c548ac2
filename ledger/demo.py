"""`make demo`: set-up + the main job end to end, in a scratch repository.

Copies this checkout's project files into a scratch dir, makes it a fresh git + DVC repo
with the sample datasets, a throwaway ssh signing key (allowed in .ledger/allowed_signers),
then: `dvc repro` materializes the two runs declared in params.yaml, one is promoted to a
baseline with a signed tag, the other is gated against it, and `ledger verify` passes.
The checkout itself is never modified."""

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
    email = "demo@ledger.example"

    print(f"ledger demo in {repo}")
    run = lambda *cmd, ok=(0,): _step(repo, env, *cmd, ok=ok)  # noqa: E731
    run("git", "init", "-q", "-b", "main")
    for k, v in {"user.name": "Demo Promoter", "user.email": email, "gpg.format": "ssh",
                 "user.signingkey": str(key)}.items():
        run("git", "config", k, v)
    run("ledger", "init", "--samples")
    (repo / ".ledger" / "allowed_signers").write_text(
        f'{email} namespaces="git" {key.with_suffix(".pub").read_text().strip()}\n')
    run("git", "add", "-A")
    run("git", "commit", "-q", "-m", "ledger: sample datasets, configs and the allowed signer")

    run("dvc", "repro")
    run("git", "add", "-A")
    run("git", "commit", "-q", "-m", "runs: materialize lead1-news and lead2-news")
    run("ledger", "list", "--all")
    run("ledger", "promote", "lead1-news", "--as", "baseline", "--id", "news-lead1",
        "--reason", "first extractive baseline for the news summaries suite")
    run("git", "log", "--stat", "-1", "--format=%h %s%n%n%b")
    run("git", "-c", f"gpg.ssh.allowedSignersFile={repo / '.ledger/allowed_signers'}",
        "verify-tag", "promote/baseline/news-lead1")
    gate = run("ledger", "gate", "lead2-news", "--baseline", "news-lead1", "--tier", "base", ok=(0, 1))
    print(f"(gate exit {gate.returncode}: {'PASS' if gate.returncode == 0 else 'FAIL'} — either is a valid outcome)")
    run("ledger", "verify")
    run("ledger", "show", "news-lead1")
    print(f"\ndemo OK: scratch repository left at {repo}")


if __name__ == "__main__":
    main()
