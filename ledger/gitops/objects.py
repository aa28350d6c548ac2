"""Reading git objects for `ledger verify` and friends: trees, blobs and commits through
GitPython's persistent `git cat-file --batch` process (no git process per read), with the
git binary as the fallback for specs the line-based batch protocol cannot carry."""

from __future__ import annotations

from ..errors import LedgerError
from ._proc import git_bytes


def _batchable(spec: str) -> bool:
    """The batch protocol is line based: a spec with a line break (it can come from an
    untrusted tag record) must go through a git process of its own."""
    return not any(c in spec for c in "\n\r\0")


class ObjectReads:
    """Mixed into gitops.Git, which provides `root`, `repo`, `run` and `rev_parse`."""

    def ls_tree(self, rev: str, path: str) -> dict[str, str]:
        """relative path -> blob oid, for every file below `path` at `rev`."""
        spec = f"{rev}:{path.rstrip('/')}"
        if _batchable(spec):
            return self._tree_files(spec)
        out = self.run("ls-tree", "-r", "-z", "--full-tree", rev, "--", path.rstrip("/") + "/", strip=False)
        files = {}
        for line in out.split("\0"):
            if not line:
                continue
            meta, fpath = line.split("\t", 1)
            files[fpath[len(path.rstrip('/')) + 1:]] = meta.split()[2]
        return files

    def blob(self, oid_or_rev_path: str) -> bytes:
        proc = git_bytes(self.root, ["cat-file", "-p", oid_or_rev_path])
        if proc.returncode != 0:
            raise LedgerError(f"git cat-file failed: {proc.stderr.decode('utf-8', 'replace').strip() or proc.returncode}")
        return proc.stdout

    # Many small reads (verify of thousands of tags): one persistent `git cat-file --batch`
    # process instead of one git process per read.
    def object_id(self, spec: str) -> str | None:
        """Like rev_parse(spec) for `rev:path` and object ids, through the batch process."""
        if not _batchable(spec):
            return self.rev_parse(spec)
        try:
            return self.repo.git.get_object_header(spec)[0].decode()
        except ValueError:
            return None

    def object_bytes(self, spec: str) -> bytes | None:
        """Contents of an object (oid or `rev:path`), or None if there is none."""
        if not _batchable(spec):
            return self.blob(spec) if self.rev_parse(spec) else None
        found = self._typed(spec)
        return found[2] if found else None

    def _typed(self, spec: str) -> tuple[str, str, bytes] | None:
        """(oid, type, raw contents) through the batch process (spec without line breaks)."""
        try:
            oid, kind, _size, data = self.repo.git.get_object_data(spec)
        except ValueError:
            return None
        return oid.decode(), kind.decode(), data

    def _tree_files(self, spec: str) -> dict[str, str]:
        top = self._typed(spec)
        if top is None or top[1] != "tree":
            return {}
        width = len(top[0]) // 2  # raw oid bytes: 20 (sha1) or 32 (sha256)
        files: dict[str, str] = {}
        stack = [("", top[2])]
        while stack:
            prefix, data = stack.pop()
            pos = 0
            while pos < len(data):
                space, nul = data.index(b" ", pos), data.index(b"\0", pos)
                mode, name = data[pos:space], data[space + 1:nul].decode("utf-8", "surrogateescape")
                oid = data[nul + 1:nul + 1 + width].hex()
                pos = nul + 1 + width
                if mode == b"40000":
                    sub = self._typed(oid)
                    stack.append((f"{prefix}{name}/", sub[2] if sub else b""))
                else:
                    files[prefix + name] = oid
        return files

    def reachable(self, head: str) -> set[str]:
        """Every commit reachable from `head` (one rev-list, cached: verify asks per tag)."""
        cache = self.__dict__.setdefault("_reachable", {})
        if head not in cache:
            cache[head] = set(self.run("rev-list", head).split())
        return cache[head]

    def show_file(self, rev: str, path: str) -> bytes | None:
        if self.rev_parse(f"{rev}:{path}") is None:
            return None
        return self.blob(f"{rev}:{path}")

    def parents(self, rev: str) -> list[str]:
        commit = self._typed(rev + "^{commit}") if _batchable(rev) else None
        if commit is None:
            return self.run("rev-list", "--parents", "-n", "1", rev).split()[1:]
        header = commit[2].split(b"\n\n", 1)[0].split(b"\n")
        return [line[7:].decode() for line in header if line.startswith(b"parent ")]
