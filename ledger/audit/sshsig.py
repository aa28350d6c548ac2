"""In-process check of git's SSH tag signatures (ed25519, OpenSSH's PROTOCOL.sshsig) against
an allowed_signers file: the fast path of `ledger verify`, ~0.2 ms a tag instead of a
`git verify-tag` + `ssh-keygen` process pair (~25 ms).

It can only ACCEPT. Anything it does not fully understand -- another key type or signature
format, principal patterns, a certificate authority, options other than `namespaces`, key
validity dates, a configured revocation file -- or anything that does not check out, gives
None and the caller asks `git verify-tag`, which stays the authority for every rejection and
every message. `LEDGER_SIGCHECK=git` turns this path off."""

from __future__ import annotations

import base64
import hashlib
import os
import struct

from ..gitops import signature_start

MARKER = b"-----BEGIN SSH SIGNATURE-----"
_END = b"-----END SSH SIGNATURE-----"
_HASHES = {b"sha512": hashlib.sha512, b"sha256": hashlib.sha256}
_PATTERN_CHARS = set("*?!")


def enabled() -> bool:
    return os.environ.get("LEDGER_SIGCHECK", "").strip().lower() != "git"


def split_signed(obj: bytes) -> tuple[bytes, bytes] | None:
    """(payload, armored signature) of a signed tag object, split where git splits it: at the
    last line that starts a signature (gitops.signature_start). None unless that signature is an
    SSH one."""
    start = signature_start(obj)
    if not obj.startswith(MARKER, start):
        return None
    return obj[:start], obj[start:]


def _strings(blob: bytes, count: int) -> list[bytes] | None:
    out, pos = [], 0
    for _ in range(count):
        if pos + 4 > len(blob):
            return None
        (n,) = struct.unpack(">I", blob[pos:pos + 4])
        if pos + 4 + n > len(blob):
            return None
        out.append(blob[pos + 4:pos + 4 + n])
        pos += 4 + n
    return out if pos == len(blob) else None


def _canonical_b64(text: bytes) -> bytes | None:
    """The bytes `text` encodes, only when `text` is exactly their base64 encoding: Python's
    decoder takes surplus padding (`KEY=`) that ssh-keygen rejects as an invalid key."""
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        return None
    return raw if base64.b64encode(raw) == text else None


def _string(value: bytes) -> bytes:
    return struct.pack(">I", len(value)) + value


def _ed25519_key(pubkey_blob: bytes) -> bytes | None:
    parts = _strings(pubkey_blob, 2)
    return parts[1] if parts and parts[0] == b"ssh-ed25519" and len(parts[1]) == 32 else None


def signing_key(payload: bytes, armored: bytes, namespace: bytes = b"git") -> bytes | None:
    """The ssh-ed25519 public key blob whose valid signature over `payload` (in `namespace`)
    `armored` is, or None."""
    lines = armored.strip().split(b"\n")
    if len(lines) < 3 or lines[0].strip() != MARKER or lines[-1].strip() != _END:
        return None
    body = b"".join(ln.strip() for ln in lines[1:-1])
    blob = _canonical_b64(body)
    if blob is None:
        return None
    if not blob.startswith(b"SSHSIG") or blob[6:10] != struct.pack(">I", 1):
        return None
    fields = _strings(blob[10:], 5)
    if not fields:
        return None
    pubkey, ns, reserved, hash_alg, signature = fields
    key = _ed25519_key(pubkey)
    sig = _strings(signature, 2)
    if key is None or ns != namespace or hash_alg not in _HASHES or not sig or sig[0] != b"ssh-ed25519" \
            or len(sig[1]) != 64:
        return None
    signed = (b"SSHSIG" + _string(ns) + _string(reserved) + _string(hash_alg)
              + _string(_HASHES[hash_alg](payload).digest()))
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(key).verify(sig[1], signed)
    except (InvalidSignature, ValueError):
        return None
    return pubkey


