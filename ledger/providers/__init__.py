"""Providers produce one output per case. Execution is neutral: the same code path
serves every run, whatever it is later promoted to."""

from __future__ import annotations

from typing import Any

from ..errors import UsageError
from .base import Provider
from .builtin import KeywordNER, LeadSummarizer

REGISTRY: dict[str, type[Provider]] = {cls.name: cls for cls in (LeadSummarizer, KeywordNER)}


def get_provider(name: str, params: dict[str, Any] | None) -> Provider:
    cls = REGISTRY.get(name)
    if cls is None:
        raise UsageError(f"unknown provider {name!r}; known: {', '.join(sorted(REGISTRY))}")
    return cls(params or {})


__all__ = ["Provider", "REGISTRY", "get_provider"]
