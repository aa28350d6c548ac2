"""The user's signing identity as git will use it, and whether the committed allowed_signers
grants it: checked by `ledger promote` before anything is written, so that a promotion is
never made that `ledger verify` would then reject. verify stays the authority."""

from __future__ import annotations

import fnmatch
import subprocess
from pathlib import Path

from .gitops import Git


def public_key(git: Git) -> str | None:
    """`<type> <base64>` of the ssh key in user.signingkey (a public key file, a private key
    with a .pub beside it or readable without a passphrase, or a `key::` literal), or None."""
    key = git.config("user.signingkey")
    if not key:
        return None
    if key.startswith("key::"):
        text = key[5:]
    elif key.startswith(("ssh-", "ecdsa-", "sk-")):
        text = key
    else:
        path = Path(key).expanduser()
        if not path.is_absolute():
            path = git.root / path
        sibling = path.with_name(path.name + ".pub")
        if path.suffix == ".pub" and path.is_file():
            text = path.read_text(errors="replace")
        elif sibling.is_file():
            text = sibling.read_text(errors="replace")
        else:
            try:
                proc = subprocess.run(["ssh-keygen", "-y", "-P", "", "-f", str(path)], capture_output=True,
                                      text=True, timeout=10, stdin=subprocess.DEVNULL)
            except (OSError, subprocess.TimeoutExpired):
                return None
            if proc.returncode != 0:
                return None
            text = proc.stdout
    fields = text.split()
    return f"{fields[0]} {fields[1]}" if len(fields) >= 2 else None


def granted(allowed_signers: bytes | None, email: str, pubkey: str) -> bool:
    """Does a line of allowed_signers grant `pubkey` to `email` in the git namespace? (Read
    plainly; lines ssh-keygen would read differently fail verify, which decides.)"""
    if not allowed_signers or not email:
        return False
    keytype, _, blob = pubkey.partition(" ")
    for raw in allowed_signers.decode("utf-8", "replace").split("\n"):
        tokens = raw.strip(" \t").split()
        if not tokens or tokens[0].startswith("#") or len(tokens) < 3:
            continue
        principals, rest = tokens[0], tokens[1:]
        namespaces = None
        if not rest[0].startswith(("ssh-", "ecdsa-", "sk-")):
            options, rest = rest[0], rest[1:]
            for opt in options.split(","):
                name, _, value = opt.partition("=")
                if name.lower() == "namespaces":
                    namespaces = value.strip('"').split(",")
        if len(rest) < 2 or (rest[0], rest[1]) != (keytype, blob):
            continue
        if namespaces is not None and "git" not in namespaces:
            continue
        if any(fnmatch.fnmatchcase(email, p) for p in principals.split(",")):
            return True
    return False