_PLAIN = frozenset(b"\t\n" + bytes(range(0x20, 0x7F)))


def parse_allowed_signers(data: bytes | str) -> dict[bytes, list[str]] | None:
    """ssh-ed25519 key blob -> the principals fields of the lines that allow it to sign in the
    git namespace. None when the file uses anything this fast path is not certain to read
    exactly as ssh-keygen does (then git decides): any byte but tab, newline and printable
    ASCII (no CR, form feed, NUL, Unicode separators or spaces), a duplicated option, an
    option other than namespaces, a quoted or patterned principal, another key type."""
    raw_bytes = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    if not set(raw_bytes) <= _PLAIN:
        return None
    text = raw_bytes.decode("ascii")
    allowed: dict[bytes, list[str]] = {}
    for raw in text.split("\n"):
        line = raw.strip(" \t")
        if not line or line.startswith("#"):
            continue
        tokens = _split_outside_quotes(line, None)
        if tokens is None or len(tokens) < 3:
            return None
        principals, rest = tokens[0], tokens[1:]
        options = ""
        if not rest[0].startswith(("ssh-", "ecdsa-", "sk-")):
            options, rest = rest[0], rest[1:]
        if len(rest) < 2 or rest[0] != "ssh-ed25519":
            return None  # other key types: leave the whole decision to git
        namespaces = None
        opts = _split_outside_quotes(options, ",") if options else []
        if opts is None:
            return None  # an unbalanced quote or an empty option (`,,`): ssh-keygen rejects those
        for opt in opts:
            name, _, value = opt.partition("=")
            if name.lower() != "namespaces" or len(value) < 2 or value[0] != '"' or value[-1] != '"':
                return None  # cert-authority, valid-after/-before, ...
            if namespaces is not None or '"' in value[1:-1]:
                return None  # a duplicated option: which one ssh-keygen honours is its business
            namespaces = value[1:-1].split(",")
        if namespaces is not None and (any(_PATTERN_CHARS & set(n) for n in namespaces)):
            return None
        if namespaces is not None and "git" not in namespaces:
            continue
        if _PATTERN_CHARS & set(principals) or '"' in principals:
            return None
        blob = _canonical_b64(rest[1].encode("ascii"))
        if blob is None or _ed25519_key(blob) is None:
            return None
        allowed.setdefault(blob, []).append(principals)
    return allowed


def _split_outside_quotes(text: str, sep: str | None) -> list[str] | None:
    """Splits on runs of whitespace (sep None) or on each `sep`, never inside double quotes
    (kept). None for an unbalanced quote, or an empty item between `sep`s (or at either end)."""
    out, cur, quoted = [], "", False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if not quoted and (ch in " \t" if sep is None else ch == sep):
            if cur:
                out.append(cur)
            elif sep is not None:
                return None
            cur = ""
            continue
        cur += ch
    if quoted or (sep is not None and not cur):
        return None
    return out + ([cur] if cur else [])


class Checker:
    """One allowed_signers file, parsed once for all the tags of a `ledger verify`."""

    def __init__(self, allowed_signers: bytes | None, revocation_configured: bool = False):
        self.allowed = None
        if allowed_signers is not None and enabled() and not revocation_configured:
            self.allowed = parse_allowed_signers(allowed_signers)

    def principal(self, tag_object: bytes | None, tagger_email: str) -> str | None:
        """The tagger's email when `tag_object` carries a valid ed25519 signature by a key that
        allowed_signers grants to exactly that principal; otherwise None (ask git)."""
        if self.allowed is None or not tag_object:
            return None
        parts = split_signed(tag_object)
        key = signing_key(*parts) if parts else None
        lines = self.allowed.get(key, []) if key else []
        # exactly one allowed_signers line with exactly one principal for this key: what git
        # would report as the signer (more than one and git's answer is git's to give)
        if len(lines) != 1 or "," in lines[0]:
            return None
        return lines[0] if lines[0].lower() == tagger_email.strip("<>").lower() else None
