"""The ONE enumeration of promoted artifacts: every reader and verify resolve promotions here.

Read from the git tree at a revision with `git ls-tree -z` (NUL-separated: a name may hold
spaces, newlines or any byte), with each entry's mode. Under the protected roots only real
directories (mode 040000) with valid names at the expected depth are promoted artifacts:

    data/eval/baselines/<id>/
    data/eval/references/silver/<id>/
    data/eval/references/gold/<task>/<id>/

Anything else there -- a file, a symlink (even to a valid directory), a submodule, an invalid
or odd name, an unexpected entry under references/ -- is a problem: verify fails on it and
every reader refuses it. The working tree is never globbed: its copy of a promoted dir is used
only after the promotion verified, and only when no component of its path is a symlink."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .. import layout
from ..errors import Refused
from ..gitops import Git, TagInfo
from ..layout import brief

_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")
_TASK = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_KIND = {"040000": "directory", "100644": "file", "100755": "executable file", "120000": "symlink",
         "160000": "submodule"}


@dataclass(frozen=True)
class Entry:
    path: str
    promoted_id: str
    role: str  # baseline | reference
    quality: str | None = None
    task: str | None = None
    tree: str | None = None  # its tree object id at the enumerated revision


@dataclass(frozen=True)
class Problem:
    path: str
    what: str


def valid_id(name: str) -> bool:
    return bool(_ID.fullmatch(name)) and ".." not in name and not name.endswith((".lock", "."))


def _children(git: Git, rev: str, path: str) -> list[tuple[str, str, str]] | None:
    """(mode, name, object id) of the entries of the tree at rev:path; None when there is no
    such tree."""
    status, out, _ = git.run_full("ls-tree", "-z", f"{rev}:{path}")
    if status != 0:
        return None
    children = []
    for item in out.split("\0"):
        if item:
            meta, _, name = item.partition("\t")
            mode, _, oid = meta.split(" ", 2)
            children.append((mode, name, oid))
    return children


def _odd(path: str, mode: str, name: str, expected: str) -> Problem:
    kind = _KIND.get(mode, f"mode {mode}")
    return Problem(f"{path}/{name}", f"{path}/{brief(name)[1:-1]} is a {kind}, not {expected}: nothing but "
                                     "promoted directories may live under the protected roots")


def _ids(git: Git, rev: str, path: str, found: list[Entry], problems: list[Problem], role: str,
         quality: str | None = None, task: str | None = None) -> None:
    for mode, name, oid in _children(git, rev, path) or []:
        if mode != "040000":
            problems.append(_odd(path, mode, name, "a promoted directory"))
        elif not valid_id(name):
            problems.append(Problem(f"{path}/{name}", f"{path}/{brief(name)[1:-1]}: not a valid promoted id"))
        else:
            found.append(Entry(f"{path}/{name}", name, role, quality, task, oid))


def enumerate_at(git: Git, rev: str) -> tuple[list[Entry], list[Problem]]:
    """Every promoted artifact in the tree at `rev`, and everything under the protected roots
    that is not one."""
    found: list[Entry] = []
    problems: list[Problem] = []
    _ids(git, rev, layout.BASELINES, found, problems, "baseline")
    for mode, name, _ in _children(git, rev, layout.REFERENCES) or []:
        if name not in ("silver", "gold") or mode != "040000":
            problems.append(_odd(layout.REFERENCES, mode, name, "silver/ or gold/"))
    _ids(git, rev, layout.SILVER, found, problems, "reference", "silver")
    for mode, task, _ in _children(git, rev, layout.GOLD) or []:
        if mode != "040000":
            problems.append(_odd(layout.GOLD, mode, task, "a task directory"))
        elif not _TASK.fullmatch(task):
            problems.append(Problem(f"{layout.GOLD}/{task}", f"{layout.GOLD}/{brief(task)[1:-1]}: not a valid task name"))
        else:
            _ids(git, rev, f"{layout.GOLD}/{task}", found, problems, "reference", "gold", task)
    return found, problems


def used_at(git: Git, rev: str, promoted_id: str) -> str | None:
    """The path at `rev` under the protected roots that already holds `promoted_id` (as a
    baseline, a silver reference or a gold one of any task), or None. One ls-tree of the few
    candidate paths: promote's cost does not grow with the promotions (enumerate_at lists them)."""
    paths = [f"{layout.BASELINES}/{promoted_id}", f"{layout.SILVER}/{promoted_id}"]
    paths += [f"{layout.GOLD}/{task}/{promoted_id}" for _, task, _ in _children(git, rev, layout.GOLD) or []]
    found = [p for p in git.run("ls-tree", "-z", "--name-only", rev, "--", *paths, strip=False).split("\0") if p]
    return found[0] if found else None


def tags(git: Git, only: str | None = None) -> Iterable[TagInfo]:
    """Every `promote/` tag -- each handed over as git writes it (Git.iter_tags), so that the
    caller's work on one overlaps git's reading of the next -- or, with `only`, the list of those
    that claim that id: whose last name component is it, at any depth under promote/ (one
    for-each-ref pattern, so the cost does not grow with the number of promotions)."""
    if only is None:
        return git.iter_tags([f"refs/tags/{layout.TAG_PREFIX}"])
    return [t for t in git.tags(f"{layout.TAG_PREFIX}**/{only}") if t.name.rsplit("/", 1)[-1] == only]


def real_dir(root: Path, rel: str) -> Path:
    """The working-tree directory of a (verified) promotion, refusing a symlink anywhere on
    its path: a symlink there could point the reader at files nobody signed."""
    current = root
    for part in Path(rel).parts:
        current = current / part
        if current.is_symlink():
            raise Refused(f"{current.relative_to(root).as_posix()} is a symlink in the working tree: "
                          "a promoted directory is read only as itself (git checkout it)")
    if not current.is_dir():
        raise Refused(f"{rel} is not in the working tree (git checkout it)")
    for child in current.iterdir():  # DVC may link predictions from its cache: their sha256 is checked
        if child.is_symlink() and child.name not in layout.DVC_TRACKED:
            raise Refused(f"{child.relative_to(root).as_posix()} is a symlink in the working tree: refused")
    return current
