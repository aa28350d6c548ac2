"""Built-in scorers: exact match (accuracy), token F1, ROUGE-1/2/L, entity P/R/F1.

Each compares the prediction's `field` with the case's `reference` field (default: the same
name as `field`). A case without the reference field is an error: slice or filter the dataset."""

from __future__ import annotations

from collections import Counter
from typing import Any

from ..errors import UsageError
from ..layout import brief
from .base import Scorer
from .tasks import _f1, entity_prf, tokens


class FieldScorer(Scorer):
    options = {"field", "reference"}

    def __init__(self, name: str, field: str = "output", reference: str | None = None):
        self.name, self.field, self.reference = name, field, reference or field

    def _pair(self, case: dict[str, Any], prediction: dict[str, Any]) -> tuple[Any, Any]:
        if self.reference not in case:
            raise UsageError(f"scorer {self.name!r}: case {brief(case.get('case_id'))} has no "
                             f"{self.reference!r} field to score against")
        return prediction.get(self.field), case[self.reference]

    def _text(self, value: Any, case: dict[str, Any], what: str) -> str:
        if value is None:
            return ""
        if not isinstance(value, str):
            raise UsageError(f"scorer {self.name!r}: {what} of case {brief(case.get('case_id'))} must be text, "
                             f"not {type(value).__name__}")
        return value

    def _keys(self, *keys: str) -> list[str]:
        """Metric names: the scorer's own, or prefixed by the configured name."""
        return list(keys) if self.name == self.default else [f"{self.name}.{k}" for k in keys]

    default = ""


class ExactMatch(FieldScorer):
    default, version = "exact_match", "1"

    def score_case(self, case, prediction):
        pred, ref = self._pair(case, prediction)
        if isinstance(pred, str) and isinstance(ref, str):
            pred, ref = pred.strip(), ref.strip()
        return {self.name: float(pred == ref)}


class Accuracy(ExactMatch):
    default = "accuracy"


class TokenF1(FieldScorer):
    default, version = "token_f1", "1"

    def score_case(self, case, prediction):
        pred, ref = self._pair(case, prediction)
        p, r = self._text(pred, case, "prediction"), self._text(ref, case, "reference")
        return {self.name: _f1(Counter(tokens(p)), Counter(tokens(r)))}


class Rouge(FieldScorer):
    default, version = "rouge", "1"
    _TYPES = ("rouge1", "rouge2", "rougeL")

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        from rouge_score import rouge_scorer

        self._scorer = rouge_scorer.RougeScorer(list(self._TYPES), use_stemmer=False)

    def score_case(self, case, prediction):
        pred, ref = self._pair(case, prediction)
        got = self._scorer.score(self._text(ref, case, "reference"), self._text(pred, case, "prediction"))
        return {k: got[t].fmeasure for k, t in zip(self._keys(*self._TYPES), self._TYPES)}


class EntityF1(FieldScorer):
    """Set-based entities: per case F1; over the run micro precision, recall and F1."""

    default, version = "entity_f1", "1"

    def _sets(self, case, prediction) -> tuple[list[str], list[str]]:
        pred, ref = self._pair(case, prediction)
        for value, what in ((pred, "prediction"), (ref, "reference")):
            if value is not None and (not isinstance(value, list) or not all(isinstance(e, str) for e in value)):
                raise UsageError(f"scorer {self.name!r}: {what} of case {brief(case.get('case_id'))} must be "
                                 "a list of strings")
        return pred or [], ref

    def score_case(self, case, prediction):
        tp, npred, ngold = entity_prf(*self._sets(case, prediction))
        p, r = (tp / npred if npred else 0.0), (tp / ngold if ngold else 0.0)
        return {self._keys("entity_f1")[0]: 2 * p * r / (p + r) if p + r else 0.0}

    def aggregate(self, cases, predictions, rows):
        tp = npred = ngold = 0
        for case, pred in zip(cases, predictions):
            a, b, c = entity_prf(*self._sets(case, pred))
            tp, npred, ngold = tp + a, npred + b, ngold + c
        p, r = (tp / npred if npred else 0.0), (tp / ngold if ngold else 0.0)
        keys = self._keys("entity_precision", "entity_recall", "entity_f1")
        return dict(zip(keys, (p, r, 2 * p * r / (p + r) if p + r else 0.0)))


BUILTIN: dict[str, type[FieldScorer]] = {cls.default: cls for cls in (ExactMatch, Accuracy, TokenF1, Rouge, EntityF1)}
