"""Resolve a name to something with outputs: a workspace run or a promoted baseline/reference."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import layout
from .errors import NotFound, UsageError


@dataclass
class Artifact:
    id: str
    kind: str  # run | baseline | reference
    path: str  # relative to the repo root
    dir: Path
    quality: str | None = None  # silver | gold for references

    def _json(self, name: str) -> dict[str, Any]:
        file = self.dir / name
        try:
            return json.loads(file.read_text())
        except FileNotFoundError:
            raise NotFound(f"{self.path}/{name} is missing") from None
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise UsageError(f"{self.path}/{name} is not valid JSON") from None

    @property
    def fingerprint(self) -> dict[str, Any]:
        return self._json("fingerprint.json")

    @property
    def metrics_file(self) -> dict[str, Any]:
        """metrics.json as a whole: {task, evaluator_version, n_cases, metrics}."""
        return self._json("metrics.json")

    @property
    def metrics(self) -> dict[str, float]:
        return dict(self.metrics_file.get("metrics") or {})

    @property
    def task(self) -> str | None:
        return self.metrics_file.get("task")

    def predictions(self) -> dict[str, dict[str, Any]]:
        """case_id -> prediction object."""
        file = self.dir / "predictions.jsonl"
        if not file.is_file():
            raise NotFound(f"{self.path}/predictions.jsonl is not in the working tree: run `dvc pull` or "
                           f"`dvc checkout {self.path}/predictions.jsonl.dvc`")
        preds: dict[str, dict[str, Any]] = {}
        with open(file, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    obj = json.loads(line)
                    preds[obj["case_id"]] = obj
        return preds


def resolve(root: Path, name: str) -> Artifact:
    """A workspace run id first, then a promoted id (ids are unique across roles)."""
    layout.check_id(name, "run or promoted id")
    run = root / layout.run_dir(name)
    if run.is_dir():
        return Artifact(name, "run", layout.run_dir(name), run)
    for rel, pid in layout.promoted_dirs(root):
        if pid == name:
            if rel.startswith(layout.BASELINES + "/"):
                return Artifact(name, "baseline", rel, root / rel)
            quality = "silver" if rel.startswith(layout.SILVER + "/") else "gold"
            return Artifact(name, "reference", rel, root / rel, quality)
    raise NotFound(f"no run or promoted artifact named {name!r} (see `ledger list --all`)")


def resolve_promoted(root: Path, name: str, kind: str) -> Artifact:
    art = resolve(root, name)
    if art.kind != kind:
        raise UsageError(f"{name!r} is a {art.kind}, not a {kind}")
    return art
