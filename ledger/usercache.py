"""Files ledger keeps per clone in the user's cache directory (`$XDG_CACHE_HOME/ledger/<kind>/`,
default `~/.cache`), never in the repository, so that commands that only read stay read-only:
the verify cache (audit/cache.py) and the rows `list` and `log` print (audit/listing.py). Best
effort both ways: unreadable means empty, unwritable means not saved."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

TYPE_CHECKING = False  # annotations only: importing typing costs `ledger list`/`log` ~1.3 ms
if TYPE_CHECKING:
    from typing import Any


def load(path: Path | None) -> Any:
    """The JSON in `path`, or None when there is none or it is not JSON."""
    try:
        return json.loads(path.read_bytes()) if path is not None else None
    except Exception:  # missing, unreadable, garbled, too deep: nothing remembered
        return None


def save(path: Path | None, data: Any) -> None:
    """Writes `data` as JSON to `path` atomically (a temporary file beside it, then a rename);
    silently skipped when the directory cannot be made or written."""
    if path is None:
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(data, separators=(",", ":")))
        os.replace(tmp, path)
    except OSError:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
