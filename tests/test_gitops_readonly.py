"""ledger's status reads (a run's dirty check while `dvc repro` runs it, a promotion's busy check
where git status answers it) never write the index: plain `git status` takes index.lock to write back the stat data it
refreshed, which costs a rewrite of the whole index (10 MB at 10,000 promotions) and makes a git
command the user runs at that moment fail on the lock."""

from __future__ import annotations

import hashlib
import os
import subprocess

from ledger.gitops import Git, pathcommit


def _git(root, *args):
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def _index(root):
    st = os.stat(root / ".git" / "index")
    return (root / ".git" / "index").read_bytes(), st.st_mtime_ns


def test_status_reads_without_writing_the_index(tmp_path):
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "config", "user.email", "t@example.com")
    _git(tmp_path, "config", "user.name", "t")
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_text(name)
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "two files")

    def stat_dirty():  # same content, another mtime: status must re-read it and may record its stat
        for name in ("a.txt", "b.txt"):
            os.utime(tmp_path / name, ns=(1_000_000_000, 1_000_000_000))

    stat_dirty()
    before = _index(tmp_path)
    (tmp_path / "new.txt").write_text("untracked")
    git = Git(tmp_path)
    assert git.status() == [("??", "new.txt")]
    assert git.status("a.txt", "new.txt") == [("??", "new.txt")]
    assert _index(tmp_path) == before, "ledger's status rewrote the index"

    (tmp_path / "sub").mkdir()  # a directory among the paths: git status answers the busy check
    (tmp_path / "sub" / "c.txt").write_text("untracked")
    assert pathcommit.changed(tmp_path, ["a.txt", "sub"]) == ["sub/c.txt"]
    assert pathcommit.changed(tmp_path, ["a.txt", "b.txt"]) == []  # compared with HEAD: no index read
    assert _index(tmp_path) == before, "the busy check rewrote the index"

    _git(tmp_path, "status", "--porcelain")  # what it would have done: plain status rewrites it
    assert _index(tmp_path) != before


def _by_rev_parse(root):
    common = (root / _git(root, "rev-parse", "--git-common-dir").strip()).resolve()
    return hashlib.sha256(bytes(common)).hexdigest()[:32]


def test_user_cache_names_the_clone_as_git_does(tmp_path, monkeypatch):
    """A repository's cache files are named by its git common dir: read from `.git` when that is
    a plain directory, else asked of git -- a linked worktree shares its repository's files, a
    GIT_DIR or GIT_COMMON_DIR in the environment is honoured."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    main = tmp_path / "main"
    main.mkdir()
    _git(main, "init", "-q")
    _git(main, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "c")
    _git(main, "worktree", "add", "-q", str(tmp_path / "wt"))
    name = Git(main).user_cache("tag-rows").stem
    assert name == _by_rev_parse(main) == Git(tmp_path / "wt").user_cache("tag-rows").stem
    other = tmp_path / "other"
    other.mkdir()
    _git(other, "init", "-q")
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    assert Git(main).user_cache("tag-rows").stem == _by_rev_parse(main) != name
