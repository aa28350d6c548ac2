"""Task evaluators: metrics of a run's predictions against the dataset's targets.
The version string is part of every fingerprint: bump it whenever a number could change."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Callable

from ..errors import UsageError
from ..layout import brief

_TOKEN = re.compile(r"\w+", re.UNICODE)


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def _f1(pred: Counter, gold: Counter) -> float:
    overlap = sum((pred & gold).values())
    if not overlap:
        return 0.0
    p, r = overlap / sum(pred.values()), overlap / sum(gold.values())
    return 2 * p * r / (p + r)


def _summarization(cases: dict[str, dict], preds: dict[str, dict]) -> dict[str, float]:
    f1s, lengths, ratios, empty = [], [], [], 0
    for cid, case in cases.items():
        summary = preds[cid].get("summary", "")
        pred_toks, doc_toks = tokens(summary), tokens(case.get("document", ""))
        ref = case.get("reference")
        if isinstance(ref, str):
            f1s.append(_f1(Counter(pred_toks), Counter(tokens(ref))))
        lengths.append(len(pred_toks))
        ratios.append(len(pred_toks) / max(len(doc_toks), 1))
        empty += not pred_toks
    n = len(cases)
    metrics = {
        "avg_summary_words": sum(lengths) / n,
        "compression_ratio": sum(ratios) / n,
        "empty_rate": empty / n,
    }
    if f1s:
        metrics["token_f1"] = sum(f1s) / len(f1s)
    return {k: round(v, 6) for k, v in metrics.items()}


def entity_prf(pred: list[str], gold: list[str]) -> tuple[int, int, int]:
    ps, gs = set(pred), set(gold)
    return len(ps & gs), len(ps), len(gs)


def _ner(cases: dict[str, dict], preds: dict[str, dict]) -> dict[str, float]:
    tp = npred = ngold = 0
    for cid, case in cases.items():
        gold = case.get("entities")
        if not isinstance(gold, list):
            continue
        if not all(isinstance(e, str) for e in gold):  # [[...]] or [{...}] crashed set()
            raise UsageError(f"case {brief(cid)}: 'entities' must be a list of strings")
        a, b, c = entity_prf(preds[cid].get("entities", []), gold)
        tp, npred, ngold = tp + a, npred + b, ngold + c
    precision = tp / npred if npred else 0.0
    recall = tp / ngold if ngold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    avg = sum(len(p.get("entities", [])) for p in preds.values()) / len(preds)
    return {k: round(v, 6) for k, v in
            {"entity_precision": precision, "entity_recall": recall, "entity_f1": f1, "avg_entities": avg}.items()}


EVALUATORS: dict[str, tuple[str, Callable[[dict, dict], dict[str, float]]]] = {
    "summarization": ("summarization-eval/1", _summarization),
    "ner_entities": ("ner-eval/1", _ner),
}


class TaskSuite:
    """The default metrics of the two example tasks (a config without `metrics:`): the run-level
    numbers are exactly those of the task evaluator, with per-case rows for scores.jsonl."""

    per_case = True

    def __init__(self, task: str):
        self.name = task
        self.version = evaluator_version(task)

    def label(self) -> str:
        return self.version

    def score_case(self, case: dict[str, Any], prediction: dict[str, Any]) -> dict[str, float]:
        if self.name == "summarization":
            pred, doc = tokens(prediction.get("summary", "")), tokens(case.get("document", ""))
            row = {"summary_words": float(len(pred)), "compression_ratio": len(pred) / max(len(doc), 1),
                   "empty": float(not pred)}
            if isinstance(case.get("reference"), str):
                row["token_f1"] = _f1(Counter(pred), Counter(tokens(case["reference"])))
            return row
        gold = case.get("entities")
        if not isinstance(gold, list) or not all(isinstance(e, str) for e in gold):
            return {}
        tp, npred, ngold = entity_prf(prediction.get("entities", []), gold)
        p, r = (tp / npred if npred else 0.0), (tp / ngold if ngold else 0.0)
        return {"entity_f1": 2 * p * r / (p + r) if p + r else 0.0}

    def aggregate(self, cases: list[dict], predictions: list[dict], rows: list[dict]) -> dict[str, float]:
        by_id = {c["case_id"]: c for c in cases}
        preds = {c["case_id"]: p for c, p in zip(cases, predictions)}
        return EVALUATORS[self.name][1](by_id, preds)


def evaluator_version(task: str) -> str:
    if task not in EVALUATORS:
        raise UsageError(f"unknown task {task!r}; known: {', '.join(sorted(EVALUATORS))}")
    return EVALUATORS[task][0]


def evaluate(task: str, cases: dict[str, dict], preds: dict[str, dict]) -> dict[str, Any]:
    version = evaluator_version(task)
    if not cases:
        raise UsageError("dataset has no cases")
    missing = set(cases) - set(preds)
    if missing:
        raise UsageError(f"no prediction for {len(missing)} case(s), e.g. {sorted(missing)[0]!r}")
    return {"task": task, "evaluator_version": version, "n_cases": len(cases),
            "metrics": EVALUATORS[task][1](cases, preds)}
