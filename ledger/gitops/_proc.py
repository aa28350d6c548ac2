"""Running the git binary: one process per call, `LC_ALL=C` so messages are stable."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from ..errors import LedgerError, NotFound

_ENV_C = {"LANGUAGE": "C", "LC_ALL": "C"}


def git_bytes(cwd: str | Path, args: list[str], input: bytes | None = None) -> subprocess.CompletedProcess:
    """`git *args` in `cwd` (`input` on its stdin, else none), stdout and stderr as bytes."""
    try:
        return subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True,
                              stdin=None if input is not None else subprocess.DEVNULL, env={**os.environ, **_ENV_C})
    except FileNotFoundError as exc:  # no git binary, or cwd vanished
        raise NotFound(f"cannot run git in {cwd}: {exc.strerror}") from None


def git_checked(cwd: str | Path, args: list[str], input: bytes | None = None, ok: tuple[int, ...] = (0,),
                options: tuple[str, ...] = ()) -> bytes:
    """stdout of `git *options *args` (`input` on its stdin); an exit status not in `ok` raises
    the one line `failed` gives, naming `args[0]`."""
    proc = git_bytes(cwd, [*options, *args], input)
    if proc.returncode not in ok:
        failed(args, proc.returncode, "", proc.stderr.decode("utf-8", "replace"))
    return proc.stdout


def git(cwd: str | Path, args: list[str], strip: bool = True) -> tuple[int, str, str]:
    """(status, stdout, stderr) of `git *args` in `cwd`; a trailing newline is dropped when `strip`."""
    proc = git_bytes(cwd, args)
    out, err = (b.decode("utf-8", "surrogateescape") for b in (proc.stdout, proc.stderr))
    if strip and out.endswith("\n"):
        out = out[:-1]
    return proc.returncode, out, err.rstrip("\n")


def begun(fn, *args):
    """`fn(*args)` begun now in a thread (git works while the caller does); calling the result
    waits and returns what `fn` returned, or raises what it raised."""
    import threading

    box: list = []

    def work() -> None:
        try:
            box.append(fn(*args))
        except BaseException as exc:  # no git binary, a vanished directory, a failed git: raised by result()
            box.append(exc)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()

    def result():
        thread.join()
        if isinstance(box[0], BaseException):
            raise box[0]
        return box[0]
    return result


def failed(args: list[str] | tuple[str, ...], status: int, out: str, err: str) -> None:
    """Raises the one line a failed git command gives: `git <cmd> failed: <its last line>` (of
    stderr, else of stdout), or its exit status when it printed nothing."""
    last = (err or out or "").strip().splitlines()
    raise LedgerError(f"git {args[0]} failed: {last[-1] if last else f'exit {status}'}")


def git_pieces(cwd: str | Path, args: list[str], sep: bytes, size: int = 1 << 16):
    """`git *args` in `cwd`, its stdout cut at every `sep`, each piece (bytes, `sep` left out)
    handed over as soon as git has written it -- the caller's work on one overlaps git's on the
    next -- then what follows the last `sep` when it is not empty. A git that fails raises
    LedgerError (its last stderr line) after its output; a caller that stops early stops git."""
    import threading

    try:
        proc = subprocess.Popen(["git", *args], cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env={**os.environ, **_ENV_C})
    except FileNotFoundError as exc:
        raise NotFound(f"cannot run git in {cwd}: {exc.strerror}") from None
    err: list[bytes] = []
    drain = threading.Thread(target=lambda: err.append(proc.stderr.read()), daemon=True)  # a full stderr pipe would stop git
    drain.start()
    pending: list[bytes] = []  # the piece being written, in chunks: joined once, when its `sep` has come
    try:
        for chunk in iter(lambda: proc.stdout.read1(size), b""):
            if sep not in chunk and not (pending and len(sep) > 1 and sep in pending[-1][1 - len(sep):] + chunk[:len(sep) - 1]):
                pending.append(chunk)
                continue
            pieces = b"".join([*pending, chunk]).split(sep)
            pending = [pieces.pop()]
            yield from pieces
    except BaseException:  # the caller stopped (or failed): git need not go on
        proc.kill()
        raise
    finally:
        proc.stdout.close()
        status = proc.wait()
        drain.join()
        proc.stderr.close()
    rest = b"".join(pending)
    if rest:
        yield rest
    if status != 0:
        failed(args, status, "", (err[0] if err else b"").decode("utf-8", "replace"))
