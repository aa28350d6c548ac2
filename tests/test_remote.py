"""`ledger init` default DVC remote and `ledger promote --push`: a local-directory DVC remote,
a bare git repository as origin, fresh clones, and two clones racing for the same id."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from conftest import Sandbox

PRED = "predictions.jsonl"


def promote(box: Sandbox, run: str, pid: str, *extra: str, env: dict | None = None):
    return box.ledger("promote", run, "--as", "baseline", "--id", pid, "--reason", "best so far", *extra, env=env)


def pointer_md5(box: Sandbox, rel_dir: str) -> str:
    return yaml.safe_load((box.root / rel_dir / f"{PRED}.dvc").read_text())["outs"][0]["md5"]


def store_object(store: Path, md5: str) -> Path:
    return store / "files" / "md5" / md5[:2] / md5[2:]


def origin_ref(origin: Path, ref: str, box: Sandbox) -> str | None:
    proc = box.sh("git", "--git-dir", str(origin), "rev-parse", "--verify", "--quiet", ref, check=False)
    return proc.stdout.strip() or None


@pytest.fixture
def origin(repo: Sandbox) -> Path:
    return bare_origin(repo)


def bare_origin(repo: Sandbox) -> Path:
    """A bare repository as `origin` of `repo`, holding its main branch."""
    bare = repo.root.parent / "origin.git"
    repo.sh("git", "init", "-q", "--bare", "-b", "main", str(bare))
    repo.git("remote", "add", "origin", str(bare))
    repo.git("push", "-q", "origin", "main")
    return bare


def clone(src: Sandbox, origin: Path, name: str) -> Sandbox:
    """A fresh clone of origin next to `src`, with the same identity and signing key."""
    dst = src.root.parent / name
    src.sh("git", "clone", "-q", str(origin), str(dst))
    box = Sandbox(dst, src.base_env)
    for key in ("user.name", "user.email", "gpg.format", "user.signingkey"):
        box.git("config", key, src.git("config", key))
    return box


def second_clone(repo: Sandbox, origin: Path, name: str = "bob") -> Sandbox:
    """Another user's clone with the runs: the run outputs travel through the DVC remote."""
    repo.dvc("push", "-q")
    box = clone(repo, origin, name)
    box.dvc("pull", "-q")
    return box


def test_init_configures_a_sibling_directory_remote_shared_by_clones(project: Sandbox):
    conf = (project.root / ".dvc" / "config").read_text()
    assert "remote = store" in conf and "url = ../../repo.dvc-store" in conf
    assert project.dvc("remote", "default").stdout.strip() == "store"
    # idempotent: a second init keeps the remote and says nothing about it
    again = project.ledger("init", check=True).stdout
    assert "dvc remote" not in again and (project.root / ".dvc" / "config").read_text() == conf


def test_init_remote_option_sets_a_directory_or_url(project: Sandbox, tmp_path: Path):
    out = project.ledger("init", "--remote", "../elsewhere", check=True).stdout
    assert "dvc remote store (default)" in out
    listed = project.dvc("remote", "list").stdout
    assert str((tmp_path / "elsewhere").resolve()) in listed or "../../elsewhere" in listed
    assert "url = ../../elsewhere" in (project.root / ".dvc" / "config").read_text()
    project.ledger("init", "--remote", "s3://dvcbucket/ledger", check=True)
    assert "url = s3://dvcbucket/ledger" in (project.root / ".dvc" / "config").read_text()
    help_text = project.ledger("init", "--help", check=True).stdout
    assert "dvc-store" in help_text and "--remote" in help_text


