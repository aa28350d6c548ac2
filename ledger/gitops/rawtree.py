"""A git tree object edited as the bytes git stores, for a commit that changes a few entries of
directories that may hold thousands (data/eval/baselines at 10,000 promotions: 10,000 entries).

A tree object is a run of `<mode> <name>\\0<binary object id>` entries, sorted by name with a
directory's name compared as if it ended in "/" (git's base_name_compare). Here an entry is
looked up by walking those entries, and a changed tree is the old bytes with the changed entries
spliced in at their places: nothing turns 10,000 entries into Python objects, sorts them, or
hands them to `git mktree` as text to parse and sort again. A new tree's id is computed here
(the repository's hash of `tree <size>\\0<bytes>`), and `store` writes all new trees with one
`git hash-object -t tree -w`, which checks each is a well-formed tree and must give the same ids."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from ..errors import LedgerError
from ._proc import git_checked

DIR = b"40000"
_ALGO = {20: "sha1", 32: "sha256"}


def _key(name: bytes, mode: bytes) -> bytes:
    return name + b"/" if mode == DIR else name


class Tree:
    """One directory's tree object (`body`, its id `oid`; b"" and None for a directory that
    does not exist yet) and the entries this change sets (their bytes) or drops (None)."""

    def __init__(self, body: bytes, width: int, oid: str | None = None):
        self.body, self.width, self.oid = body, width, oid
        self.changes: dict[bytes, bytes | None] = {}
        self._found: dict[bytes, bytes | None] = {}

    def _entries(self):
        """(start, end, mode, name) of each entry, in the tree's order."""
        body, width, index, i = self.body, self.width, self.body.index, 0
        try:
            while i < len(body):
                space = index(b" ", i)
                nul = index(b"\0", space)
                end = nul + 1 + width
                if end > len(body):
                    raise ValueError
                yield i, end, body[i:space], body[space + 1:nul]
                i = end
        except ValueError:
            raise LedgerError(f"git tree {self.oid} is not a well-formed tree object") from None

    def mode(self, name: bytes) -> bytes | None:
        """The mode of the entry `name` in the tree as read (b"40000" for a directory), or None:
        the changes made since are not counted."""
        if name not in self._found:
            self._found[name] = next((mode for _, _, mode, n in self._entries() if n == name), None)
        return self._found[name]

    def set(self, name: bytes, mode: bytes, oid: str) -> None:
        try:
            raw = bytes.fromhex(oid)
        except ValueError:
            raw = b""
        if len(raw) != self.width or not mode.isdigit() or not name or b"/" in name or b"\0" in name:
            raise LedgerError(f"not a tree entry of this repository: {mode!r} {name!r} {oid}")
        self.changes[name] = mode + b" " + name + b"\0" + raw

    def drop(self, name: bytes) -> None:
        self.changes[name] = None

    def encode(self) -> bytes:
        """The tree's bytes with the changes made, entries in git's order."""
        if not self.changes:
            return self.body
        adds = sorted((_key(n, e[:e.index(b" ")]), e) for n, e in self.changes.items() if e is not None)
        out, kept, k = [], 0, 0
        for start, end, mode, name in self._entries():
            key = _key(name, mode)
            while k < len(adds) and adds[k][0] < key:
                out += [self.body[kept:start], adds[k][1]]
                kept, k = start, k + 1
            if name in self.changes:  # replaced (its new entry is among adds) or dropped
                out.append(self.body[kept:start])
                kept = end
        out.append(self.body[kept:])
        out += [entry for _, entry in adds[k:]]
        return b"".join(out)


def tree_id(body: bytes, width: int) -> str:
    """The id git gives a tree object with these bytes."""
    return hashlib.new(_ALGO[width], b"tree %d\0" % len(body) + body).hexdigest()


def store(root: Path, trees: dict[str, bytes]) -> None:
    """Writes each tree (id -> bytes) into the object store: one `git hash-object -t tree -w`,
    which refuses a malformed tree; the ids it gives must be those computed here."""
    if not trees:
        return
    with tempfile.TemporaryDirectory(prefix="ledger-trees-") as tmp:
        paths = []
        for n, body in enumerate(trees.values()):
            paths.append(os.path.join(tmp, str(n)))
            Path(paths[-1]).write_bytes(body)
        out = git_checked(root, ["hash-object", "-t", "tree", "-w", "--no-filters", "--stdin-paths"],
                          "".join(f"{p}\n" for p in paths).encode())
    if out.decode().split() != list(trees):
        raise LedgerError("git hash-object wrote trees with other ids than the ones computed for them")
