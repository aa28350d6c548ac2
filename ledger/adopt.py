"""`ledger adopt SOURCE`: bring the promotion tags of a fork's merged pull request into this
repository. A pull request from a fork carries its commits but never its tags; after the merge
(by any merge mode) the promoted dir is here and its signed tag is still only in the fork.

Adopt fetches SOURCE's `promote/` and `approval/` tags into a private namespace (never into
refs/tags directly, so nothing of SOURCE's can replace a tag of ours), and keeps, under the
same tag name and the SAME tag object (the contributor's own signature), exactly the promotion
tags that then verify here: signed by a key this repository's allowed_signers grants, record
and tree matching the promoted dir at HEAD. Approval tags come along for promotions that are
here. Everything else is listed with the reason it was left out. `--push` pushes what was
adopted to origin in one atomic push."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import layout
from .audit import approvals, promoted, verify as _verify
from .errors import LedgerError, Refused
from .gitops import Git

_NS = "refs/ledger-adopt"
_ZERO = "0" * 40


def adopt(root: Path, source: str, push: bool = False) -> dict[str, Any]:
    if not source or source.startswith("-"):
        raise Refused(f"not a git remote or URL: {layout.brief(source)}")
    git = Git(root)
    if git.head() is None:
        raise Refused("repository has no commits")
    _clear(git)
    status, _, err = git.run_full("fetch", "--no-tags", "--quiet", "--no-write-fetch-head", source,
                                  f"+refs/tags/{layout.TAG_PREFIX}*:{_NS}/{layout.TAG_PREFIX}*",
                                  f"+refs/tags/{approvals.PREFIX}*:{_NS}/{approvals.PREFIX}*")
    if status != 0:
        _clear(git)
        lines = [ln for ln in err.strip().splitlines() if ln.strip()] or [f"exit {status}"]
        why = next((ln for ln in lines if ln.startswith(("fatal:", "error:"))), lines[-1])
        raise LedgerError(f"cannot fetch promotion tags from {layout.brief(source)}: {layout.brief(why, 200)}")
    adopted: list[str] = []
    already: list[str] = []
    left: list[dict[str, str]] = []
    try:
        # promotion tags first: an approval is taken only for a promotion that is here
        for name, oid in sorted(_incoming(git).items(), key=lambda kv: not kv[0].startswith(layout.TAG_PREFIX)):
            local = git.rev_parse(f"refs/tags/{name}")
            if local == oid:
                already.append(name)
                continue
            why = "a different tag of that name is already here" if local else _take(root, git, name, oid)
            if why:
                left.append({"tag": name, "why": why})
            else:
                adopted.append(name)
    finally:
        _clear(git)
    out: dict[str, Any] = {"source": source, "adopted": adopted, "already_here": already, "left_out": left,
                           "pushed": False}
    if push and adopted:
        ok, rejected, last = git.push_atomic("origin", [f"refs/tags/{n}:refs/tags/{n}" for n in adopted])
        if not ok:
            raise LedgerError(f"adopted {len(adopted)} tag(s) here, but origin refused them: "
                              f"{next(iter(rejected.values()), last)}")
        out["pushed"] = True
    return out


def _incoming(git: Git) -> dict[str, str]:
    out = {}
    for line in git.run("for-each-ref", "--format=%(refname) %(objectname)", _NS).splitlines():
        ref, _, oid = line.partition(" ")
        out[ref[len(_NS) + 1:]] = oid
    return out


def _take(root: Path, git: Git, name: str, oid: str) -> str | None:
    """Create refs/tags/`name` -> `oid` (absent here) if it proves its promotion here; else
    remove it again and say why not."""
    if name.startswith(approvals.PREFIX):
        pid = name[len(approvals.PREFIX):].split("/")[0]
        if not promoted.tags(git, pid):
            return f"no promotion {pid!r} here"
        git.run("update-ref", f"refs/tags/{name}", oid, _ZERO)
        return None  # verify counts it or says why not
    pid = name.rsplit("/", 1)[-1]
    git.run("update-ref", f"refs/tags/{name}", oid, _ZERO)
    mine = [f for f in _verify.verify(root, only=pid, workspace=False) if f.promoted_id == pid]
    if not mine or any(f.elsewhere for f in mine):
        why: str | None = "its promotion is not in this branch's history (merge the pull request first)"
    else:  # a policy shortfall is not the tag's fault: its approvals may come next
        bad = [p for f in mine for p in approvals.blocking(f)]
        why = bad[0] if bad else None
    if why:
        git.run("update-ref", "-d", f"refs/tags/{name}", oid)
    return why


def _clear(git: Git) -> None:
    for ref in git.run("for-each-ref", "--format=%(refname)", _NS).split():
        git.run("update-ref", "-d", ref)
