"""Deterministic built-in providers, usable offline and in tests: examples of the interface."""

from __future__ import annotations

import re
from typing import Any

from ..errors import UsageError
from ..layout import brief
from .base import Provider, check_output

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_ENTITY = re.compile(r"\b(?:[A-Z][a-zA-Z]+)(?:\s+[A-Z][a-zA-Z]+)*\b")


class Builtin(Provider):
    """A provider shipped with ledger: typed `params` (name -> (type, default)), one case at a time."""

    params_schema: dict[str, tuple[type, Any]] = {}

    def validate(self) -> None:
        unknown = set(self.params) - set(self.params_schema)
        if unknown:
            raise UsageError(f"provider {self.kind!r}: unknown params {sorted(unknown)}")
        checked = {}
        for key, (typ, default) in self.params_schema.items():
            value = self.params.get(key, default)
            if not isinstance(value, typ) or isinstance(value, bool) and typ is not bool:
                raise UsageError(f"provider {self.kind!r}: param {key!r} must be {typ.__name__}")
            checked[key] = value
        self.params = checked
        self.check_params()

    def check_params(self) -> None:
        """Extra checks on self.params; raise UsageError."""

    def predict(self, case: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def predict_all(self, cases: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {cid: check_output(self.predict(case), cid, f"provider {self.kind!r}")
                for cid, case in sorted(cases.items())}

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "task": self.task}


class LeadSummarizer(Builtin):
    """Extractive lead-N baseline: the first `sentences` sentences, cut at `max_words`."""

    kind = "lead"
    version = "1"
    task = "summarization"
    params_schema = {"sentences": (int, 1), "max_words": (int, 0)}

    def check_params(self) -> None:
        if self.params["sentences"] < 0 or self.params["max_words"] < 0:
            raise UsageError("provider 'lead': sentences and max_words must be >= 0")

    def predict(self, case: dict[str, Any]) -> dict[str, Any]:
        document = case.get("document")
        if not isinstance(document, str):
            raise UsageError(f"case {brief(case.get('case_id'))}: 'document' must be a string")
        sentences = [s for s in _SENTENCE.split(document.strip()) if s]
        summary = " ".join(sentences[: self.params["sentences"]])
        if self.params["max_words"]:
            summary = " ".join(summary.split()[: self.params["max_words"]])
        return {"summary": summary}


class KeywordNER(Builtin):
    """Capitalised-span tagger with a stop list: a transparent NER baseline."""

    kind = "keyword_ner"
    version = "1"
    task = "ner_entities"
    params_schema = {"min_length": (int, 2), "skip_sentence_start": (bool, True)}

    _STOP = {"The", "A", "An", "In", "On", "At", "It", "He", "She", "They", "We", "This", "After", "On"}

    def predict(self, case: dict[str, Any]) -> dict[str, Any]:
        text = case.get("text")
        if not isinstance(text, str):
            raise UsageError(f"case {brief(case.get('case_id'))}: 'text' must be a string")
        entities = []
        for match in _ENTITY.finditer(text):
            span = match.group(0)
            words = span.split()
            while words and words[0] in self._STOP:
                words.pop(0)
            span = " ".join(words)
            if len(span) < self.params["min_length"]:
                continue
            if self.params["skip_sentence_start"] and len(words) == 1 and _at_sentence_start(text, match.start()):
                continue
            if span not in entities:
                entities.append(span)
        return {"entities": entities}


def _at_sentence_start(text: str, pos: int) -> bool:
    before = text[:pos].rstrip()
    return not before or before[-1] in ".!?"
