"""`ledger adopt SOURCE`: bring the promotion tags of a fork's merged pull request into this
repository. A pull request from a fork carries its commits but never its tags; after the merge
(by any merge mode) the promoted dir is here and its signed tag is still only in the fork.

Adopt fetches SOURCE's tags into a private namespace (never into refs/tags directly, so
nothing of SOURCE's can replace a tag of ours), and keeps, under the same tag name and the SAME
tag object (the contributor's own signature), exactly the promotion tags that then verify here:
signed by a key this repository's allowed_signers grants, record and tree matching the promoted
dir at HEAD, together with the GTO tag the record names (judged by the same verify). Approval
tags come along for promotions that are here. Everything else is listed with the reason it was
left out. `--push` pushes what was adopted to origin in one atomic push."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import layout, records
from .audit import approvals, gto, promoted, verify as _verify
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
    # every tag, into the private namespace: a promotion's GTO tag (`<id>#<stage>#1`) has no
    # common prefix, and is taken only together with its promotion tag
    status, _, err = git.run_full("fetch", "--no-tags", "--quiet", "--no-write-fetch-head", source,
                                  f"+refs/tags/*:{_NS}/*")
    if status != 0:
        _clear(git)
        lines = [ln for ln in err.strip().splitlines() if ln.strip()] or [f"exit {status}"]
        why = next((ln for ln in lines if ln.startswith(("fatal:", "error:"))), lines[-1])
        raise LedgerError(f"cannot fetch promotion tags from {layout.brief(source)}: {layout.brief(why, 200)}")
    adopted: list[str] = []
    already: list[str] = []
    left: list[dict[str, str]] = []
    try:
        incoming = _incoming(git)
        # promotion tags first: an approval is taken only for a promotion that is here
        ours = [kv for kv in incoming.items() if kv[0].startswith((layout.TAG_PREFIX, approvals.PREFIX))]
        for name, oid in sorted(ours, key=lambda kv: not kv[0].startswith(layout.TAG_PREFIX)):
            local = git.rev_parse(f"refs/tags/{name}")
            if local == oid:
                already.append(name)
                continue
            gto_tag = _gto_tag(git, name, incoming)
            why = "a different tag of that name is already here" if local else _take(root, git, name, oid, gto_tag)
            if why:
                left.append({"tag": name, "why": why})
            else:
                adopted += [name] + ([gto_tag[0]] if gto_tag else [])
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


def _gto_tag(git: Git, name: str, incoming: dict[str, str]) -> tuple[str, str] | None:
    """(name, object) of the GTO tag a fetched promotion tag's record names, when SOURCE has
    it and this repository does not (verify then judges it with its promotion)."""
    if not name.startswith(layout.TAG_PREFIX):
        return None
    try:
        record = records.parse_tag(git.tags_matching([f"{_NS}/{name}"])[0])
    except (LedgerError, IndexError):
        return None
    want = record.get("gto_tag")
    if not want or want != gto.tag_name(record["promoted_id"], record["role"], record["quality"]):
        return None  # only the GTO tag its own promotion would have: never another name of SOURCE's choosing
    if want not in incoming or git.rev_parse(f"refs/tags/{want}"):
        return None
    return want, incoming[want]


def _take(root: Path, git: Git, name: str, oid: str, gto_tag: tuple[str, str] | None = None) -> str | None:
    """Create refs/tags/`name` -> `oid` (absent here), with its GTO tag, if it proves its
    promotion here; else remove them again and say why not."""
    if name.startswith(approvals.PREFIX):
        pid = name[len(approvals.PREFIX):].split("/")[0]
        if not promoted.tags(git, pid):
            return f"no promotion {pid!r} here"
        git.run("update-ref", f"refs/tags/{name}", oid, _ZERO)
        return None  # verify counts it or says why not
    pid = name.rsplit("/", 1)[-1]
    git.run("update-ref", f"refs/tags/{name}", oid, _ZERO)
    if gto_tag:
        git.run("update-ref", f"refs/tags/{gto_tag[0]}", gto_tag[1], _ZERO)
    mine = [f for f in _verify.verify(root, only=pid, workspace=False) if f.promoted_id == pid]
    if not mine or any(f.elsewhere for f in mine):
        why: str | None = "its promotion is not in this branch's history (merge the pull request first)"
    else:  # a policy shortfall is not the tag's fault: its approvals may come next
        bad = [p for f in mine for p in approvals.blocking(f)]
        why = bad[0] if bad else None
    if why:
        git.run("update-ref", "-d", f"refs/tags/{name}", oid)
        if gto_tag:
            git.run("update-ref", "-d", f"refs/tags/{gto_tag[0]}", gto_tag[1])
    return why


def _clear(git: Git) -> None:
    for ref in git.run("for-each-ref", "--format=%(refname)", _NS).split():
        git.run("update-ref", "-d", ref)
