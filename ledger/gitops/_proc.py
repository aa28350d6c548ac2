"""Running the git binary: one process per call, `LC_ALL=C` so messages are stable."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from ..errors import NotFound

_ENV_C = {"LANGUAGE": "C", "LC_ALL": "C"}


def git_bytes(cwd: str | Path, args: list[str], input: bytes | None = None) -> subprocess.CompletedProcess:
    """`git *args` in `cwd` (`input` on its stdin, else none), stdout and stderr as bytes."""
    try:
        return subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True,
                              stdin=None if input is not None else subprocess.DEVNULL, env={**os.environ, **_ENV_C})
    except FileNotFoundError as exc:  # no git binary, or cwd vanished
        raise NotFound(f"cannot run git in {cwd}: {exc.strerror}") from None


def git(cwd: str | Path, args: list[str], strip: bool = True) -> tuple[int, str, str]:
    """(status, stdout, stderr) of `git *args` in `cwd`; a trailing newline is dropped when `strip`."""
    proc = git_bytes(cwd, args)
    out, err = (b.decode("utf-8", "surrogateescape") for b in (proc.stdout, proc.stderr))
    if strip and out.endswith("\n"):
        out = out[:-1]
    return proc.returncode, out, err.rstrip("\n")
