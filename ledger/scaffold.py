"""This checkout's example project (pipeline, params, configs, and stages/: the example model's
own code, as a user's repository has it), copied into a new directory:
used by the tests and the benchmarks to make scratch repositories. Never ledger's own source:
the stages run the installed ledger. The checkout itself is never modified."""

from __future__ import annotations

import shutil
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
FILES = ["dvc.yaml", "params.yaml", "stages", "data/eval/configs", "data/eval/pipelines", "data/eval/runs/.gitignore",
         ".dvcignore", ".gitignore"]


def copy_project(dst: Path, src: Path = PROJECT) -> None:
    """Copies FILES from `src` into `dst` (created), without bytecode or build leftovers."""
    dst.mkdir(parents=True, exist_ok=True)
    for rel in FILES:
        s, d = src / rel, dst / rel
        if s.is_dir():
            shutil.copytree(s, d, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
        else:
            d.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(s, d)
