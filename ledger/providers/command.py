"""`provider: command`: any executable. The cases go to its stdin as JSONL (one object per line,
with `case_id`); it writes one JSON object per case to stdout, each with the `case_id` it answers.
Runs in the repository root with the user's environment."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..hashing import file_digest
from ..layout import brief
from .base import Provider, collect, jsonl


class CommandProvider(Provider):
    kind = "command"
    options = {"command": ((str, list), ...), "timeout": ((int, float), 3600), "version": ((str, int, float), None)}

    def validate(self) -> None:
        cmd = self.opts["command"]
        try:
            argv = shlex.split(cmd) if isinstance(cmd, str) else list(cmd)
        except ValueError as exc:
            raise UsageError(f"{self.where}: `command` is not a valid shell word list ({exc})") from None
        if not argv or not all(isinstance(a, str) and a and "\x00" not in a for a in argv):
            raise UsageError(f"{self.where}: `command` must be a non-empty command line or list of strings")
        if self.opts["timeout"] <= 0:
            raise UsageError(f"{self.where}: `timeout` must be a positive number of seconds")
        self.argv = argv
        self.files = {rel: file_digest(self.root / rel) for rel in self.repo_files()}
        if self.opts.get("version") is not None:
            self.version = str(self.opts["version"])

    def identity(self) -> str:
        return shlex.join(self.argv)

    def repo_files(self) -> list[str]:
        base = self.root.resolve()
        out = []
        for arg in self.argv:
            p = Path(arg)
            full = (self.root / p).resolve() if not p.is_absolute() else p.resolve()
            if full.is_file() and full.is_relative_to(base):
                out.append(full.relative_to(base).as_posix())
        return sorted(set(out))

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "command": self.argv, "files": self.files}

    def predict_all(self, cases: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        who = f"command provider {brief(self.argv[0])}"
        stdin = "".join(json.dumps(c, sort_keys=True, ensure_ascii=False) + "\n" for _, c in sorted(cases.items()))
        try:
            proc = subprocess.run(self.argv, cwd=self.root, input=stdin.encode(), capture_output=True,
                                  timeout=self.opts["timeout"])
        except FileNotFoundError:
            raise UsageError(f"{who}: command not found") from None
        except PermissionError:
            raise UsageError(f"{who}: not executable") from None
        except subprocess.TimeoutExpired:
            raise UsageError(f"{who}: no answer within {self.opts['timeout']} s (config `timeout`)") from None
        if proc.returncode != 0:
            err = [ln for ln in proc.stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
            raise UsageError(f"{who} exited with {proc.returncode}" + (f": {brief(err[-1], 200)}" if err else ""))
        rows = jsonl(proc.stdout.splitlines(),
                     lambda n, line: f"{who}: stdout line {n} is not a JSON object: {brief(line[:80])}")
        return collect(rows, cases, who)
