"""The scorer interface. A scorer is either per-case (`score_case(case, prediction)` -> numbers,
written to scores.jsonl and aggregated, by default as the mean) or whole-run
(`score_run(cases, predictions)` -> numbers). Every scorer has a version; the versions of a
run's scorers make up its `evaluator_version`, so runs scored differently are never ranked."""

from __future__ import annotations

import math
from typing import Any

from ..errors import UsageError
from ..layout import brief


class Scorer:
    name: str = ""
    version: str = "1"
    per_case: bool = True

    def score_case(self, case: dict[str, Any], prediction: dict[str, Any]) -> dict[str, float]:
        raise NotImplementedError

    def aggregate(self, cases: list[dict[str, Any]], predictions: list[dict[str, Any]],
                  rows: list[dict[str, float]]) -> dict[str, float]:
        """Whole-run metrics from the per-case rows (mean of each key) -- or, for a whole-run
        scorer, from the cases and predictions themselves."""
        keys = sorted({k for r in rows for k in r})
        return {k: sum(r[k] for r in rows if k in r) / max(1, sum(k in r for r in rows)) for k in keys}

    def label(self) -> str:
        return f"{self.name}/{self.version}"


def number(value: Any, who: str, what: str) -> float:
    """A scorer's value as a finite float: a bool counts as 1/0; NaN, inf and non-numbers are errors."""
    if isinstance(value, bool):
        return float(value)
    if not isinstance(value, (int, float)):
        raise UsageError(f"{who} returned {brief(value)} for {what}: expected a number")
    if not math.isfinite(value):
        raise UsageError(f"{who} returned {value} for {what}: NaN and infinity are not scores")
    return float(value)


def numbers(value: Any, name: str, who: str, what: str) -> dict[str, float]:
    """A number (-> {name: v}) or a mapping of metric name -> number."""
    if isinstance(value, dict):
        if not value:
            raise UsageError(f"{who} returned an empty mapping for {what}")
        out = {}
        for key, v in value.items():
            if not isinstance(key, str) or not key:
                raise UsageError(f"{who} returned a non-string metric name {brief(key)} for {what}")
            out[key] = number(v, who, f"{what} ({key})")
        return out
    return {name: number(value, who, what)}
