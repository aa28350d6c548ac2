"""Digests: file sha256/md5 and canonical JSON."""

from __future__ import annotations

import json
from pathlib import Path

TYPE_CHECKING = False  # annotations only: importing typing costs `ledger list`/`log` ~1.3 ms
if TYPE_CHECKING:
    from typing import Any, Callable

_CHUNK = 1 << 20


def file_digest(path: str | Path, algo: str = "sha256", on_chunk: Callable[[int], None] | None = None) -> str:
    """`on_chunk(nbytes)` is called after each chunk (progress reporting)."""
    import hashlib  # OpenSSL's, fast on large files; not loaded by commands that hash nothing

    h = hashlib.new(algo)
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
            if on_chunk is not None:
                on_chunk(len(chunk))
    return h.hexdigest()


def light_sha256(data: bytes = b""):
    """A sha256 object for a few short inputs, from CPython's own SHA-256 module when it has one
    (`_sha256`; `_sha2` from 3.12), else hashlib's: importing hashlib loads OpenSSL, ~2.5 ms of
    every `ledger list`/`log`, which digest a path and three source files."""
    try:
        from _sha256 import sha256
    except ImportError:
        try:
            from _sha2 import sha256
        except ImportError:
            from hashlib import sha256
    return sha256(data)


def bytes_sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def canonical_json(obj: Any) -> bytes:
    """Byte-stable JSON: sorted keys, no whitespace, UTF-8; NaN and infinity are not JSON and
    never enter a digest (ValueError: callers turn it into a clear error)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def json_sha256(obj: Any) -> str:
    return bytes_sha256(canonical_json(obj))


def dump_json(obj: Any) -> str:
    """Human-facing JSON file content (stable, reviewable in a PR)."""
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
