"""`provider: precomputed`: predictions made elsewhere (another harness, a notebook), imported
as a run. `predictions:` names a JSONL file in the repository, one object per case with its
`case_id`; its sha256 is part of the run's provenance (and it is a DVC dependency of the run)."""

from __future__ import annotations

from typing import Any

from ..errors import UsageError
from ..hashing import file_digest
from ..layout import brief
from .base import Provider, collect, jsonl


class Precomputed(Provider):
    kind = "precomputed"
    options = {"predictions": (str, ...), "version": ((str, int, float), None)}

    def validate(self) -> None:
        rel = self.opts["predictions"]
        full = (self.root / rel).resolve()
        if "\x00" in rel or not full.is_relative_to(self.root.resolve()):
            raise UsageError(f"{self.where}: `predictions` {brief(rel)} must be a path inside the repository")
        if not full.is_file():
            raise UsageError(f"{self.where}: predictions file not found: {brief(rel)}")
        self.path = full.relative_to(self.root.resolve()).as_posix()
        self.sha256 = file_digest(full)
        self.version = str(self.opts["version"]) if self.opts.get("version") is not None else self.sha256[:12]

    def identity(self) -> str:
        return self.path

    def repo_files(self) -> list[str]:
        return [self.path]

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "predictions": {self.path: self.sha256}}

    def predict_all(self, cases: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        who = f"precomputed predictions {self.path}"
        with open(self.root / self.path, "rb") as fh:
            rows = jsonl(fh, lambda n, _line: f"{who}:{n}: not a JSON object")
        return collect(rows, cases, who)
