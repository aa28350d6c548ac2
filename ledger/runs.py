"""Runs declared in params.yaml (`runs: {<run_id>: {config, dataset}}`) and their configs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from . import layout
from .errors import NotFound, UsageError

PARAMS = "params.yaml"


def load_params(root: Path) -> dict[str, Any]:
    path = root / PARAMS
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UsageError(f"params.yaml is not valid YAML: {exc.__class__.__name__}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError("params.yaml must be a mapping")
    return data


def declared_runs(root: Path) -> dict[str, dict[str, Any]]:
    runs = load_params(root).get("runs") or {}
    if not isinstance(runs, dict):
        raise UsageError("params.yaml: `runs` must be a mapping of run_id -> {config, dataset}")
    return runs


def run_entry(root: Path, run_id: str) -> dict[str, Any]:
    layout.check_id(run_id, "run id")
    runs = declared_runs(root)
    if run_id not in runs:
        raise NotFound(f"unknown run {run_id!r}: not declared under `runs:` in params.yaml")
    entry = runs[run_id]
    if not isinstance(entry, dict) or not isinstance(entry.get("config"), str) or not isinstance(entry.get("dataset"), str):
        raise UsageError(f"params.yaml: runs.{run_id} needs string `config` and `dataset` paths")
    for key in ("config", "dataset"):
        _inside(root, entry[key], f"runs.{run_id}.{key}")
    return dict(entry)


def _inside(root: Path, rel: str, what: str) -> None:
    full = (root / rel).resolve()
    if Path(rel).is_absolute() or not full.is_relative_to(root.resolve()):
        raise UsageError(f"{what}: {rel!r} must be a path inside the repository")


def load_config(path: Path) -> tuple[dict[str, Any], bytes]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"config not found: {path}") from None
    try:
        config = yaml.safe_load(raw.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not valid UTF-8 YAML ({exc.__class__.__name__})") from None
    if not isinstance(config, dict):
        raise UsageError(f"{path}: a config must be a mapping with `task` and `provider`")
    for key in ("task", "provider"):
        if not isinstance(config.get(key), str):
            raise UsageError(f"{path}: `{key}` must be a string")
    params = config.get("params", {})
    if params is not None and not isinstance(params, dict):
        raise UsageError(f"{path}: `params` must be a mapping")
    return config, raw


def remove_run(root: Path, run_id: str) -> None:
    """Drops runs.<run_id> from params.yaml, keeping comments and layout (ruamel round-trip)."""
    from ruamel.yaml import YAML

    ry = YAML()
    ry.preserve_quotes = True
    path = root / PARAMS
    data = ry.load(path.read_text(encoding="utf-8"))
    data["runs"].pop(run_id, None)
    with open(path, "w", encoding="utf-8") as fh:
        ry.dump(data, fh)
