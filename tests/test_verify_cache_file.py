"""The verify cache's own rules (ledger/audit/cache.py), on a real git repository and a real cache
file: what is loaded, what is trusted of a remembered working-tree pass, the racy window, when
the file is (re)written. The end-to-end proofs (a changed signer, tag, tree or file fails) are
in test_verify_cache.py; these pin the rules those rely on, a garbled file included."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from ledger import usercache
from ledger.audit.cache import Verdicts
from ledger.gitops import Git

SIGNERS = b"alice@example.com ssh-ed25519 AAAA\n"
KEY = Verdicts.key("refs/tags/promote/baseline/b1", "1" * 40, "data/eval/baselines/b1", "2" * 40)


@pytest.fixture
def repo(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("LEDGER_VERIFY_CACHE", raising=False)
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    old = time.time() - 60
    for name in ("a.txt", "b.txt"):
        (root / name).write_text(name)
        os.utime(root / name, (old, old))
    return root


def files(root: Path) -> list[Path]:
    return [root / "a.txt", root / "b.txt"]


def remember(root: Path, notes=("a note",)) -> Verdicts:
    """One verify's worth: a pass and its working-tree pass, saved (checked as if well after the
    files' last change: the files here were just made, and their ctime is now)."""
    v = Verdicts(Git(root), SIGNERS, None)
    v.passed(KEY, "alice@example.com")
    v.workspace_passed(KEY, files(root), list(notes), time.time() + 10)
    v.save(keep_old=False)
    return Verdicts(Git(root), SIGNERS, None)


def test_a_pass_and_its_working_tree_pass_are_remembered_by_key(repo):
    v = remember(repo)
    assert v.on and v.remembered() == 1 and v.signer(KEY) == "alice@example.com"
    assert v.workspace(KEY, files(repo)) == ["a note"]
    assert v.signer(Verdicts.key("refs/tags/promote/baseline/b1", "1" * 40, "data/eval/baselines/b1", "3" * 40)) is None
    assert Verdicts.key("r", "t", "p", "a") != Verdicts.key("r", "t", "p", "b") != Verdicts.key("r", "t", "p", None)


def test_another_context_is_not_loaded(repo):
    remember(repo)
    other = Verdicts(Git(repo), SIGNERS + b"bob@example.com ssh-ed25519 BBBB\n", None)
    assert other.on and other.remembered() == 0 and other.signer(KEY) is None
    assert Verdicts(Git(repo), None, None).signer(KEY) is None


@pytest.mark.parametrize("value", ["0"])
def test_the_cache_off_remembers_and_loads_nothing(repo, monkeypatch, value):
    remember(repo)
    monkeypatch.setenv("LEDGER_VERIFY_CACHE", value)
    v = Verdicts(Git(repo), SIGNERS, None)
    assert not v.on and v.remembered() == 0 and v.signer(KEY) is None and v.workspace(KEY, files(repo)) is None


@pytest.mark.parametrize("value", ["1", "", "yes", "-1"])
def test_any_other_value_leaves_it_on(repo, monkeypatch, value):
    remember(repo)
    monkeypatch.setenv("LEDGER_VERIFY_CACHE", value)
    v = Verdicts(Git(repo), SIGNERS, None)
    assert v.on and v.remembered() == 1 and v.signer(KEY) == "alice@example.com"


def test_a_revocation_file_that_cannot_be_read_turns_it_off(repo, tmp_path):
    remember(repo)
    revoked = tmp_path / "revoked"
    revoked.write_text("")
    assert Verdicts(Git(repo), SIGNERS, str(revoked)).on
    assert Verdicts(Git(repo), SIGNERS, str(revoked)).signer(KEY) is None  # another context
    v = Verdicts(Git(repo), SIGNERS, str(tmp_path / "missing"))
    assert not v.on and v.signer(KEY) is None


def test_a_changed_stat_is_not_a_remembered_working_tree_pass(repo):
    """Any other stat is no pass, whichever way its digest sorts against the remembered one
    (edits go on until both orders were seen)."""
    v = remember(repo)
    stamp = usercache.load(v.path)["passes"][KEY]["ws"][0]
    path = repo / "b.txt"
    st = path.stat()
    seen = set()
    for i in range(200):
        path.write_text(f"{i % 10}.txt")  # same size
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # same mtime: the ctime moved (or the inode)
        if i % 2:
            path.rename(repo / "tmp")  # a new inode under the same name
            (repo / "tmp").rename(path)
        now = Verdicts._stats(files(repo))
        assert now != stamp and v.workspace(KEY, files(repo)) is None
        seen.add(now > stamp)
        if seen == {True, False}:
            break
    assert seen == {True, False}
    assert v.signer(KEY) == "alice@example.com"
    assert v.workspace(KEY, files(repo)[:1]) is None  # not the same list of files either


@pytest.mark.parametrize("shape", [None, [], ["x"], ["x", ["n"], "y"], ["x", "n"], "ws", 7])
def test_a_garbled_working_tree_entry_is_no_pass(repo, shape):
    v = remember(repo)
    data = usercache.load(v.path)
    data["passes"][KEY]["ws"] = shape
    usercache.save(v.path, data)
    v = Verdicts(Git(repo), SIGNERS, None)
    assert v.signer(KEY) == "alice@example.com" and v.workspace(KEY, files(repo)) is None


