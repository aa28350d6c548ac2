"""Concurrent `ledger promote` processes in one repository are serialized by the lock in
txn.locked: they really overlap (LEDGER_SLOW_AT holds the first one inside its transaction),
the second waits, and the repository never sees two transactions interleaved."""

from __future__ import annotations

import subprocess
import time

from conftest import BIN

A = ["promote", "lead1-news", "--as", "baseline", "--id", "news-lead1", "--reason", "first"]
B = ["promote", "lead2-news", "--as", "baseline", "--id", "news-lead2", "--reason", "second"]
JOURNAL = ".git/ledger/txn/journal.json"


def start(box, *args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([str(BIN / "ledger"), *args], cwd=box.root, env={**box.env, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def hold(box, step: str = "committed", seconds: float = 4) -> subprocess.Popen:
    """Starts promotion A and returns once it is inside its transaction (journal written,
    lock held), where it then sleeps `seconds` at `step`."""
    proc = start(box, *A, env={"LEDGER_SLOW_AT": f"{step}:{seconds}"})
    deadline = time.monotonic() + 60
    while not (box.root / JOURNAL).is_file():
        assert proc.poll() is None, f"promotion A ended early: {proc.communicate()}"
        assert time.monotonic() < deadline, "promotion A never began its transaction"
        time.sleep(0.02)
    return proc


def finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def promotion_tags(box) -> list[str]:
    return box.git("tag", "-l", "promote/*").split()


def test_two_promotions_of_different_runs_are_serialized(repo):
    before = repo.git("rev-parse", "HEAD")
    a = hold(repo, "committed", 4)
    b = start(repo, *B)
    time.sleep(1.5)
    # B is blocked on the lock while A sits between its commit and its tag.
    assert b.poll() is None, "the second promotion did not wait for the lock"
    assert a.poll() is None
    assert promotion_tags(repo) == []
    assert repo.git("log", "-1", "--format=%s") == "promote: lead1-news -> baseline/news-lead1"

    rc_a, _, err_a = finish(a)
    rc_b, _, err_b = finish(b)
    assert (rc_a, rc_b) == (0, 0), (err_a, err_b)
    assert promotion_tags(repo) == ["promote/baseline/news-lead1", "promote/baseline/news-lead2"]
    subjects = repo.git("log", "--format=%s", f"{before}..HEAD").splitlines()
    assert subjects == ["promote: lead2-news -> baseline/news-lead2", "promote: lead1-news -> baseline/news-lead1"]
    # Each tag points at its own commit, one commit per promotion, linear history.
    assert repo.git("rev-parse", "promote/baseline/news-lead2^{commit}") == repo.git("rev-parse", "HEAD")
    assert repo.git("rev-parse", "promote/baseline/news-lead1^{commit}") == repo.git("rev-parse", "HEAD~1")
    assert repo.git("rev-parse", "HEAD~2") == before
    # B's commit holds only B's promotion (it did not sweep up A's files).
    changed = repo.git("show", "--name-only", "--format=", "HEAD").split()
    assert not any("news-lead1" in p for p in changed) and any("news-lead2" in p for p in changed), changed
    assert repo.git("status", "--porcelain") == ""
    assert not (repo.root / ".git/ledger/txn").exists()
    verify = repo.ledger("verify")
    assert verify.returncode == 0 and "2 promoted dir(s) checked: all OK" in verify.stdout, verify.stdout + verify.stderr
    assert not (repo.root / "data/eval/pipelines/lead1-news").exists()
    assert not (repo.root / "data/eval/pipelines/lead2-news").exists()


def test_same_id_concurrently_exactly_one_wins(repo):
    rival = [*B[:5], "news-lead1", "--reason", "rival"]  # lead2-news, but A's id
    a = hold(repo, "metadata_written", 3)
    b = start(repo, *rival)
    time.sleep(1)
    assert b.poll() is None, "the rival promotion did not wait for the lock"
    rc_a, _, err_a = finish(a)
    rc_b, _, err_b = finish(b)
    assert rc_a == 0, err_a
    assert rc_b == 2
    err = err_b.strip()
    assert err.startswith("error: ") and "\n" not in err, err_b
    assert "news-lead1" in err and ("immutable" in err or "already promoted" in err), err
    # No half state: A's promotion only, B's run untouched and still promotable elsewhere.
    assert promotion_tags(repo) == ["promote/baseline/news-lead1"]
    assert repo.git("log", "-1", "--format=%s") == "promote: lead1-news -> baseline/news-lead1"
    assert repo.git("status", "--porcelain") == ""
    assert (repo.root / "data/eval/runs/lead2-news/predictions.jsonl").is_file()
    assert (repo.root / "data/eval/pipelines/lead2-news/params.yaml").is_file()
    assert not (repo.root / ".git/ledger/txn").exists()
    assert repo.ledger("verify").returncode == 0
    assert repo.ledger(*B).returncode == 0


def test_verify_waits_instead_of_rolling_back_a_live_promotion(repo):
    """`ledger verify` reports interrupted promotions: it must not mistake a running one
    (its journal is on disk) for a crashed one. The lock (shared, read-only) makes it wait."""
    a = hold(repo, "outputs_moved", 3)
    v = start(repo, "verify")
    time.sleep(1)
    assert v.poll() is None, "verify did not wait for the promotion's lock"
    rc_a, _, err_a = finish(a)
    rc_v, out_v, err_v = finish(v)
    assert rc_a == 0, err_a
    assert rc_v == 0 and "rolled back" not in out_v, out_v + err_v
    assert promotion_tags(repo) == ["promote/baseline/news-lead1"]
    assert repo.git("status", "--porcelain") == ""


def test_lock_is_released_by_the_kernel_when_the_holder_is_killed(repo):
    """A promotion killed while another waits on the lock: the waiter gets the lock, recovers
    the dead one's journal (rolls it back) and promotes its own run."""
    a = start(repo, *A, env={"LEDGER_SLOW_AT": "run_removed:2", "LEDGER_FAULT_AT": "run_removed:kill"})
    deadline = time.monotonic() + 60
    while not (repo.root / JOURNAL).is_file() and time.monotonic() < deadline:
        time.sleep(0.02)
    b = start(repo, *B)
    rc_a, _, _ = finish(a)
    rc_b, _, err_b = finish(b)
    assert rc_a == 137
    assert rc_b == 0, err_b
    assert promotion_tags(repo) == ["promote/baseline/news-lead2"]
    assert (repo.root / "data/eval/runs/lead1-news/predictions.jsonl").is_file()  # A's run is back
    assert (repo.root / "data/eval/pipelines/lead1-news/params.yaml").is_file()
    assert not (repo.root / "data/eval/baselines/news-lead1").exists()
    assert repo.git("status", "--porcelain") == ""
    assert repo.ledger("verify").returncode == 0


def test_a_reader_and_a_promotion_give_up_after_the_lock_timeout(repo):
    """LEDGER_LOCK_TIMEOUT bounds the wait for a live promotion: verify (shared lock) and a
    second promote (exclusive) each refuse in one line, and promotion A is unharmed."""
    a = hold(repo, "committed", 8)
    for args in (("verify",), tuple(B)):
        t = time.monotonic()
        proc = repo.ledger(*args, env={"LEDGER_LOCK_TIMEOUT": "0.5"})
        took = time.monotonic() - t
        err = proc.stderr.strip()
        assert proc.returncode == 2 and err.startswith("error: ") and "\n" not in err, (args, proc.stdout, err)
        assert "promotion holds" in err and "waited 0.5s; LEDGER_LOCK_TIMEOUT sets how long" in err, err
        assert took < 6, (args, took)  # gave up long before A let go
    rc_a, _, err_a = finish(a)
    assert rc_a == 0, err_a
    assert promotion_tags(repo) == ["promote/baseline/news-lead1"]


def test_a_bad_lock_timeout_is_bad_input(repo):
    for value in ("soon", "-1", "nan", "inf"):
        proc = repo.ledger("verify", env={"LEDGER_LOCK_TIMEOUT": value})
        assert proc.returncode == 2 and proc.stdout == "", (value, proc.stdout)
        assert proc.stderr.strip() == f"error: LEDGER_LOCK_TIMEOUT must be a number of seconds (0 or more), not {value!r}"
