"""Verdicts of `ledger verify` that passed, remembered by the immutable ids they depended on.

A promotion's checks against git (signature, signed record, tagged tree, DVC pointer, nothing
changed since) depend only on objects named by ids: the tag object (record, signature,
tagger, the commit it names), the promoted dir's tree at HEAD, and the allowed signers. A pass
is remembered under a key made of those ids plus everything else the verdict read -- the
allowed_signers bytes, the revocation file's path and bytes, the signature settings, and the
verifier's own source -- so that any change to any of them is a different key: a cache can
only skip work, never turn a failure into a pass. Failures are never remembered.

Reachability of the promotion commit is not part of a key: verify computes it every time.

The working-tree check (files hashed against the signed digests) is remembered per promotion
under its own key plus the full stat of every file it read (size, mtime, ctime, inode,
device): ctime cannot be set from user space, so content cannot change under the same stat.
A file changed less than two seconds before it was hashed is never remembered (racy: it may
change again within the same timestamp).

The cache is a file per clone in the user's cache directory (`$XDG_CACHE_HOME/ledger/verify/`,
default `~/.cache`), never in the repository: verify stays a read-only command. It is best
effort: unreadable means empty, unwritable means not saved. `LEDGER_VERIFY_CACHE=0` turns it
off."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from .. import usercache
from ..gitops import Git

_VERSION = "ledger-verify-cache/1"
_RACY_S = 2.0
_SOURCES = Path(__file__).resolve().parents[1]  # the ledger package: any code change is a new key


def _source_digest() -> str | None:
    """The digest of ledger's source; None when the verifier's own source is not there to read
    (ledger installed from bytecode alone, or zipped): a key without it would stay the same
    across ledger versions, so nothing is remembered then."""
    sources = sorted(_SOURCES.rglob("*.py"))
    if _SOURCES / "audit" / "verify.py" not in sources:
        return None
    h = hashlib.sha256()
    for p in sources:
        h.update(p.relative_to(_SOURCES).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def _stat(path: Path) -> list[int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]


class Verdicts:
    """Remembered passes for one verify run's context (see the module docstring)."""

    def __init__(self, git: Git, signers_blob: bytes | None, revocation: str | None):
        self.path: Path | None = None
        self.context = ""
        self.old: dict[str, Any] = {}
        self.new: dict[str, Any] = {}
        if os.environ.get("LEDGER_VERIFY_CACHE", "1") == "0":
            return
        source = _source_digest()  # every ledger source file read: only with the cache on
        if source is None:
            return
        parts = [_VERSION, source, os.environ.get("LEDGER_SIGCHECK", ""),
                 hashlib.sha256(signers_blob).hexdigest() if signers_blob is not None else "no signers",
                 git.config("gpg.ssh.program") or "", git.config("gpg.program") or ""]
        if revocation:
            try:
                parts += [revocation, hashlib.sha256(Path(revocation).expanduser().read_bytes()).hexdigest()]
            except OSError:
                return  # a revocation file verify cannot read: nothing is remembered
        self.context = hashlib.sha256("\0".join(parts).encode()).hexdigest()
        self.path = git.user_cache("verify")
        data = usercache.load(self.path)  # a missing, unreadable or garbled cache is an empty one
        if isinstance(data, dict) and data.get("context") == self.context and isinstance(data.get("passes"), dict):
            self.old = data["passes"]

    @property
    def on(self) -> bool:
        return bool(self.context)

    def remembered(self) -> int:
        """How many passes are remembered for this context (0 with the cache off, on a fresh CI
        runner, or for another signers file)."""
        return len(self.old) if self.on else 0

    @staticmethod
    def key(ref: str, tag_oid: str, path: str, tree: str | None) -> str:
        return hashlib.sha256("\0".join((ref, tag_oid, path, tree or "")).encode()).hexdigest()

    def signer(self, key: str) -> str | None:
        """The principal of a remembered pass under `key`, or None."""
        entry = self.old.get(key) if self.on else None
        if isinstance(entry, dict) and isinstance(entry.get("signer"), str) and entry["signer"]:
            self.new.setdefault(key, {"signer": entry["signer"]})
            return entry["signer"]
        return None

    def passed(self, key: str, signer: str) -> None:
        if self.on:
            self.new[key] = {"signer": signer}

    def workspace(self, key: str, files: list[Path]) -> list[str] | None:
        """The notes of a remembered working-tree pass of these files, if none changed since."""
        entry = self.old.get(key) if self.on else None
        ws = entry.get("ws") if isinstance(entry, dict) else None
        if not (isinstance(ws, list) and len(ws) == 2 and isinstance(ws[1], list)):
            return None
        if ws[0] != self._stats(files) or not all(isinstance(n, str) for n in ws[1]):
            return None
        if key in self.new:
            self.new[key]["ws"] = ws
        return list(ws[1])

    def workspace_passed(self, key: str, files: list[Path], notes: list[str], started: float) -> None:
        if not self.on or key not in self.new:
            return
        stats = [_stat(p) for p in files]
        if any(s is not None and max(s[1], s[2]) / 1e9 > started - _RACY_S for s in stats):
            return  # racy: changed too recently to trust the same stat for the same content
        self.new[key]["ws"] = [self._stats(files), list(notes)]

    @staticmethod
    def _stats(files: list[Path]) -> str:
        return hashlib.sha256(json.dumps([[str(p), _stat(p)] for p in files]).encode()).hexdigest()

    def save(self, keep_old: bool) -> None:
        """Writes what this run used or learned (plus, with `keep_old`, what it did not look at:
        a verify of one id keeps the rest). Atomic; silently skipped when the cache directory is
        not writable."""
        if not self.on or self.path is None:
            return
        passes = {**self.old, **self.new} if keep_old else self.new
        if passes == self.old:
            return
        usercache.save(self.path, {"context": self.context, "passes": passes})
