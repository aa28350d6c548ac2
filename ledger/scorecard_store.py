"""Where gate results live: data/eval/scorecards/<run_id>.json, the latest scorecard of each run
(git-trackable, reviewable in a PR), so a rejected run stays visible after the fact."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .errors import UsageError
from .hashing import dump_json

SCORECARDS = "data/eval/scorecards"


def path_of(run_id: str) -> str:
    return f"{SCORECARDS}/{run_id}.json"


def write(path: Path, card: dict[str, Any]) -> None:
    """Atomic: a reader sees the old file or the new one, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(dump_json(card))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save(root: Path, run_id: str, card: dict[str, Any]) -> str:
    rel = path_of(run_id)
    write(root / rel, card)
    return rel


def check_output(output: Path) -> Path:
    """Validate an --output path before anything is written."""
    output = Path(output)
    if output.is_dir():
        raise UsageError(f"--output {output}: is a directory; give a file name, e.g. {output / 'scorecard.json'}")
    if not output.parent.is_dir():
        raise UsageError(f"--output {output}: directory {output.parent} does not exist")
    return output.resolve()


def status(root: Path, run_id: str, fingerprint_sha256: str | None = None) -> dict[str, Any]:
    """The latest gate result of a run: status passed | failed | not gated | unreadable.
    `stale` when the run was re-executed after it was gated (its fingerprint changed)."""
    rel = path_of(run_id)
    file = root / rel
    if not file.is_file():
        return {"status": "not gated"}
    try:
        card = json.loads(file.read_text(encoding="utf-8"))
        passed = card["overall_passed"]
    except (OSError, ValueError, KeyError, TypeError):
        return {"status": "unreadable", "path": rel}
    out = {"status": "passed" if passed else "failed", "path": rel, "tier": card.get("tier"),
           "baseline_id": card.get("baseline_id"), "failed": card.get("failed") or [],
           "skipped": card.get("skipped", 0), "inputs_sha256": card.get("inputs_sha256"),
           "overrides": sorted(k for k, v in (card.get("sources") or {}).items() if v == "override")}
    out["stale"] = bool(fingerprint_sha256 and card.get("run_fingerprint_sha256")
                        and card["run_fingerprint_sha256"] != fingerprint_sha256)
    return out
