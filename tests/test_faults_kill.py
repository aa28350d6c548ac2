"""A hard kill (LEDGER_FAULT_AT=<step>:kill, os._exit(137)) at every step of a promotion,
recovered by the NEXT ledger command being a promotion (test_promote_atomic.py covers
recovery by `ledger recover`; `ledger verify` only reports it): the repository ends exactly as before, or fully promoted,
never half. With --push, recovery asks origin whether the promotion reached it."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import Sandbox

STEPS = ["validated", "run_moved_aside", "outputs_moved", "metadata_written", "run_removed", "committed",
         "promotion_tagged", "tagged"]
PUSH_STEPS = ["dvc_pushed", "git_pushed"]
ARGS = ["promote", "lead1-news", "--as", "baseline", "--id", "news-lead1", "--reason", "kill test"]
TAG = "promote/baseline/news-lead1"
DEST = "data/eval/baselines/news-lead1"
# Fields that differ between two promotions of the same run (time of promotion).
VOLATILE = (f"{DEST}/baseline.json", f"{DEST}/README.md")


def full_state(box) -> dict:
    """snapshot() + DVC cache objects with link counts + whether a journal is left."""
    cache = box.root / ".dvc/cache"
    objects = {p.relative_to(cache).as_posix(): p.stat().st_nlink for p in sorted(cache.rglob("*")) if p.is_file()}
    return {**box.snapshot(), "cache": objects, "journal": (box.root / ".git/ledger/txn").exists()}


def one_line(proc) -> str:
    err = proc.stderr.strip()
    assert err.startswith("error: ") and "\n" not in err, f"not one error line:\n{proc.stderr}"
    return err


def tree(box, rev: str = "HEAD") -> dict[str, str]:
    lines = box.git("ls-tree", "-r", rev).splitlines()
    return {line.split("\t", 1)[1]: line.split()[2] for line in lines}


def assert_fully_promoted(box, base: str) -> None:
    assert box.git("rev-list", "--count", f"{base}..HEAD") == "1"
    assert box.git("log", "-1", "--format=%s") == "promote: lead1-news -> baseline/news-lead1"
    assert box.git("cat-file", "-t", TAG) == "tag"
    assert box.git("rev-parse", f"{TAG}^{{commit}}") == box.git("rev-parse", "HEAD")
    assert box.git("status", "--porcelain") == ""
    assert not (box.root / ".git/ledger/txn").exists(), "journal/backup left behind"
    assert (box.root / DEST / "predictions.jsonl").is_file()
    assert not (box.root / "data/eval/runs/lead1-news").exists()
    verify = box.ledger("verify")
    assert verify.returncode == 0 and "all OK" in verify.stdout, verify.stdout + verify.stderr


@pytest.fixture(scope="module")
def reference_tree(tmp_path_factory, template, session_env):
    """The commit an uninterrupted promotion makes, for comparison (paths -> blob ids)."""
    dst = tmp_path_factory.mktemp("ref") / "repo"
    shutil.copytree(template.root, dst, symlinks=True)
    for key in template.root.parent.glob("*.key*"):
        shutil.copy2(key, dst.parent / key.name)
    box = Sandbox(dst, session_env)
    box.git("config", "user.signingkey", str(dst.parent / "alice.key"))
    assert box.ledger(*ARGS).returncode == 0
    return {p: b for p, b in tree(box).items() if p not in VOLATILE}


def test_every_promotion_step_is_a_kill_point():
    """The kill points here are exactly the journal steps in promote.py and remote.py."""
    root = Path(__file__).resolve().parents[1] / "ledger"
    found = re.findall(r'journal\.step\("([a-z_]+)"\)', (root / "promote.py").read_text())
    if (root / "remote.py").is_file():
        found += re.findall(r'journal\.step\("([a-z_]+)"\)', (root / "remote.py").read_text())
    assert found == STEPS + PUSH_STEPS


@pytest.mark.parametrize("step", STEPS)
def test_kill_then_a_refused_promotion_recovers_exactly(repo, step):
    """The next `ledger promote` recovers before validating: even one that is then refused
    (bad id) leaves the repository exactly as before the killed promotion, or (after the
    tag) fully promoted."""
    before = full_state(repo)
    killed = repo.ledger(*ARGS, env={"LEDGER_FAULT_AT": f"{step}:kill"})
    assert killed.returncode == 137
    assert (repo.root / ".git/ledger/txn/journal.json").is_file()
    if step in ("committed", "promotion_tagged", "tagged"):
        assert repo.git("rev-parse", "HEAD") != before["head"]  # debris: a commit with no recovery yet

    refused = repo.ledger("promote", "lead2-news", "--as", "baseline", "--id", "../escape", "--reason", "x")
    assert refused.returncode == 2
    assert "invalid promoted id" in one_line(refused)
    if step == "tagged":
        assert_fully_promoted(repo, before["head"])
    else:
        assert full_state(repo) == before, f"repository differs after recovering a kill at {step}"


@pytest.mark.parametrize("step", STEPS)
def test_kill_then_promote_again_gives_one_clean_promotion(repo, reference_tree, step):
    base = repo.git("rev-parse", "HEAD")
    assert repo.ledger(*ARGS, env={"LEDGER_FAULT_AT": f"{step}:kill"}).returncode == 137
    again = repo.ledger(*ARGS)
    if step == "tagged":  # it was complete: recovery finishes it, the retry is refused (one line)
        assert again.returncode == 2
        assert re.search(r"unknown run 'lead1-news'|already", one_line(again)), again.stderr
    else:
        assert again.returncode == 0, again.stderr
    assert_fully_promoted(repo, base)
    # Same commit content as a promotion that was never interrupted (timestamps aside).
    assert {p: b for p, b in tree(repo).items() if p not in VOLATILE} == reference_tree
    record = json.loads(repo.git("cat-file", "tag", TAG).split("\n\n", 1)[1].split("-----BEGIN")[0])
    assert record["run_id"] == "lead1-news" and record["promoted_id"] == "news-lead1"


@pytest.mark.parametrize("gone", [TAG, "news-lead1#baseline#1"], ids=["promotion-tag", "gto-tag"])
def test_a_kill_after_tagging_with_one_tag_deleted_since_is_rolled_back(repo, gone):
    """Complete means both tags exist: a journal that reached `tagged` whose promotion tag or GTO
    tag was deleted before recovery is undone, the other tag with it, never finished half-tagged."""
    before = full_state(repo)
    assert repo.ledger(*ARGS, env={"LEDGER_FAULT_AT": "tagged:kill"}).returncode == 137
    repo.git("tag", "-d", gone)
    refused = repo.ledger("promote", "lead2-news", "--as", "baseline", "--id", "../escape", "--reason", "x")
    assert "invalid promoted id" in one_line(refused)
    assert full_state(repo) == before, f"not rolled back with {gone} deleted"
    assert repo.git("tag", "-l", TAG, "news-lead1#*") == ""


# ---- --push: a kill after the local tag, before/after the push ------------------------------


@pytest.fixture
def pushable(repo, tmp_path):
    """`repo` with a bare `origin` (main pushed) and a local-directory default DVC remote."""
    origin = tmp_path / "origin.git"
    repo.sh("git", "init", "-q", "--bare", "-b", "main", str(origin))
    repo.git("remote", "add", "origin", str(origin))
    repo.git("push", "-q", "origin", "main")
    repo.dvc("remote", "add", "--local", "-f", "-d", "killstore", str(tmp_path / "dvc-store"))
    repo.origin = origin
    return repo


def origin_refs(box) -> str:
    return box.sh("git", "--git-dir", str(box.origin), "for-each-ref").stdout


@pytest.mark.parametrize("step", ["tagged", "dvc_pushed"])
def test_push_killed_before_origin_has_it_is_rolled_back(pushable, step):
    before, remote_before = full_state(pushable), origin_refs(pushable)
    assert pushable.ledger(*ARGS, "--push", env={"LEDGER_FAULT_AT": f"{step}:kill"}).returncode == 137
    assert pushable.git("tag", "-l", TAG) == TAG  # debris: a local tag nobody has
    verify = pushable.ledger("recover")
    assert "rolled back (it had not reached the remote)" in verify.stdout, verify.stdout + verify.stderr
    assert full_state(pushable) == before
    assert origin_refs(pushable) == remote_before
    again = pushable.ledger(*ARGS, "--push")
    assert again.returncode == 0, again.stderr
    assert_fully_promoted(pushable, before["head"])
    assert f"refs/tags/{TAG}" in origin_refs(pushable)


def test_push_killed_after_origin_accepted_it_is_completed(pushable):
    base = pushable.git("rev-parse", "HEAD")
    assert pushable.ledger(*ARGS, "--push", env={"LEDGER_FAULT_AT": "git_pushed:kill"}).returncode == 137
    refused = pushable.ledger("promote", "lead2-news", "--as", "baseline", "--id", "a/b", "--reason", "x")
    assert refused.returncode == 2 and "invalid promoted id" in one_line(refused)
    assert_fully_promoted(pushable, base)
    remote = origin_refs(pushable)
    assert f"{pushable.git('rev-parse', TAG)} tag\trefs/tags/{TAG}" in remote
    assert f"{pushable.git('rev-parse', 'HEAD')} commit\trefs/heads/main" in remote


def test_push_landed_but_unrecorded_is_completed_not_rolled_back(pushable):
    """Killed after `git push` returned, before the journal recorded it: recovery must ask
    origin (ls-remote) and keep the promotion, or local and origin would disagree."""
    base = pushable.git("rev-parse", "HEAD")
    assert pushable.ledger(*ARGS, "--push", env={"LEDGER_FAULT_AT": "git_pushed:kill"}).returncode == 137
    journal = pushable.root / ".git/ledger/txn/journal.json"
    data = json.loads(journal.read_text())
    data["steps"].remove("git_pushed")
    journal.write_text(json.dumps(data))
    verify = pushable.ledger("recover")
    assert "completed" in verify.stdout, verify.stdout + verify.stderr
    assert_fully_promoted(pushable, base)
    assert f"refs/tags/{TAG}" in origin_refs(pushable)
