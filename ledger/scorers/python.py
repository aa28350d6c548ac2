"""User scorers: `entrypoint: "pkg.module:fn"` in a config's `metrics:` list.

- per case (default): `fn(case, prediction) -> number | {metric: number}`; written to
  scores.jsonl and aggregated as the mean;
- whole run (`per_case: false`): `fn(cases, predictions) -> {metric: number}` over lists in
  case_id order (calibration, corpus-level scores, anything that is not a mean).

`version:` names the scorer's version; without it, a digest of its source stands in, so an
edited scorer is never compared with its former self."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import entrypoints
from ..errors import LedgerError, UsageError
from .base import Scorer, numbers


class PythonScorer(Scorer):
    def __init__(self, root: Path, name: str, spec: str, version: Any, per_case: bool, where: str):
        self.fn, self.source = entrypoints.load(root, spec, f"{where}: scorer {name!r}")
        self.name, self.spec, self.per_case = name, spec, per_case
        self.version = str(version) if version is not None else (
            self.source.get("version") or (self.source.get("source_sha256") or "unknown")[:12])
        self.who = f"scorer {name!r} ({spec})"

    def _call(self, what: str, *args: Any) -> Any:
        try:
            return self.fn(*args)
        except LedgerError:
            raise
        except Exception as exc:
            raise UsageError(f"{self.who} failed on {what}: {exc.__class__.__name__}: {exc}") from None

    def score_case(self, case, prediction):
        what = f"case {case.get('case_id')!r}"
        return numbers(self._call(what, dict(case), dict(prediction)), self.name, self.who, what)

    def aggregate(self, cases, predictions, rows):
        if self.per_case:
            return super().aggregate(cases, predictions, rows)
        got = self._call("the run", [dict(c) for c in cases], [dict(p) for p in predictions])
        if not isinstance(got, dict):
            got = {self.name: got}
        return numbers(got, self.name, self.who, "the run")

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "entrypoint": self.spec, "version": self.version, "per_case": self.per_case,
                "source": self.source}
