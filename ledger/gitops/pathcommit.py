"""Committing a promotion's few paths without git's passes over the whole index.

At 10,000 promoted dirs the index holds ~90,000 entries (10 MB; git 2.39 checksums all of it on
every read and write). `git status -- <paths>` reads it and walks HEAD's trees for the paths
(~25 ms there), `git add -- <paths>` reads it, scans the paths' directories and writes it
(~55 ms), and `git write-tree` reads it, rebuilds the cached tree of every directory on the
changed paths (data/eval/baselines: 10,000 entries) and writes it again (~45 ms).

Here the paths are compared with HEAD's entries directly (`ls-tree` of those paths,
`hash-object` of the files), the index is written once (`update-index`, which hashes the files
and records their stat data as `git add` does), and the commit's tree is HEAD's tree with those
entries replaced: only the trees on the changed paths are read (`cat-file --batch`), edited as
git's bytes (rawtree: data/eval/baselines' 10,000 entries are spliced, never parsed one by one)
and written (`hash-object -t tree -w`). The entries are the ones `git add` makes: the file's
blob as `hash-object` makes it (the path's attributes and filters), its mode as git takes it
from the file (`core.fileMode`). What this does not reproduce -- a symbolic link, a nested
repository, a path that is a directory or a submodule in HEAD or sits under a file there --
goes the plain way: `git add`, then `write-tree`."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..errors import LedgerError
from . import rawtree
from ._proc import begun, git_checked

_DIR, _LINK, _MODULE = rawtree.DIR, b"120000", b"160000"


class _Plain(Exception):
    """This change needs `git add` and `write-tree`."""


def _run(root: Path, args: list[str], data: bytes | None = None, ok: tuple[int, ...] = (0,)) -> bytes:
    literal = ("--literal-pathspecs",) if args[0] in ("ls-tree", "add") else ()
    return git_checked(root, args, data, ok, literal)


def _at(root: Path, rev: str, paths: list[str]) -> dict[str, tuple[bytes, str]]:
    """path -> (mode, object id) in `rev`, for those of `paths` it has."""
    out = _run(root, ["ls-tree", "-z", "--full-tree", rev, "--", *paths]) if paths else b""
    found = {}
    for item in out.split(b"\0"):
        if item:
            meta, _, path = item.partition(b"\t")
            mode, _, oid = meta.split(b" ")  # ls-tree writes a tree's mode 040000, a tree object 40000
            found[path.decode("utf-8", "surrogateescape")] = (mode.lstrip(b"0"), oid.decode())
    return found


class _Modes:
    """The mode `git add` gives a regular file (read-cache.c, ce_mode_from_stat): its executable
    bit, or with `core.fileMode` false the mode it had (new: 100644). The setting is read only
    when it makes a difference."""

    def __init__(self, root: Path):
        self.root, self._trust = root, None

    def __call__(self, path: str, before: bytes | None) -> bytes:
        x = b"100755" if os.stat(self.root / path).st_mode & stat.S_IXUSR else b"100644"
        if x == (before or b"100644"):
            return x
        if self._trust is None:
            out = _run(self.root, ["config", "--type=bool", "--default=true", "core.filemode"])
            self._trust = out.strip() == b"true"
        return x if self._trust else before if before in (b"100644", b"100755") else b"100644"


def _blobs(root: Path, files: list[str], write: bool = False) -> list[str]:
    if not files:
        return []
    ids = _run(root, ["hash-object", *(["-w"] if write else []), "--stdin-paths"],
               "".join(f"{f}\n" for f in files).encode()).split()
    if len(ids) != len(files):
        raise LedgerError(f"git hash-object gave {len(ids)} ids for {len(files)} files")
    return [i.decode() for i in ids]


def changed(root: Path, paths: list[str], rev: str = "HEAD") -> list[str]:
    """Those of `paths` (files) whose working-tree state is not `rev`'s: modified (content or
    executable bit), deleted, or present and not in `rev` (untracked). With nothing staged this
    is what `git status -- <paths>` lists, without reading the index; an untracked file counts
    even when ignored (`git add` would refuse it)."""
    try:
        return _changed(root, paths, rev)
    except _Plain:
        from . import Git

        return [path for _, path in Git(root).status(*paths)]


def _changed(root: Path, paths: list[str], rev: str) -> list[str]:
    if any("\n" in p for p in paths):
        raise _Plain
    at = _at(root, rev, paths)
    if any(mode in (_DIR, _LINK, _MODULE) for mode, _ in at.values()) or \
            any((root / p).is_symlink() or (root / p).is_dir() for p in paths):
        raise _Plain
    present, mode_of = [p for p in paths if (root / p).is_file()], _Modes(root)
    busy = [p for p in paths if p in at and p not in present] + [p for p in present if p not in at]
    tracked = [p for p in present if p in at]
    for path, oid in zip(tracked, _blobs(root, tracked)):
        mode, was = at[path]
        if oid != was or mode_of(path, mode) != mode:
            busy.append(path)
    return [p for p in paths if p in busy]


def _dirs(paths) -> list[bytes]:
    """Every directory on `paths`, deepest first, the root ("") last."""
    dirs = {b""}
    for path in paths:
        parts = path.encode("utf-8", "surrogateescape").split(b"/")
        dirs.update(b"/".join(parts[:k]) for k in range(1, len(parts)))
    return sorted(dirs, key=lambda d: (-d.count(b"/") if d else 1, d))


def _read_trees(root: Path, base: str, order: list[bytes]) -> tuple[dict[bytes, rawtree.Tree], str]:
    """Each of `order`'s directories at `base` (an empty tree when `base` has none), and `base`'s
    root tree id: one `cat-file --batch`."""
    specs = b"".join(base.encode() + (b":" + d if d else b"^{tree}") + b"\n" for d in order)
    out, at, trees, top, width = _run(root, ["cat-file", "--batch"], specs), 0, {}, "", len(base) // 2
    for d in order:
        end = out.index(b"\n", at)
        head = out[at:end].split(b" ")
        if head[-1] == b"missing":
            trees[d], at = rawtree.Tree(b"", width), end + 1
            continue
        size = int(head[2])
        if head[1] != b"tree":
            raise _Plain  # a file where the change needs a directory
        trees[d] = rawtree.Tree(out[end + 1:end + 1 + size], width, head[0].decode())
        at = end + 2 + size
        top = head[0].decode() if not d else top
    for d in order[:-1]:  # `base:dir` of a submodule is a commit this repository lacks: "missing"
        parent, _, name = d.rpartition(b"/")
        if trees[parent].mode(name) not in (None, _DIR):
            raise _Plain
    return trees, top


def _write_trees(root: Path, order: list[bytes], trees: dict[bytes, rawtree.Tree]) -> str:
    """Writes the changed trees bottom-up (a directory left empty is dropped); the root's id."""
    made: str | None = None
    new = {}
    for d in order:
        tree = trees[d]
        body = tree.encode()
        if not body:
            made = None
        elif body == tree.body:
            made = tree.oid
        else:
            made = rawtree.tree_id(body, tree.width)
            new[made] = body
        if d:
            parent, _, name = d.rpartition(b"/")
            if made is None:
                trees[parent].drop(name)
            else:
                trees[parent].set(name, _DIR, made)
    if made is None:
        raise _Plain  # an empty root
    rawtree.store(root, new)
    return made


