"""Deterministic built-in providers, usable offline and in tests."""

from __future__ import annotations

import re
from typing import Any

from ..errors import UsageError
from ..layout import brief
from .base import Provider

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_ENTITY = re.compile(r"\b(?:[A-Z][a-zA-Z]+)(?:\s+[A-Z][a-zA-Z]+)*\b")


class LeadSummarizer(Provider):
    """Extractive lead-N baseline: the first `sentences` sentences, cut at `max_words`."""

    name = "lead"
    version = "1"
    task = "summarization"
    params_schema = {"sentences": (int, 1), "max_words": (int, 0)}

    def validate(self) -> None:
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


class KeywordNER(Provider):
    """Capitalised-span tagger with a stop list: a transparent NER baseline."""

    name = "keyword_ner"
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
