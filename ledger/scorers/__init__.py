"""Scorers: the metrics of a run's predictions against the dataset's targets.

A config's `metrics:` lists built-ins by name (`accuracy`, or `{scorer: token_f1, field: answer}`)
and the user's own (`{name: my_metric, entrypoint: "pkg.mod:fn", version: "2"}`); without it the
two example tasks (summarization, ner_entities) keep their default metrics. `slices: [field]`
adds the metrics per value of a case field, each slice with its own suite fingerprint."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..hashing import json_sha256
from ..layout import brief
from ..run.dataset import suite_fingerprint
from .base import Scorer
from .builtin import BUILTIN
from .python import PythonScorer
from .tasks import EVALUATORS, TaskSuite

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")
_ITEM_KEYS = {"name", "scorer", "entrypoint", "field", "reference", "version", "per_case"}
ROUND = 6


class Suite:
    def __init__(self, scorers: list[Any], slices: list[str], spec: Any, task_suite: bool):
        self.scorers, self.slices = scorers, slices
        labels = "+".join(s.label() for s in scorers)
        self.evaluator_version = labels if task_suite else f"{labels}#{json_sha256(spec)[:8]}"

    def repo_files(self) -> list[str]:
        """Repository files of the user's scorers (they must be DVC dependencies of the run)."""
        return sorted({f for s in self.describe() for f in (s.get("source") or {}).get("files") or {}})

    def describe(self) -> list[dict[str, Any]]:
        return [s.describe() if hasattr(s, "describe") else {"name": s.name, "version": s.version}
                for s in self.scorers]


def _str(item: dict, key: str, where: str) -> str | None:
    value = item.get(key)
    if value is not None and (not isinstance(value, str) or not value or len(value) > 200):
        raise UsageError(f"{where}: `{key}` must be a non-empty string")
    return value


def build(root: Path, config: dict[str, Any], where: str) -> Suite:
    raw, slices = config.get("metrics"), config.get("slices") or []
    if not isinstance(slices, list) or not all(isinstance(s, str) and s for s in slices):
        raise UsageError(f"{where}: `slices` must be a list of case field names")
    if raw is None:
        task = config["task"]
        if task not in EVALUATORS:
            raise UsageError(f"{where}: task {brief(task)} has no default metrics: list them under `metrics:` "
                             f"(built-in scorers: {', '.join(sorted(BUILTIN))}, or your own `entrypoint:`)")
        return Suite([TaskSuite(task)], slices, None, True)
    if not isinstance(raw, list) or not raw:
        raise UsageError(f"{where}: `metrics` must be a non-empty list")
    scorers: list[Scorer] = []
    for n, item in enumerate(raw, 1):
        at = f"{where}: metrics[{n}]"
        if isinstance(item, str):
            item = {"scorer": item}
        if not isinstance(item, dict):
            raise UsageError(f"{at} must be a scorer name or a mapping")
        unknown = sorted(map(str, set(item) - _ITEM_KEYS))
        if unknown:
            raise UsageError(f"{at}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(_ITEM_KEYS))})")
        builtin, spec = _str(item, "scorer", at), item.get("entrypoint")
        if (builtin is None) == (spec is None):
            raise UsageError(f"{at}: give either `scorer` (a built-in: {', '.join(sorted(BUILTIN))}) or `entrypoint`")
        name = _str(item, "name", at) or builtin or (spec.rsplit(":", 1)[-1].rsplit(".", 1)[-1]
                                                    if isinstance(spec, str) else "")
        if not _NAME.fullmatch(name):
            raise UsageError(f"{at}: metric name {brief(name)} must be [A-Za-z0-9_.-], at most 100 chars")
        if builtin is not None:
            if builtin not in BUILTIN:
                raise UsageError(f"{at}: unknown built-in scorer {brief(builtin)} "
                                 f"(known: {', '.join(sorted(BUILTIN))})")
            for key in ("version", "per_case"):
                if key in item:
                    raise UsageError(f"{at}: `{key}` is for your own scorers; built-in {builtin!r} has its own")
            scorers.append(BUILTIN[builtin](name, _str(item, "field", at) or "output", _str(item, "reference", at)))
        else:
            for key in ("field", "reference"):
                if key in item:
                    raise UsageError(f"{at}: `{key}` is for built-in scorers; yours reads case and prediction")
            per_case = item.get("per_case", True)
            if not isinstance(per_case, bool):
                raise UsageError(f"{at}: `per_case` must be true or false")
            version = item.get("version")
            if version is not None and not isinstance(version, (str, int, float)) or isinstance(version, bool):
                raise UsageError(f"{at}: `version` must be a string")
            scorers.append(PythonScorer(root, name, spec, version, per_case, at))
    names = [s.name for s in scorers]
    dup = next((x for x in names if names.count(x) > 1), None)
    if dup:
        raise UsageError(f"{where}: metric name {dup!r} appears twice in `metrics` (give one a `name:`)")
    return Suite(scorers, slices, raw, False)