def tree(root: Path, head: str | None, paths: list[str]) -> tuple[str, str | None]:
    """Stages `paths` (files, or directories HEAD does not have) as `git add -- <paths>` would with
    nothing else staged, and returns the tree `write-tree` would then write, with HEAD's tree
    (None when not read)."""
    try:
        return _staged_tree(root, head, paths)
    except _Plain:
        _run(root, ["add", "--", *paths])
        return _run(root, ["write-tree"]).decode().strip(), None


def _staged_tree(root: Path, head: str | None, paths: list[str]) -> tuple[str, str]:
    if head is None or any("\n" in p for p in paths):
        raise _Plain
    files, maybe_gone = [], []
    for path in paths:
        full = root / path
        if full.is_symlink():
            raise _Plain
        if full.is_dir():
            files += _new_files(root, path)
        elif full.is_file():
            files.append(path)
        else:
            maybe_gone.append(path)
    order = _dirs(paths + files)
    trees, top = _read_trees(root, head, order)
    at = {}  # each path's mode in HEAD (None: not there); a directory there is not new
    for path in paths:
        parent, _, name = path.encode("utf-8", "surrogateescape").rpartition(b"/")
        at[path] = trees[parent].mode(name)
        if at[path] in (_DIR, _LINK, _MODULE):
            raise _Plain
    gone = [p for p in maybe_gone if at[p]]
    mode_of = _Modes(root)
    modes = [mode_of(f, at.get(f)) for f in files]
    # git writes the index (at 10,000 promotions 10 MB, ~37 ms) while the trees are made; the
    # blobs the trees name are written by hash-object -w here, so the commit never names an
    # object the store lacks, even if a file changed between the two reads of it.
    indexed = begun(_run, root, ["update-index", "--add", "--remove", "-z", "--stdin"],
                    "".join(f"{p}\0" for p in files + gone).encode())
    try:
        for path, entry in zip(files + gone, [*zip(modes, _blobs(root, files, write=True)), *[None] * len(gone)]):
            parent, _, name = path.encode("utf-8", "surrogateescape").rpartition(b"/")
            if entry is None:
                trees[parent].drop(name)
            else:
                trees[parent].set(name, *entry)
        made = _write_trees(root, order, trees)
    finally:
        indexed()  # never return (nor fall back to `git add`) while git still writes the index
    return made, top


def _new_files(root: Path, path: str) -> list[str]:
    """The files `git add` takes from a directory that is new since HEAD: all but the ignored
    (a predictions.jsonl DVC linked in as a symlink among them)."""
    found = []
    for top, dirs, names in os.walk(root / path):
        if ".git" in dirs or ".git" in names:
            raise _Plain  # a nested repository
        found += [(Path(top) / n).relative_to(root).as_posix() for n in names]
        found += [(Path(top) / d).relative_to(root).as_posix() for d in dirs if (Path(top) / d).is_symlink()]
    if any("\n" in f for f in found):
        raise _Plain
    ignored = set(_run(root, ["check-ignore", "--no-index", "-z", "--stdin"], "".join(f"{f}\0" for f in found).encode(),
                       ok=(0, 1)).decode("utf-8", "surrogateescape").split("\0"))
    kept = sorted(f for f in found if f not in ignored)
    if any((root / f).is_symlink() or not (root / f).is_file() for f in kept):
        raise _Plain  # a symbolic link or a special file is staged as git makes it
    return kept
