"""`ledger score RUN --reference ID`: reference-based metrics of a run against a promoted reference.

The reference's predictions are the target, the run's are the prediction. References are
informational: a score never fails (the CLI exits 0 whatever the numbers are)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

from . import artifacts, dvcops
from .artifacts import Artifact
from .errors import LedgerError, NotComparable, NotFound, UsageError
from .scorers.tasks import entity_prf

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")
_WORD = re.compile(r"\w+", re.UNICODE)


class _UnicodeWords:
    """rouge-score's default tokenizer keeps only [a-z0-9] (so "für" becomes "f r" and
    non-Latin text becomes nothing); this one keeps Unicode words, lower-cased, like the
    ledger's own token_f1 evaluator."""

    name = "unicode-words-lower"

    def tokenize(self, text: str) -> list[str]:
        return _WORD.findall(text.lower())


def _summarization(run: dict[str, dict], ref: dict[str, dict], cases: list[str]) -> tuple[dict[str, float], dict]:
    # The maintained implementation of ROUGE (Google Research's rouge-score, the one the
    # literature's numbers come from), not a re-implementation.
    from importlib.metadata import version

    from rouge_score import rouge_scorer

    tokenizer = _UnicodeWords()
    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=False, tokenizer=tokenizer)
    sums = {f"{t}_{part}": 0.0 for t in ROUGE_TYPES for part in ("precision", "recall", "fmeasure")}
    for cid in cases:
        scores = scorer.score(_text(ref[cid], "summary"), _text(run[cid], "summary"))  # (target, prediction)
        for t in ROUGE_TYPES:
            sums[f"{t}_precision"] += scores[t].precision
            sums[f"{t}_recall"] += scores[t].recall
            sums[f"{t}_fmeasure"] += scores[t].fmeasure
    metrics = {k: round(v / len(cases), 6) for k, v in sums.items()}
    return metrics, {"library": f"rouge-score {version('rouge-score')}", "use_stemmer": False,
                     "tokenizer": tokenizer.name, "aggregate": "mean over cases"}


def _ner(run: dict[str, dict], ref: dict[str, dict], cases: list[str]) -> tuple[dict[str, float], dict]:
    # Entities here are sets of strings per case, not token-level BIO tags: seqeval and
    # friends score tag sequences and do not fit, and no maintained library scores sets of
    # strings. Set overlap per case, micro-averaged, is small and exact.
    tp = npred = ngold = 0
    for cid in cases:
        a, b, c = entity_prf(_entities(run[cid]), _entities(ref[cid]))
        tp, npred, ngold = tp + a, npred + b, ngold + c
    if npred == 0 and ngold == 0:  # both found nothing anywhere: full agreement
        precision = recall = f1 = 1.0
    else:
        precision = tp / npred if npred else 0.0
        recall = tp / ngold if ngold else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    metrics = {"entity_precision": precision, "entity_recall": recall, "entity_f1": f1,
               "true_positives": tp, "run_entities": npred, "reference_entities": ngold}
    return ({k: round(v, 6) if isinstance(v, float) else v for k, v in metrics.items()},
            {"library": None, "matching": "exact string, set per case", "aggregate": "micro"})


SCORERS: dict[str, Callable[[dict, dict, list[str]], tuple[dict[str, float], dict]]] = {
    "summarization": _summarization,
    "ner_entities": _ner,
}


def _text(pred: dict[str, Any], field: str) -> str:
    value = pred.get(field, "")
    return value if isinstance(value, str) else ""


def _entities(pred: dict[str, Any]) -> list[str]:
    value = pred.get("entities", [])
    return [e for e in value if isinstance(e, str)] if isinstance(value, list) else []


def _predictions(root: Path, art: Artifact) -> dict[str, dict[str, Any]]:
    """predictions.jsonl of an artifact; a promoted one missing from the working tree is
    placed from the DVC cache when the cache has the object its signed record names."""
    if not (art.dir / "predictions.jsonl").is_file() and art.record is not None:
        md5 = ((art.record.get("dvc") or {}).get("predictions.jsonl") or {}).get("md5")
        if not md5 or dvcops.cache_file(root, md5) is None:
            raise NotFound(f"{art.path}/predictions.jsonl is neither in the working tree nor in the DVC cache: "
                           f"run `ledger pull {art.id}`")
        try:
            dvcops.place(root, md5, art.dir / "predictions.jsonl")
        except (LedgerError, OSError) as exc:
            raise NotFound(f"could not restore {art.path}/predictions.jsonl ({exc}): "
                           f"run `ledger pull {art.id}`") from None
    try:
        return art.predictions()
    except (ValueError, KeyError, TypeError):
        raise UsageError(f"{art.path}/predictions.jsonl is not one JSON object with a case_id per line") from None


def _comparable(run: Artifact, ref: Artifact) -> None:
    if run.task != ref.task:
        raise NotComparable(f"not comparable: task differs (run {run.id} is {run.task!r}, "
                            f"reference {ref.id} is {ref.task!r})")
    a, b = run.fingerprint.get("suite_fingerprint"), ref.fingerprint.get("suite_fingerprint")
    if not a or a != b:
        raise NotComparable(f"not comparable: suite_fingerprint differs (run {str(a)[:12]}, reference {str(b)[:12]}): "
                            "they were not evaluated on the same cases")


def _same_cases(run_preds: dict, ref_preds: dict) -> None:
    if set(run_preds) != set(ref_preds):
        only = sorted(set(run_preds) ^ set(ref_preds))
        raise NotComparable(f"not comparable: case ids differ ({len(only)} case(s) in only one of them, "
                            f"e.g. {only[0]!r})")


def score(root: Path, run_name: str, reference_id: str) -> dict[str, Any]:
    run = artifacts.resolve(root, run_name)
    ref = artifacts.resolve(root, reference_id)
    if ref.kind != "reference":
        raise UsageError(f"{reference_id!r} is a {ref.kind}, not a reference (promote one with --as reference)")
    _comparable(run, ref)  # before reading predictions: a refusal checks nothing out
    task = ref.task
    if task not in SCORERS:
        raise UsageError(f"no reference-based metrics for task {task!r}; known: {', '.join(sorted(SCORERS))}")
    run_preds, ref_preds = _predictions(root, run), _predictions(root, ref)
    _same_cases(run_preds, ref_preds)
    if not ref_preds:
        raise UsageError(f"{ref.path}/predictions.jsonl has no cases")
    cases = sorted(ref_preds)
    metrics, scorer = SCORERS[task](run_preds, ref_preds, cases)
    return {"run": run.id, "run_kind": run.kind, "reference": ref.id, "reference_path": ref.path,
            "quality": ref.quality, "task": task, "n_cases": len(cases), "metrics": metrics, "scorer": scorer}
