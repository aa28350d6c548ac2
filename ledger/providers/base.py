"""The provider interface: the user's model or system under evaluation.

A provider turns the cases of a dataset into one output mapping per case. The config's
`provider:` selects the kind (python, command, openai, precomputed, a built-in example, or a
name registered in the `ledger.providers` entry-point group); the kind's own options sit
beside it at the top level of the config, `params:` are handed to the user's code.
Execution is neutral: the same code path serves every run, whatever it is later promoted to."""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Callable, Iterable

from ..errors import UsageError
from ..layout import brief


class Provider(ABC):
    kind: str = ""
    version: str = "0"
    task: str | None = None  # a built-in example does one task; None: any task
    # top-level config keys this kind reads: key -> (type or tuple of types, default; ... = required)
    options: dict[str, tuple[Any, Any]] = {}

    def __init__(self, root: Path, config: dict[str, Any], where: str):
        self.root, self.where = root, where
        self.params: dict[str, Any] = dict(config.get("params") or {})
        self.opts: dict[str, Any] = {}
        for key, (typ, default) in self.options.items():
            if key not in config or config[key] is None:
                if default is ...:
                    raise UsageError(f"{where}: provider {self.kind!r} needs `{key}`")
                self.opts[key] = default
                continue
            value = config[key]
            if not isinstance(value, typ) or (isinstance(value, bool) and bool not in _types(typ)):
                names = "/".join(t.__name__ for t in _types(typ))
                raise UsageError(f"{where}: `{key}` must be {names}, not {brief(value)}")
            self.opts[key] = value
        self.validate()

    def validate(self) -> None:
        """Extra checks of self.opts / self.params; raise UsageError."""

    @abstractmethod
    def predict_all(self, cases: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """case_id -> output mapping (without case_id), for every case."""

    def identity(self) -> str:
        return self.kind

    def describe(self) -> dict[str, Any]:
        """Provenance: what ran (kind, identity, version, source digests), never a secret."""
        return {"kind": self.kind, "name": self.identity(), "version": self.version, "params": self.params}

    def repo_files(self) -> list[str]:
        """Repository files this provider runs or reads (they must be DVC dependencies of the run)."""
        return []


def _types(typ: Any) -> tuple[type, ...]:
    return typ if isinstance(typ, tuple) else (typ,)


def check_output(value: Any, case_id: str, who: str) -> dict[str, Any]:
    """One case's output: a JSON mapping of finite values; a `case_id` in it must be this one."""
    if not isinstance(value, dict):
        raise UsageError(f"{who} returned {type(value).__name__} for case {brief(case_id)}: expected a mapping "
                         "of output fields, e.g. {\"label\": ...}")
    out = dict(value)
    if "case_id" in out:
        if out.pop("case_id") != case_id:
            raise UsageError(f"{who}: output for case {brief(case_id)} names another case_id")
    try:
        json.dumps(out, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{who}: output for case {brief(case_id)} is not JSON ({exc})") from None
    return out


def jsonl(lines: Iterable[bytes], bad_line: Callable[[int, bytes], str]) -> list[Any]:
    """The JSON values of the non-blank lines; a line that is not UTF-8 JSON: UsageError(bad_line(n, line))."""
    rows = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line.decode("utf-8")))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise UsageError(bad_line(n, line)) from None
    return rows


def collect(rows: list[Any], cases: dict[str, dict[str, Any]], who: str) -> dict[str, dict[str, Any]]:
    """Outputs that name their case (`case_id` in each row): every case exactly once."""
    out: dict[str, dict[str, Any]] = {}
    for n, row in enumerate(rows, 1):
        if not isinstance(row, dict) or not isinstance(row.get("case_id"), str):
            raise UsageError(f"{who}: output {n} is not an object with a string case_id")
        cid = row["case_id"]
        if cid not in cases:
            raise UsageError(f"{who}: output {n} is for unknown case {brief(cid)}")
        if cid in out:
            raise UsageError(f"{who}: duplicate output for case {brief(cid)}")
        out[cid] = check_output(row, cid, who)
    missing = sorted(set(cases) - set(out))
    if missing:
        raise UsageError(f"{who}: no output for {len(missing)} case(s), e.g. {brief(missing[0])}")
    return out


def finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