def test_push_lands_objects_commit_and_tag_and_a_fresh_clone_verifies(repo: Sandbox, origin: Path):
    store = repo.root.parent / "repo.dvc-store"
    assert not store.exists()
    proc = promote(repo, "lead1-news", "b1", "--push")
    assert proc.returncode == 0, proc.stderr
    assert "pushed to origin/main and DVC remote store" in proc.stdout
    dest = "data/eval/baselines/b1"
    md5 = pointer_md5(repo, dest)
    assert store_object(store, md5).is_file()
    assert store_object(store, md5).read_bytes() == (repo.root / dest / PRED).read_bytes()
    assert origin_ref(origin, "refs/heads/main", repo) == repo.git("rev-parse", "HEAD")
    assert origin_ref(origin, "refs/tags/promote/baseline/b1", repo) == repo.git("rev-parse", "refs/tags/promote/baseline/b1")
    assert repo.git("rev-parse", "origin/main") == repo.git("rev-parse", "HEAD")
    assert not (repo.root / ".git" / "ledger" / "txn").exists()

    fresh = clone(repo, origin, "fresh")
    assert not (fresh.root / dest / PRED).exists()
    assert fresh.ledger("pull", "b1").returncode == 0
    assert (fresh.root / dest / PRED).read_bytes() == (repo.root / dest / PRED).read_bytes()
    verified = fresh.ledger("verify", check=True).stdout
    assert "OK    data/eval/baselines/b1" in verified and "all OK" in verified


def test_push_json_reports_where(repo: Sandbox, origin: Path):
    record = repo.ledger_json("promote", "lead1-news", "--as", "baseline", "--id", "b1", "--reason", "r", "--push")
    assert record["pushed"]["git_remote"] == "origin" and record["pushed"]["branch"] == "main"
    assert record["pushed"]["dvc_remote"] == "store" and record["pushed"]["dvc_objects_transferred"] >= 1


def test_two_clones_promote_the_same_id_second_is_rolled_back(repo: Sandbox, origin: Path):
    bob = second_clone(repo, origin)
    first = promote(repo, "lead1-news", "b1", "--push")
    assert first.returncode == 0, first.stderr
    first_tag = origin_ref(origin, "refs/tags/promote/baseline/b1", repo)

    before = bob.snapshot()
    second = promote(bob, "lead2-news", "b1", "--push")
    assert second.returncode == 2
    assert second.stderr.strip() == ("error: promote/baseline/b1 already exists on origin: "
                                     "promoted ids are immutable")
    assert bob.snapshot() == before  # run restored, local tag and commit gone
    assert (bob.root / "data/eval/runs/lead2-news/predictions.jsonl").is_file()
    assert origin_ref(origin, "refs/tags/promote/baseline/b1", repo) == first_tag
    assert origin_ref(origin, "refs/heads/main", repo) == repo.git("rev-parse", "HEAD")

    fresh = clone(repo, origin, "fresh")
    assert fresh.ledger("pull").returncode == 0
    assert fresh.read_json("data/eval/baselines/b1/baseline.json")["run_id"] == "lead1-news"
    assert "all OK" in fresh.ledger("verify", check=True).stdout


def test_branch_moved_on_origin_rolls_back_then_pull_and_retry_works(repo: Sandbox, origin: Path):
    bob = second_clone(repo, origin)
    assert promote(repo, "lead1-news", "b1", "--push").returncode == 0
    before = bob.snapshot()
    proc = promote(bob, "lead2-news", "b2", "--push")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: origin/main has moved: pull and retry"
    assert bob.snapshot() == before
    assert origin_ref(origin, "refs/tags/promote/baseline/b2", repo) is None

    bob.git("pull", "-q", "--ff-only", "origin", "main")
    retry = promote(bob, "lead2-news", "b2", "--push")
    assert retry.returncode == 0, retry.stderr
    assert origin_ref(origin, "refs/tags/promote/baseline/b2", repo) == bob.git("rev-parse", "refs/tags/promote/baseline/b2")
    fresh = clone(repo, origin, "fresh")
    assert "2 promoted dir(s) checked: all OK" in fresh.ledger("verify", check=True).stdout


def test_same_id_in_another_role_on_origin_is_refused(repo: Sandbox, origin: Path):
    bob = second_clone(repo, origin)
    assert promote(repo, "lead1-news", "x1", "--push").returncode == 0
    before = bob.snapshot()
    proc = bob.ledger("promote", "lead2-news", "--as", "reference", "--id", "x1", "--reason", "r", "--push")
    assert proc.returncode == 2
    assert "already promoted on origin (promote/baseline/x1)" in proc.stderr
    assert bob.snapshot() == before
    assert origin_ref(origin, "refs/tags/promote/reference/x1", repo) is None


