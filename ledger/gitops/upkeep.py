"""Git's housekeeping after ledger's plumbing commit (`Git.commit_tree`): what `git commit` would
have run (`git maintenance run --auto`), and the commit-graph a repository git never gc'd lacks."""

from __future__ import annotations

from pathlib import Path


def after_commit(git) -> None:
    """`git maintenance run --auto` unless maintenance.auto is false -- git's housekeeping when its
    thresholds say so (by default a detached gc once ~6,700 loose objects pile up, which also
    writes the commit-graph). Then, when the repository has no commit-graph at all (a fresh
    clone, one git never gc'd), one: without it `merge-base` and `rev-list` parse every commit
    they walk (promote's check that a run's commit is in this branch walks all history made
    since: 30-45 ms at 10,000 promotions, ~3 ms with a graph). Written once, as `git gc` would
    (0.05-0.07 s at 10,000 commits); unless core.commitGraph or gc.writeCommitGraph is false.
    Best effort: its outcome changes nothing."""
    if not _true(git, "maintenance.auto"):
        return
    git.run_full("maintenance", "run", "--auto", "--quiet")
    info = _objects(git)
    if info is None or (info / "commit-graph").exists() or (info / "commit-graphs" / "commit-graph-chain").exists():
        return
    if _true(git, "core.commitGraph") and _true(git, "gc.writeCommitGraph"):
        git.run_full("commit-graph", "write", "--reachable", "--no-progress")


def _objects(git) -> Path | None:
    """objects/info of the repository (without a git process when `.git` is a plain directory)."""
    dot = git.plain_git_dir("GIT_OBJECT_DIRECTORY")
    if dot:
        return dot / "objects" / "info"
    status, out, _ = git.run_full("rev-parse", "--git-path", "objects/info")
    return git.root / out.strip() if status == 0 and out.strip() else None


def _true(git, key: str) -> bool:
    status, out, _ = git.run_full("config", "--type=bool", "--default=true", key)
    return status == 0 and out.strip() == "true"
