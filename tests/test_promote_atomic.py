"""A promotion is one transaction: a failure at any step (injected or real, raised or a
hard kill) leaves the repository exactly as it was, and the same promotion then succeeds."""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

STEPS = ["validated", "run_moved_aside", "outputs_moved", "metadata_written", "run_removed", "committed",
         "promotion_tagged", "tagged"]
ARGS = ["promote", "lead1-news", "--as", "baseline", "--id", "news-lead1", "--reason", "atomic"]
TAG = "promote/baseline/news-lead1"


def full_state(box) -> dict:
    """Sandbox.snapshot() plus the DVC cache (objects and their link counts: a stray hardlink
    left in the workspace would show up as a higher st_nlink) and ledger's journal."""
    cache = box.root / ".dvc/cache"
    objects = {p.relative_to(cache).as_posix(): p.stat().st_nlink for p in sorted(cache.rglob("*")) if p.is_file()}
    journal = box.root / ".git/ledger/txn"
    return {**box.snapshot(), "cache": objects, "journal": journal.exists()}


def one_line(proc) -> str:
    err = proc.stderr.strip()
    assert err.startswith("error: ") and "\n" not in err, f"not one error line:\n{proc.stderr}"
    return err


def assert_promoted(box) -> None:
    assert box.git("log", "-1", "--format=%s") == "promote: lead1-news -> baseline/news-lead1"
    assert box.git("cat-file", "-t", TAG) == "tag"
    assert box.git("cat-file", "-t", "news-lead1#baseline#1") == "tag"  # and its GTO tag
    assert box.git("status", "--porcelain") == ""
    assert not (box.root / ".git/ledger/txn").exists()
    verify = box.ledger("verify")
    assert verify.returncode == 0 and "all OK" in verify.stdout, verify.stdout + verify.stderr


def test_checkpoints_match_the_promotion_steps():
    """The steps this file injects faults at are the ones promote.py journals, in order."""
    source = (Path(__file__).resolve().parents[1] / "ledger/promote.py").read_text()
    assert re.findall(r'journal\.step\("([a-z_]+)"\)', source) == STEPS


def test_injected_fault_at_every_step_rolls_back_exactly(repo):
    before = full_state(repo)
    for step in STEPS:
        proc = repo.ledger(*ARGS, env={"LEDGER_FAULT_AT": step})
        assert proc.returncode != 0, f"fault at {step} did not fail the promotion"
        err = one_line(proc)
        assert f"injected fault at step '{step}'" in err, err
        assert full_state(repo) == before, f"repository differs after a fault at {step}"
    proc = repo.ledger(*ARGS)
    assert proc.returncode == 0, proc.stderr
    assert_promoted(repo)


@pytest.mark.parametrize("step", STEPS)
def test_killed_promotion_is_recovered_by_the_next_command(repo, step):
    before = full_state(repo)
    proc = repo.ledger(*ARGS, env={"LEDGER_FAULT_AT": f"{step}:kill"})
    assert proc.returncode == 137
    assert (repo.root / ".git/ledger/txn/journal.json").is_file()
    # A read-only command reports it and changes nothing; `ledger recover` finishes or undoes it.
    debris = full_state(repo)
    verify = repo.ledger("verify")
    assert verify.returncode == 1 and "interrupted promotion of 'lead1-news' is pending" in verify.stdout
    assert full_state(repo) == debris
    verify = repo.ledger("recover")
    if step == "tagged":  # the tag exists: the promotion is complete, recovery only tidies up
        assert "interrupted promotion of 'lead1-news' completed" in verify.stdout, verify.stdout
        assert_promoted(repo)
        return
    assert "interrupted promotion of 'lead1-news' rolled back" in verify.stdout, verify.stdout
    assert full_state(repo) == before, f"repository differs after recovering a kill at {step}"
    assert repo.ledger(*ARGS).returncode == 0
    assert_promoted(repo)


def test_next_promotion_recovers_a_killed_one_first(repo):
    before = full_state(repo)
    assert repo.ledger(*ARGS, env={"LEDGER_FAULT_AT": "committed:kill"}).returncode == 137
    assert repo.git("log", "-1", "--format=%s").startswith("promote:")  # half done: commit, no tag
    proc = repo.ledger(*ARGS)
    assert proc.returncode == 0, proc.stderr
    assert_promoted(repo)
    assert repo.git("rev-list", "--count", f"{before['head']}..HEAD") == "1"


def test_real_signing_failure_at_tag_time_rolls_back(repo):
    """The public half is alice's (granted: promote's pre-checks pass), the private key file is
    garbage: signing itself fails, at the tag step, after the commit."""
    bogus = repo.root.parent / "not-a-key"
    bogus.write_text("this is not an ssh key\n")
    (repo.root.parent / "not-a-key.pub").write_text((repo.root.parent / "alice.key.pub").read_text())
    repo.git("config", "user.signingkey", str(bogus))
    before = full_state(repo)
    proc = repo.ledger(*ARGS)
    assert proc.returncode == 2
    err = one_line(proc)
    # git 2.39 exits 0 here and writes an UNSIGNED tag: ledger must notice, not record "signed".
    assert f"could not sign tag {TAG}" in err and "No private key found" in err, err
    assert full_state(repo) == before
    assert repo.git("tag", "-l", "promote/*") == ""

    repo.git("config", "user.signingkey", str(repo.root.parent / "alice.key"))
    assert repo.ledger(*ARGS).returncode == 0
    assert_promoted(repo)


