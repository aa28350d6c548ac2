"""Progress reporting for long operations (hashing, verify of many tags, push).

Library code reports through `task()`; nothing is rendered unless the CLI called
`enable()` (it does so only when stderr is a terminal and --json was not given), so
library calls, tests and machine-readable output stay silent.

    with progress.task("verify", total=len(tags)) as tick:
        for tag in tags:
            ...
            tick()          # or tick(n) for n units (bytes when unit="B")
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterator, TextIO

_state: dict[str, object] = {"enabled": False, "stream": None}
_MIN_INTERVAL = 0.1  # seconds between redraws
_WIDTH = 30
# Hashing smaller than this is instant: no bar for it.
LARGE_BYTES = 32 << 20

Tick = Callable[..., None]  # also has .set_total(n)


def enable(on: bool = True, stream: TextIO | None = None) -> None:
    """Turn rendering on (to `stream`, default stderr at render time) or off."""
    _state["enabled"] = bool(on)
    _state["stream"] = stream


def enabled() -> bool:
    return bool(_state["enabled"])


def should_enable(stream: TextIO, argv: list[str]) -> bool:
    """The CLI rule: a terminal, and no machine-readable output asked for."""
    if "--json" in argv or "--format=json" in argv or any(
            a == "--format" and b == "json" for a, b in zip(argv, argv[1:])):
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _fmt(value: float, unit: str) -> str:
    if unit == "B":
        for suffix in ("B", "KB", "MB", "GB"):
            if value < 1024 or suffix == "GB":
                return f"{value:.0f} {suffix}" if suffix == "B" else f"{value:.1f} {suffix}"
            value /= 1024
    return f"{int(value)}{(' ' + unit) if unit else ''}"


class _Bar:
    def __init__(self, label: str, total: int | None, unit: str, stream: TextIO):
        self.label, self.total, self.unit, self.stream = label, total, unit, stream
        self.done = 0
        self.start = time.monotonic()
        self.last = 0.0

    def line(self) -> str:
        elapsed = time.monotonic() - self.start
        if self.total:
            frac = min(1.0, self.done / self.total)
            filled = int(frac * _WIDTH)
            bar = "#" * filled + "-" * (_WIDTH - filled)
            return (f"{self.label} [{bar}] {frac * 100:3.0f}% "
                    f"{_fmt(self.done, self.unit)}/{_fmt(self.total, self.unit)} {elapsed:.1f}s")
        return f"{self.label} {_fmt(self.done, self.unit)} {elapsed:.1f}s"

    def draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < _MIN_INTERVAL:
            return
        self.last = now
        self.stream.write("\r\x1b[K" + self.line())
        self.stream.flush()

    def __call__(self, n: int = 1) -> None:
        self.done += n
        self.draw(force=bool(self.total) and self.done >= self.total)

    def set_total(self, total: int | None) -> None:
        self.total = total
        self.draw(force=True)

    def close(self) -> None:
        self.draw(force=True)
        self.stream.write("\n")
        self.stream.flush()


class _Null:
    """What `task()` yields when rendering is off: accepts everything, does nothing."""

    def __call__(self, n: int = 1) -> None:
        return None

    def set_total(self, total: int | None) -> None:
        return None


_noop = _Null()


@contextmanager
def task(label: str, total: int | None = None, unit: str = "") -> Iterator[Tick]:
    """Yields `tick`: call `tick(n=1)` per unit done, `tick.set_total(n)` once the amount
    is known (if it was not at the start). Renders a bar on stderr only when enabled."""
    if not _state["enabled"]:
        yield _noop
        return
    stream = _state["stream"] or sys.stderr
    bar = _Bar(label, total, unit, stream)  # type: ignore[arg-type]
    bar.draw(force=True)
    try:
        yield bar
    finally:
        bar.close()


@contextmanager
def bytes_task(label: str, total: int) -> Iterator[Tick]:
    """A byte-counting task that shows only for large amounts (hashing, copying, upload)."""
    if total < LARGE_BYTES:
        yield _noop
        return
    with task(label, total, unit="B") as tick:
        yield tick
