"""Recovery touches only the state its journal describes (txn.Journal): a commit is taken for
the promotion's own only when it is directly on the journaled HEAD, carries the promotion's
message, and the journal says the run was already removed; and a promotion is completed only
while HEAD is its commit. Commit ids are compared for equality, never order: each case runs
with the promotion commit's id sorting below and above the journaled HEAD's."""

from __future__ import annotations

import json
import os

import pytest

from test_promote_atomic import ARGS, TAG, full_state, one_line

JOURNAL = ".git/ledger/txn/journal.json"


@pytest.fixture(autouse=True)
def middle_start(request):
    """Each test starts from a HEAD in the middle of the id space (empty commits until it is):
    killed() then finds a promotion commit sorting either way within 40 attempts."""
    if "repo" not in request.fixturenames:
        return
    repo = request.getfixturevalue("repo")
    for n in range(200):
        if "4" <= repo.git("rev-parse", "HEAD")[0] <= "b":
            break
        repo.git("commit", "-q", "--allow-empty", "-m", f"a starting point {n}")


def killed(repo, step: str, order: str, unrecorded: bool = False) -> tuple[str, str]:
    """A promotion killed at `step` whose commit id sorts `order` ("below"/"above") the HEAD
    it started from (the reason varies the commit until it does; misses are rolled back).
    With `unrecorded`, the journal lost the commit id, as after a crash inside `git commit`.
    Returns (journaled HEAD, promotion commit)."""
    old = repo.git("rev-parse", "HEAD")
    for attempt in range(40):
        args = ARGS[:-1] + [f"attempt {attempt}"]
        assert repo.ledger(*args, env={"LEDGER_FAULT_AT": f"{step}:kill"}).returncode == 137
        new = repo.git("rev-parse", "HEAD")
        if new != old and (new < old) == (order == "below"):
            if unrecorded:
                journal = repo.root / JOURNAL
                data = json.loads(journal.read_text())
                del data["new_head"]
                data["steps"] = [s for s in data["steps"] if s not in ("committed", "tagged")]
                journal.write_text(json.dumps(data))
            return old, new
        journal = repo.root / JOURNAL  # a miss: undone (a journal without "tagged" is rolled back)
        data = json.loads(journal.read_text())
        data["steps"] = [s for s in data["steps"] if s != "tagged"]
        journal.write_text(json.dumps(data))
        assert "rolled back" in repo.ledger("recover").stdout
    raise AssertionError("no commit id sorting that way in 40 attempts")


@pytest.mark.parametrize("order", ["below", "above"])
def test_an_unrecorded_promotion_commit_is_recognised_and_rolled_back(repo, order):
    before = full_state(repo)
    killed(repo, "committed", order, unrecorded=True)
    proc = repo.ledger("recover")
    assert proc.returncode == 0 and "rolled back" in proc.stdout, proc.stdout + proc.stderr
    assert full_state(repo) == before


@pytest.mark.parametrize("order", ["below", "above"])
def test_a_user_commit_on_top_of_an_unrecorded_promotion_is_not_taken_for_it(repo, order):
    """Same message as the promotion's, but its parent is the promotion commit, not the
    journaled HEAD: the user's work, so recovery refuses and changes nothing."""
    old, ours = killed(repo, "committed", order, unrecorded=True)
    (repo.root / "notes.txt").write_text("the user's work\n")
    repo.git("add", "notes.txt")
    repo.git("commit", "-q", "-m", repo.git("log", "-1", "--format=%B", ours))
    head = repo.git("rev-parse", "HEAD")
    moved_on = full_state(repo)
    proc = repo.ledger("recover")
    assert proc.returncode == 2 and f"journaled at {old[:12]}, but HEAD has moved on to {head[:12]}: " \
        in one_line(proc), proc.stderr
    assert full_state(repo) == moved_on


def test_a_look_alike_commit_before_the_run_was_removed_is_the_users(repo):
    """Killed before the run was removed (so no promotion commit can exist), then the user
    commits directly on the journaled HEAD with the promotion's message: not ours, refused."""
    old = repo.git("rev-parse", "HEAD")
    assert repo.ledger(*ARGS, env={"LEDGER_FAULT_AT": "metadata_written:kill"}).returncode == 137
    repo.git("commit", "-q", "--allow-empty", "-m", "promote: lead1-news -> baseline/news-lead1")
    moved_on = full_state(repo)
    proc = repo.ledger("recover")
    assert proc.returncode == 2 and f"journaled at {old[:12]}, but HEAD" in one_line(proc), proc.stderr
    assert full_state(repo) == moved_on


@pytest.mark.parametrize("order", ["below", "above"])
def test_a_tagged_promotion_the_user_reset_away_is_rolled_back_not_completed(repo, order):
    """Killed after tagging; the user then moved the branch back to the journaled HEAD. The
    promotion is complete only while HEAD is its commit: here it is undone, tag included."""
    killed(repo, "tagged", order)
    repo.git("reset", "-q", "--keep", "HEAD~1")
    proc = repo.ledger("recover")
    assert proc.returncode == 0 and "rolled back" in proc.stdout, proc.stdout + proc.stderr
    assert repo.git("tag", "-l", TAG) == ""
    assert (repo.root / "data/eval/runs/lead1-news/metrics.json").is_file()
    assert not (repo.root / "data/eval/baselines/news-lead1").exists()


def test_the_promotion_lock_file_is_created_readable_by_all(repo):
    assert repo.ledger(*ARGS).returncode == 0
    mode = (repo.root / ".git/ledger/promote.lock").stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o644 & ~umask


@pytest.mark.parametrize("body", [b"not json", b"[]", b"\xff\xfe", b'{"run_id": "lead1-news"}'])
def test_a_garbled_journal_is_reported_as_pending_never_a_crash(repo, body):
    journal = repo.root / JOURNAL
    journal.parent.mkdir(parents=True, exist_ok=True)
    journal.write_bytes(body)
    proc = repo.ledger("verify")
    named = "'lead1-news'" if b"run_id" in body else "None"
    assert proc.returncode == 1 and f"FAIL  an interrupted promotion of {named} is pending" in proc.stdout, \
        proc.stdout + proc.stderr
    assert proc.stderr == ""
