"""Providers: the model or system under evaluation, selected by a run config's `provider:`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..layout import brief
from .base import Provider
from .builtin import KeywordNER, LeadSummarizer
from .command import CommandProvider
from .openai import OpenAIProvider
from .precomputed import Precomputed
from .python import PythonProvider, entry_point_spec, registered

KINDS: dict[str, type[Provider]] = {cls.kind: cls for cls in (
    PythonProvider, CommandProvider, OpenAIProvider, Precomputed, LeadSummarizer, KeywordNER)}


def provider_class(name: str) -> tuple[type[Provider], dict[str, Any]]:
    """The class for a config's `provider:` value, and config keys it implies (entry points)."""
    if name in KINDS:
        return KINDS[name], {}
    spec = entry_point_spec(name)
    if spec is not None:
        return PythonProvider, {"entrypoint": spec}
    known = ", ".join(sorted(KINDS) + registered())
    raise UsageError(f"unknown provider {brief(name)}; known: {known} (or a name registered in the "
                     "`ledger.providers` entry-point group)")


def get_provider(root: Path, config: dict[str, Any], where: str) -> Provider:
    cls, implied = provider_class(config["provider"])
    if implied and "entrypoint" in config:
        raise UsageError(f"{where}: provider {config['provider']!r} is a registered entry point: drop `entrypoint`")
    return cls(root, {**config, **implied}, where)


__all__ = ["KINDS", "Provider", "get_provider", "provider_class"]