def _merge(into: dict[str, float], new: dict[str, float], who: str) -> None:
    for key, value in new.items():
        if key in into:
            raise UsageError(f"{who}: metric {key!r} is also produced by another scorer (give one a `name:`)")
        into[key] = value


def _aggregate(suite: Suite, ids: list[str], cases: dict, preds: dict, per: list[dict]) -> dict[str, float]:
    out: dict[str, float] = {}
    case_list, pred_list = [cases[c] for c in ids], [preds[c] for c in ids]
    for scorer, rows in zip(suite.scorers, per):
        got = scorer.aggregate(case_list, pred_list, [rows[c] for c in ids] if scorer.per_case else [])
        _merge(out, got, f"scorer {scorer.name!r}")
    return {k: round(v, ROUND) for k, v in sorted(out.items())}


def evaluate(suite: Suite, task: str, cases: dict[str, dict], preds: dict[str, dict]
             ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(metrics.json document, scores.jsonl rows in case_id order)."""
    if not cases:
        raise UsageError("dataset has no cases")
    missing = set(cases) - set(preds)
    if missing:
        raise UsageError(f"no prediction for {len(missing)} case(s), e.g. {sorted(missing)[0]!r}")
    ids = sorted(cases)
    per: list[dict[str, dict[str, float]]] = []
    for scorer in suite.scorers:
        per.append({cid: scorer.score_case(cases[cid], preds[cid]) for cid in ids} if scorer.per_case else {})
    doc: dict[str, Any] = {"task": task, "evaluator_version": suite.evaluator_version, "n_cases": len(ids),
                           "metrics": _aggregate(suite, ids, cases, preds, per)}
    rows = []
    for cid in ids:
        scores: dict[str, float] = {}
        for scorer, rows_of in zip(suite.scorers, per):
            if scorer.per_case:
                _merge(scores, rows_of[cid], f"scorer {scorer.name!r}")
        row: dict[str, Any] = {"case_id": cid, "scores": {k: round(v, ROUND) for k, v in sorted(scores.items())}}
        if suite.slices:
            row["slice"] = {f: _slice_value(cases[cid], f) for f in suite.slices}
        rows.append(row)
    if suite.slices:
        doc["slices"] = {}
        for field in suite.slices:
            groups: dict[str, list[str]] = {}
            for cid in ids:
                groups.setdefault(_slice_value(cases[cid], field), []).append(cid)
            doc["slices"][field] = {value: {"n_cases": len(members),
                                            "suite_fingerprint": suite_fingerprint({c: cases[c] for c in members}),
                                            "metrics": _aggregate(suite, members, cases, preds, per)}
                                    for value, members in sorted(groups.items())}
    return doc, rows


def _slice_value(case: dict[str, Any], field: str) -> str:
    value = case.get(field)
    if value is None:
        return "(none)"
    if isinstance(value, (dict, list)):
        raise UsageError(f"slice field {field!r} of case {brief(case.get('case_id'))} must be a plain value")
    return str(value)
