"""Git's housekeeping after ledger's plumbing commit (`Git.commit_tree`), which `git commit`
would have run: `git maintenance run --auto`."""

from __future__ import annotations


def after_commit(git) -> None:
    """`git maintenance run --auto` unless maintenance.auto is false -- git's housekeeping when its
    thresholds say so (by default a detached gc once ~6,700 loose objects pile up, which also
    writes the commit-graph `merge-base` walks fast with). Best effort: its outcome changes nothing."""
    if _true(git, "maintenance.auto"):
        git.run_full("maintenance", "run", "--auto", "--quiet")


def _true(git, key: str) -> bool:
    status, out, _ = git.run_full("config", "--type=bool", "--default=true", key)
    return status == 0 and out.strip() == "true"
