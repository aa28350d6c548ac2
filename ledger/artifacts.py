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
    signer: str | None = None  # a promotion: the principal whose signature verified
    record: dict[str, Any] | None = None  # a promotion: its verified, signed record

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
        """case_id -> prediction object. A promotion's file is first checked against the sha256
        its signed record holds (a replaced DVC cache or remote object is refused)."""
        file = self.dir / "predictions.jsonl"
        if not file.is_file():
            raise NotFound(f"{self.path}/predictions.jsonl is not in the working tree: run `ledger pull {self.id}`")
        if self.record is not None:
            from .errors import Refused
            from .hashing import file_digest

            signed = ((self.record.get("dvc") or {}).get("predictions.jsonl") or {}).get("sha256")
            if not signed or file_digest(file) != signed:
                raise Refused(f"{self.path}/predictions.jsonl does not match the sha256 its signed promotion record "
                              "holds (the DVC cache or remote object was replaced?): refusing to use it")
        preds: dict[str, dict[str, Any]] = {}
        with open(file, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    obj = json.loads(line)
                    preds[obj["case_id"]] = obj
        return preds


def resolve(root: Path, name: str) -> Artifact:
    """A workspace run id first, then a promoted id -- and a promotion only as its verified,
    signed tag describes it (audit.verify.verified: signature, record, tree, working-tree
    digests), from a working-tree directory with no symlink on its path."""
    layout.check_id(name, "run or promoted id")
    run = root / layout.run_dir(name)
    if run.is_dir() and not run.is_symlink():
        return Artifact(name, "run", layout.run_dir(name), run)
    from .audit.promoted import real_dir
    from .audit.verify import verified

    try:
        found = verified(root, name)
    except NotFound:
        raise NotFound(f"no run or promoted artifact named {name!r} (see `ledger list --all`)") from None
    record = found.record or {}
    return Artifact(name, record.get("role", "?"), str(found.path), real_dir(root, str(found.path)),
                    record.get("quality"), signer=found.signer, record=record)


def resolve_promoted(root: Path, name: str, kind: str) -> Artifact:
    art = resolve(root, name)
    if art.kind != kind:
        raise UsageError(f"{name!r} is a {art.kind}, not a {kind}")
    return art
