"""Runs declared in params.yaml (`runs: {<run_id>: {config, dataset}}`) and their configs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from . import layout
from .errors import NotFound, UsageError
from .layout import brief

PARAMS = "params.yaml"
MAX_CONFIG_BYTES = 1 << 20  # a config is a handful of keys; anything bigger is a mistake or an attack
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


class _AliasFound(yaml.YAMLError):
    pass


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader without aliases: `*ref` lets a few hundred bytes expand into a structure of
    billions of nodes once the config is serialised into the fingerprint."""

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        if self.check_event(yaml.AliasEvent):
            raise _AliasFound("alias")
        return super().compose_node(parent, index)


def load_params(root: Path) -> dict[str, Any]:
    path = root / PARAMS
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as exc:
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
    for run_id, entry in runs.items():  # a key becomes a path and a DVC stage name
        layout.check_id(run_id, "run id in params.yaml")
        if not isinstance(entry, dict):
            raise UsageError(f"params.yaml: runs.{run_id} must be a mapping with `config` and `dataset`")
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
    if not rel.strip() or "\x00" in rel or Path(rel).is_absolute() \
            or not (root / rel).resolve().is_relative_to(root.resolve()):
        raise UsageError(f"{what}: {brief(rel)} must be a path inside the repository")


def load_config(path: Path) -> tuple[dict[str, Any], bytes]:
    if not path.is_file():
        raise UsageError(f"config not found: {path}" + (" (not a regular file)" if path.exists() else ""))
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise UsageError(f"{path}: {path.stat().st_size} bytes is too big for a config (max {MAX_CONFIG_BYTES})")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the config ({exc.strerror or exc.__class__.__name__})") from None
    try:
        config = yaml.load(raw.decode("utf-8"), Loader=_NoAliasLoader)
    except _AliasFound:
        raise UsageError(f"{path}: YAML aliases (*name) are not allowed in a config") from None
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as exc:
        raise UsageError(f"{path}: not valid UTF-8 YAML ({exc.__class__.__name__})") from None
    if not isinstance(config, dict):
        raise UsageError(f"{path}: a config must be a mapping with `task` and `provider`")
    for key in ("task", "provider"):
        if not isinstance(config.get(key), str):
            raise UsageError(f"{path}: `{key}` must be a string")
        if not _NAME.fullmatch(config[key]):
            raise UsageError(f"{path}: `{key}` {brief(config[key])} is not a name ([a-z0-9_-], at most 64 chars)")
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
