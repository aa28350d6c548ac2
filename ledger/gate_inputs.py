"""What a scorecard is fed besides the run's own metrics.json: `--metric NAME=VALUE`,
`--metrics-from FILE.json` (metrics another pipeline step emitted), and which of those supply a
missing value and which override a measured one (only with --override, shown everywhere)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .errors import UsageError


def _num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def metrics_from(paths: list[str] | None) -> tuple[dict[str, float], dict[str, str]]:
    """`--metrics-from FILE.json` (repeatable): metrics another step of the pipeline emitted (an
    online shadow summary, label counts). A JSON object; nested objects flatten with '.', as DVC
    shows them. (values, {file: sha256}); a name given by two files is an error."""
    import json

    from .hashing import file_digest

    values: dict[str, float] = {}
    digests: dict[str, str] = {}
    for path in paths or []:
        p = Path(path)
        try:
            data = json.loads(p.read_bytes().decode("utf-8"), parse_constant=lambda c: c)
        except FileNotFoundError:
            raise UsageError(f"--metrics-from {path}: no such file") from None
        except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise UsageError(f"--metrics-from {path}: not a JSON file ({exc.__class__.__name__})") from None
        if not isinstance(data, dict):
            raise UsageError(f"--metrics-from {path}: must be a JSON object of metric name -> number")
        for name, value in _flatten(data):
            if isinstance(value, bool) or not _num(value) or not math.isfinite(value):
                continue  # text, lists, NaN: not a metric (a gate on it is then skipped, and shown)
            if name in values:
                raise UsageError(f"--metrics-from: {name!r} is given by two files")
            values[name] = float(value)
        digests[str(path)] = file_digest(p)
    return values, digests


def _flatten(data: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        out.extend(_flatten(value, name + ".") if isinstance(value, dict) else [(name, value)])
    return out


def parse_overrides(items: list[str] | None, defs: dict[str, dict[str, Any]]) -> dict[str, float]:
    """`--metric name=value` -> {name: value}; the name must be a metric some gate defines."""
    out: dict[str, float] = {}
    for item in items or []:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"--metric {item!r}: use NAME=VALUE, e.g. --metric human_pref=0.7")
        if name not in defs:
            raise UsageError(f"--metric {name}: no gate defines {name!r} (gates: {', '.join(sorted(defs)) or 'none'})")
        try:
            value = float(text)
        except ValueError:
            raise UsageError(f"--metric {name}: {text!r} is not a number") from None
        if not math.isfinite(value):
            raise UsageError(f"--metric {name}: {text!r} is not a finite number")
        if name in out:
            raise UsageError(f"--metric {name} given twice")
        out[name] = value
    return out


def supply(run_metrics: dict[str, Any], supplied: dict[str, float], override: bool) -> dict[str, str]:
    """name -> "supplied" (the run has no value) or "override" (it has one: needs `override`)."""
    sources = {}
    for name, value in supplied.items():
        if name in run_metrics and run_metrics[name] is not None:
            if not override:
                raise UsageError(f"{name}: the run measured {run_metrics[name]!r}; replacing a measured value "
                                 f"with {value:g} needs --override (it is then shown as an override)")
            sources[name] = "override"
        else:
            sources[name] = "supplied"
    return sources