def test_push_refusals_write_nothing(repo: Sandbox):
    before = repo.snapshot()
    proc = promote(repo, "lead1-news", "b1", "--push")
    assert proc.returncode == 2 and "needs a git remote 'origin'" in proc.stderr
    assert repo.snapshot() == before

    repo.git("remote", "add", "origin", str(repo.root.parent / "origin.git"))
    repo.dvc("remote", "default", "--unset")
    before = repo.snapshot()
    proc = promote(repo, "lead1-news", "b1", "--push")
    assert proc.returncode == 2 and "needs a default DVC remote" in proc.stderr
    assert repo.snapshot() == before


def test_unreachable_origin_rolls_back(repo: Sandbox):
    repo.git("remote", "add", "origin", str(repo.root.parent / "no-such-origin.git"))
    before = repo.snapshot()
    proc = promote(repo, "lead1-news", "b1", "--push")
    assert proc.returncode != 0 and proc.stderr.startswith("error: git push to origin failed")
    assert len(proc.stderr.strip().splitlines()) == 1
    assert repo.snapshot() == before


@pytest.mark.parametrize("step", ["dvc_pushed", "git_pushed"])
def test_raise_during_push(repo: Sandbox, origin: Path, step: str):
    before = repo.snapshot()
    proc = promote(repo, "lead1-news", "b1", "--push", env={"LEDGER_FAULT_AT": step})
    assert proc.returncode != 0 and "injected fault" in proc.stderr
    tag = origin_ref(origin, "refs/tags/promote/baseline/b1", repo)
    if step == "dvc_pushed":  # not on origin yet: exactly as before
        assert repo.snapshot() == before and tag is None
    else:  # already on origin: the promotion stands, locally too
        assert tag == repo.git("rev-parse", "refs/tags/promote/baseline/b1")
        assert origin_ref(origin, "refs/heads/main", repo) == repo.git("rev-parse", "HEAD")
        assert "all OK" in repo.ledger("verify", check=True).stdout
    assert not (repo.root / ".git" / "ledger" / "txn").exists()


@pytest.mark.parametrize("step", ["dvc_pushed", "git_pushed"])
def test_kill_during_push_is_recovered(repo: Sandbox, origin: Path, step: str):
    before = repo.snapshot()
    proc = promote(repo, "lead1-news", "b1", "--push", env={"LEDGER_FAULT_AT": f"{step}:kill"})
    assert proc.returncode == 137
    out = repo.ledger("recover").stdout
    if step == "dvc_pushed":
        assert "rolled back (it had not reached the remote)" in out
        assert repo.snapshot() == before
        assert origin_ref(origin, "refs/tags/promote/baseline/b1", repo) is None
    else:
        assert "completed" in out and "all OK" in repo.ledger("verify").stdout
        assert origin_ref(origin, "refs/heads/main", repo) == repo.git("rev-parse", "HEAD")


def test_kill_after_the_push_landed_but_before_it_was_recorded_completes(repo: Sandbox, origin: Path):
    """The journal says dvc_pushed only, yet origin holds our tag: recovery asks origin and keeps it."""
    proc = promote(repo, "lead1-news", "b1", "--push", env={"LEDGER_FAULT_AT": "git_pushed:kill"})
    assert proc.returncode == 137
    journal = repo.root / ".git" / "ledger" / "txn" / "journal.json"
    data = json.loads(journal.read_text())
    data["steps"].remove("git_pushed")
    journal.write_text(json.dumps(data))
    out = repo.ledger("recover").stdout
    assert "completed" in out and "all OK" in repo.ledger("verify").stdout
    assert repo.git("rev-parse", "refs/tags/promote/baseline/b1") == origin_ref(origin, "refs/tags/promote/baseline/b1", repo)


def test_push_shows_dvc_transfer_progress_on_a_terminal_only(repo: Sandbox, origin: Path):
    from test_progress import run_with_tty_stderr

    code, stdout, tty = run_with_tty_stderr(repo, "promote", "lead1-news", "--as", "baseline", "--id", "b1",
                                            "--reason", "pushed with a bar", "--push")
    assert code == 0, stdout + tty
    assert "pushed to origin/main" in stdout and "Pushing" in tty and "\r" in tty
    assert "Pushing" not in stdout

    code, stdout, tty = run_with_tty_stderr(repo, "promote", "lead2-news", "--as", "baseline", "--id", "b2",
                                            "--reason", "pushed quietly", "--push", "--json")
    assert code == 0 and json.loads(stdout)["pushed"]["git_remote"] == "origin"
    assert tty == ""