def test_a_working_tree_entry_with_more_than_stamp_and_notes_is_no_pass(repo):
    v = remember(repo)
    data = usercache.load(v.path)
    data["passes"][KEY]["ws"] = [*data["passes"][KEY]["ws"], "more"]  # the right stamp and notes, and more
    usercache.save(v.path, data)
    assert Verdicts(Git(repo), SIGNERS, None).workspace(KEY, files(repo)) is None


def test_notes_that_are_not_strings_are_no_pass(repo):
    v = remember(repo)
    data = usercache.load(v.path)
    data["passes"][KEY]["ws"][1] = ["a note", 3]
    usercache.save(v.path, data)
    assert Verdicts(Git(repo), SIGNERS, None).workspace(KEY, files(repo)) is None


@pytest.mark.parametrize("which", ["mtime", "ctime"])
def test_a_file_changed_within_the_racy_window_is_not_remembered(repo, which):
    """A file changed less than two seconds before the check started may change again within
    the same timestamp: its working-tree pass is not remembered. The ctime counts too: an edit
    that puts the mtime back is still recent."""
    path = repo / "a.txt"
    if which == "mtime":
        path.write_text("A.txt")
    else:
        old = path.stat().st_mtime
        path.write_text("A.txt")
        os.utime(path, (old, old))
    v = Verdicts(Git(repo), SIGNERS, None)
    v.passed(KEY, "alice@example.com")
    v.workspace_passed(KEY, files(repo), ["n"], time.time())
    v.save(keep_old=False)
    again = Verdicts(Git(repo), SIGNERS, None)
    assert again.signer(KEY) == "alice@example.com" and again.workspace(KEY, files(repo)) is None
    v.workspace_passed(KEY, files(repo), ["n"], time.time() + 10)  # checked long after the change
    v.save(keep_old=False)
    assert Verdicts(Git(repo), SIGNERS, None).workspace(KEY, files(repo)) == ["n"]


def test_nothing_learned_is_nothing_written(repo):
    v = remember(repo)
    before = v.path.stat()
    time.sleep(0.05)
    assert v.signer(KEY) and v.workspace(KEY, files(repo))
    v.save(keep_old=False)
    after = v.path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    v.passed(Verdicts.key("r", "t", "p", "x"), "alice@example.com")
    v.save(keep_old=False)
    assert v.path.stat().st_ino != before.st_ino


def test_keep_old_keeps_what_this_run_did_not_look_at(repo):
    remember(repo)
    other = Verdicts.key("r", "t", "p", "x")
    v = Verdicts(Git(repo), SIGNERS, None)
    v.passed(other, "bob@example.com")
    v.save(keep_old=True)  # a verify of one id keeps the rest
    kept = json.loads(v.path.read_text())["passes"]
    assert set(kept) == {KEY, other}
    v = Verdicts(Git(repo), SIGNERS, None)
    v.passed(other, "bob@example.com")
    v.save(keep_old=False)  # a full verify keeps what it used or learned
    assert set(json.loads(v.path.read_text())["passes"]) == {other}


def test_the_racy_window_is_two_seconds_after_the_last_change(repo):
    """Checked 1.5 s after a file's last change (its ctime): not remembered; 2.5 s after: it is."""
    changed = max(max(p.stat().st_mtime_ns, p.stat().st_ctime_ns) for p in files(repo)) / 1e9
    for after, kept in ((1.5, False), (2.5, True)):
        v = Verdicts(Git(repo), SIGNERS, None)
        v.passed(KEY, "alice@example.com")
        v.workspace_passed(KEY, files(repo), ["n"], changed + after)
        v.save(keep_old=False)
        got = Verdicts(Git(repo), SIGNERS, None).workspace(KEY, files(repo))
        assert got == (["n"] if kept else None), after


def test_a_working_tree_pass_is_remembered_only_beside_a_pass(repo, monkeypatch):
    """A working-tree pass of a promotion whose check did not pass this run is not remembered
    (nor an error); with the cache off, nothing is."""
    v = Verdicts(Git(repo), SIGNERS, None)
    v.workspace_passed(KEY, files(repo), ["n"], time.time() + 10)
    v.save(keep_old=False)
    assert v.on and v.new == {} and not v.path.exists()
    monkeypatch.setenv("LEDGER_VERIFY_CACHE", "0")
    off = Verdicts(Git(repo), SIGNERS, None)
    off.passed(KEY, "alice@example.com")
    off.workspace_passed(KEY, files(repo), ["n"], time.time() + 10)
    off.save(keep_old=False)
    assert off.new == {} and not (Path(os.environ["XDG_CACHE_HOME"]) / "ledger" / "verify").exists()


def test_a_file_whose_mtime_is_in_the_future_is_within_the_racy_window(repo):
    """Its last change cannot be placed: it is not remembered (the ctime alone would allow it)."""
    future = time.time() + 3600
    os.utime(repo / "a.txt", (future, future))
    v = Verdicts(Git(repo), SIGNERS, None)
    v.passed(KEY, "alice@example.com")
    v.workspace_passed(KEY, files(repo), ["n"], time.time() + 10)
    v.save(keep_old=False)
    assert Verdicts(Git(repo), SIGNERS, None).workspace(KEY, files(repo)) is None