def test_promotion_with_a_locked_repository_waits_then_proceeds(repo):
    """The flock is released by the kernel when its holder dies: a killed promotion never
    blocks the next one (covered above); a live holder makes the next one wait."""

    lock = repo.root / ".git/ledger/promote.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        child = subprocess.Popen([str(Path(sys.executable).parent / "ledger"), *ARGS], cwd=repo.root,
                                 env=repo.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)
        assert child.poll() is None, "promotion did not wait for the lock"
        assert repo.git("tag", "-l", "promote/*") == ""
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    assert_promoted(repo)


def test_unrelated_work_in_progress_survives_a_failure_and_stays_out_of_the_commit(repo):
    config = repo.root / "data/eval/configs/lead2.yaml"
    config.write_text(config.read_text() + "# work in progress\n")  # unstaged edit
    (repo.root / "scratch.txt").write_text("untracked\n")
    before = full_state(repo)
    assert before["status"]  # the work in progress is there
    for step in ("outputs_moved", "committed", "tagged"):
        assert repo.ledger(*ARGS, env={"LEDGER_FAULT_AT": step}).returncode != 0
        assert full_state(repo) == before, step
    assert repo.ledger(*ARGS).returncode == 0
    changed = set(repo.git("show", "--name-only", "--format=", "HEAD").split())
    assert changed and all(p.startswith(("data/eval/baselines/news-lead1/", "data/eval/pipelines/lead1-news/")) or p in
                           ("dvc.lock", "data/eval/runs/.gitignore", "dvc.yaml", ".dvcignore") for p in changed), changed
    status = repo.sh("git", "status", "--porcelain").stdout.splitlines()
    assert sorted(status) == [" M data/eval/configs/lead2.yaml", "?? scratch.txt"]


def test_kill_between_commit_and_journal_write_is_still_rolled_back(repo):
    """A crash after `git commit` returned but before the journal recorded the new HEAD:
    simulated by killing at the next checkpoint and removing `new_head` from the journal."""
    before = full_state(repo)
    assert repo.ledger(*ARGS, env={"LEDGER_FAULT_AT": "committed:kill"}).returncode == 137
    journal = repo.root / ".git/ledger/txn/journal.json"
    data = json.loads(journal.read_text())
    del data["new_head"]
    data["steps"].remove("committed")
    journal.write_text(json.dumps(data))
    verify = repo.ledger("recover")
    assert "rolled back" in verify.stdout, verify.stdout + verify.stderr
    assert full_state(repo) == before


def test_recovery_refuses_when_the_repository_moved_on(repo):
    """Killed at the tag step, then the user keeps working and commits: a journal of that
    promotion must never reset their branch, delete the tag or overwrite their files."""
    assert repo.ledger(*ARGS, env={"LEDGER_FAULT_AT": "tagged:kill"}).returncode == 137
    (repo.root / "notes.txt").write_text("the user's next commit\n")
    params = repo.root / "params.yaml"
    params.write_text(params.read_text() + "# tuned\n")
    repo.commit_all("user work after the interrupted promotion")
    moved_on = full_state(repo)
    for cmd in (("recover",), ARGS):
        proc = repo.ledger(*cmd)
        assert proc.returncode == 2 and "HEAD has moved on" in one_line(proc), proc.stderr
        assert full_state(repo) == moved_on
    verify = repo.ledger("verify")  # read-only: reports, changes nothing
    assert verify.returncode == 1 and "is pending" in verify.stdout and full_state(repo) == moved_on
    done = repo.ledger("recover", "--discard")
    assert done.returncode == 0 and "journal discarded" in done.stdout
    assert not (repo.root / ".git/ledger/txn").exists()
    assert {k: v for k, v in full_state(repo).items() if k != "journal"} == \
        {k: v for k, v in moved_on.items() if k != "journal"}
    assert repo.ledger("verify").returncode == 0  # the promotion was complete: it verifies


def test_read_only_commands_write_nothing_in_git_dir(promoted):
    """verify, list, log and show create, change and remove nothing in .git (so they work on a
    read-only one): every path, its bytes and mtime are the same afterwards. (Permission bits
    cannot simulate a read-only .git here: the tests run as root.)"""
    import shutil

    shutil.rmtree(promoted.root / ".git/ledger")  # as in a fresh clone: no lock file, no journal dir
    git_dir = promoted.root / ".git"

    def state():
        return {p.relative_to(git_dir).as_posix(): (p.is_dir() or p.read_bytes(), p.stat().st_mtime_ns)
                for p in sorted(git_dir.rglob("*"))}

    before = state()
    for cmd in (("verify",), ("list",), ("log",), ("show", "b1"), ("verify", "--json")):
        proc = promoted.ledger(*cmd)
        assert proc.returncode == 0, (cmd, proc.stderr)
    assert state() == before
