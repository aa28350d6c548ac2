"""The project files a ledger repository carries (pipeline, stages, the ledger code the stage
runs, configs), copied from this checkout into a new directory: used by `make demo`, the tests
and the benchmarks to make scratch repositories. The checkout itself is never modified."""

from __future__ import annotations

import shutil
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
FILES = ["dvc.yaml", "params.yaml", "stages", "ledger", "data/eval/configs", ".dvcignore", ".gitignore"]


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
