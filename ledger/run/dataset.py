"""Evaluation datasets: JSONL, one case per line, each with a unique `case_id`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..layout import brief
from ..hashing import canonical_json, bytes_sha256, json_sha256


def load_cases(path: str | Path) -> dict[str, dict[str, Any]]:
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"dataset not found: {path}")
    cases: dict[str, dict[str, Any]] = {}
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                case = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
            except (UnicodeDecodeError, ValueError, RecursionError) as exc:
                raise UsageError(f"{path}:{lineno}: not a UTF-8 JSON object ({exc.__class__.__name__})") from None
            if not isinstance(case, dict) or not isinstance(case.get("case_id"), str) or not case["case_id"]:
                raise UsageError(f"{path}:{lineno}: each line must be an object with a non-empty string case_id")
            if case["case_id"] in cases:
                raise UsageError(f"{path}:{lineno}: duplicate case_id {brief(case['case_id'])}")
            cases[case["case_id"]] = case
    if not cases:
        raise UsageError(f"dataset {path} has no cases")
    return cases


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def suite_fingerprint(cases: dict[str, dict[str, Any]]) -> str:
    """Order-invariant: the sha256 of the sorted per-case digests of canonical JSON."""
    return json_sha256(sorted(bytes_sha256(canonical_json(c)) for c in cases.values()))
