"""`ledger promote --push`: publish a local promotion, all or nothing.

Order: the DVC objects first (content-addressed: pushing them early is harmless even if
the rest fails), then the commit and the tag in ONE atomic `git push` to `origin`. If git
rejects it (the id was promoted by another clone, or the branch moved) the caller rolls
the local promotion back, so nothing ends half-done and origin keeps the first promotion.

Default DVC remote: `ledger init` configures `store`, a local directory next to the
repository (`<repo>/../<repo-name>.dvc-store`, stored relative to .dvc/ so every clone
next to it shares it), unless a default remote already exists or `--remote` names one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import dvcops, layout
from .errors import Refused
from .gitops import Git

GIT_REMOTE = "origin"
DVC_REMOTE = "store"


def default_store(root: Path) -> Path:
    return root.parent / f"{root.name}.dvc-store"


def check_location(location: str | None) -> None:
    """`--remote`: a directory, or a URL that names where (s3://bucket/path, not `s3://`)."""
    if location is None:
        return
    from urllib.parse import urlsplit

    from .layout import brief

    text = location.strip()
    if not text:
        raise Refused("--remote needs a directory or a URL (s3://bucket/path, ...)")
    if "://" in text:
        url = urlsplit(text)
        where = url.path.strip("/") if url.scheme == "file" else url.netloc
        if not url.scheme or not where:
            raise Refused(f"--remote {brief(text)}: the URL names no bucket, host or path (e.g. s3://bucket/path)")


def configure_default(root: Path, location: str | None, base: Path | None = None) -> str | None:
    """`ledger init`: sets the default DVC remote. Without `location`, only when none is
    configured (then the sibling directory). Returns a line saying what it did, or None."""
    if location is None:
        if dvcops.default_remote(root) is not None:
            return None
        dvcops.set_default_remote(root, DVC_REMOTE, f"../{default_store(root).name}", base=root)
        return f"dvc remote {DVC_REMOTE} (default) -> {default_store(root)} (a directory next to the repository)"
    if not location.strip():
        raise Refused("--remote needs a directory or a URL (s3://bucket/path, ...)")
    stored = dvcops.set_default_remote(root, DVC_REMOTE, location.strip(), base=base)
    return f"dvc remote {DVC_REMOTE} (default) -> {stored}"


def check(root: Path) -> dict[str, Any]:
    """Before anything is written: where the promotion will be pushed."""
    git = Git(root)
    branch = git.branch()
    if not branch:
        raise Refused("--push needs a checked-out branch (HEAD is detached)")
    if not git.remote_url(GIT_REMOTE):
        raise Refused(f"--push needs a git remote {GIT_REMOTE!r}: `git remote add {GIT_REMOTE} URL`")
    remote = dvcops.default_remote(root)
    if remote is None:
        raise Refused("--push needs a default DVC remote: `ledger init --remote PATH_OR_URL` "
                      "or `dvc remote add -d NAME URL`")
    return {"git_remote": GIT_REMOTE, "branch": branch, "dvc_remote": remote[0], "dvc_url": remote[1]}


def push(root: Path, journal: Any, target: layout.Target, commit: str, info: dict[str, Any],
         md5s: list[str], gto_tag: str | None = None) -> dict[str, Any]:
    """Runs inside the promotion transaction, after the tag (the journal already holds `info`,
    for recovery): any raise here rolls the local promotion back."""
    transferred = dvcops.push_objects(root, md5s)
    journal.step("dvc_pushed")

    git = Git(root)
    remote, branch, tag = info["git_remote"], info["branch"], target.tag
    taken = git.remote_refs(remote, *(f"refs/tags/{layout.TAG_PREFIX}{r}/{target.promoted_id}" for r in layout.ROLES))
    for ref in sorted(taken or {}):
        if ref != f"refs/tags/{tag}":
            raise Refused(f"id {target.promoted_id!r} is already promoted on {remote} "
                          f"({ref.removeprefix('refs/tags/')}): promoted ids are immutable")
    if gto_tag and f"refs/tags/{tag}" not in (taken or {}) and (git.remote_refs(remote, f"refs/tags/{gto_tag}") or {}):
        raise Refused(f"{gto_tag} already exists on {remote}: id {target.promoted_id!r} is already a GTO artifact there")
    refs = [f"{commit}:refs/heads/{branch}", f"refs/tags/{tag}:refs/tags/{tag}"]
    if gto_tag:  # the GTO tag travels with its promotion tag, in the same atomic push
        refs.append(f"refs/tags/{gto_tag}:refs/tags/{gto_tag}")
    ok, rejected, last = git.push_atomic(remote, refs)
    if not ok:
        raise Refused(rejection(remote, branch, tag, rejected, last))
    journal.step("git_pushed")
    return {**info, "dvc_objects_transferred": transferred}


def rejection(remote: str, branch: str, tag: str, rejected: dict[str, str], last: str) -> str:
    """One line naming why an atomic push failed; the tag's reason wins over the branch's."""
    tag_reason = rejected.get(f"refs/tags/{tag}", "")
    branch_reason = rejected.get(f"refs/heads/{branch}", "")
    if "already exists" in tag_reason or ("atomic" not in tag_reason and "rejected" in tag_reason):
        return f"{tag} already exists on {remote}: promoted ids are immutable"
    if any(word in branch_reason for word in ("fetch first", "non-fast-forward", "stale info")):
        return f"{remote}/{branch} has moved: pull and retry"
    reasons = "; ".join(f"{ref}: {why}" for ref, why in sorted(rejected.items())) or last or "unknown reason"
    return f"git push to {remote} failed ({reasons}): the local promotion was rolled back"


def pushed(root: Path, data: dict[str, Any]) -> bool:
    """Recovery after a kill during --push: did our tag reach the remote? (ls-remote)"""
    info, tag = data.get("push") or {}, data.get("tag")
    git = Git(root)
    local = git.rev_parse(f"refs/tags/{tag}") if tag else None
    if not info or not local:
        return False
    refs = git.remote_refs(info.get("git_remote", GIT_REMOTE), f"refs/tags/{tag}") or {}
    return refs.get(f"refs/tags/{tag}") == local
