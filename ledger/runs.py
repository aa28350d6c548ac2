"""Declared runs (one stage directory each, see run/pipeline.py; `runs:` in params.yaml in
projects made by an older ledger) and their configs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from . import layout, yamledit
from .run import pipeline
from .errors import NotFound, UsageError
from .layout import brief

PARAMS = "params.yaml"
ENTRY_KEYS = ("config", "dataset", "code")
# Keys of a run config besides the provider's own options.
CONFIG_KEYS = {"task", "provider", "params", "metrics", "slices", "comparability", "description"}
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
        data = yamledit.load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as exc:
        raise UsageError(f"params.yaml is not valid YAML: {exc.__class__.__name__}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError("params.yaml must be a mapping")
    return data


def _legacy_runs(root: Path) -> dict[str, Any]:
    """Runs declared under `runs:` in the root params.yaml (projects made by an older ledger)."""
    runs = load_params(root).get("runs") or {}
    if not isinstance(runs, dict):
        raise UsageError("params.yaml: `runs` must be a mapping of run_id -> {config, dataset}")
    return runs


def declared_runs(root: Path) -> dict[str, dict[str, Any]]:
    """Every declared run: one stage directory each under data/eval/pipelines (and, in an older
    project, `runs:` in params.yaml)."""
    runs = dict(_legacy_runs(root))
    for run_id, entry in runs.items():  # a key becomes a path and a DVC stage name
        layout.check_run_id(run_id, "run id in params.yaml")
        if not isinstance(entry, dict):
            raise UsageError(f"params.yaml: runs.{run_id} must be a mapping with `config` and `dataset`")
    for run_id in pipeline.run_ids(root):
        layout.check_run_id(run_id, f"run directory in {layout.PIPELINES}")
        if run_id in runs:
            raise UsageError(f"run {run_id!r} is declared twice: in {layout.pipeline_dir(run_id)} and under "
                             "`runs:` in params.yaml; remove one")
        runs[run_id] = _pipeline_entry(root, run_id)
    return runs


def _pipeline_entry(root: Path, run_id: str) -> dict[str, Any]:
    where = f"{layout.pipeline_dir(run_id)}/{pipeline.PARAMS}"
    try:
        data = yamledit.load((root / where).read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as exc:
        raise UsageError(f"{where} is not valid YAML: {exc.__class__.__name__}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{where} must be a mapping with `config` and `dataset`")
    return data


def stage(root: Path, run_id: str) -> pipeline.Stage:
    """Where DVC keeps the run's stage (its own directory, or an older project's foreach)."""
    layout.check_run_id(run_id)
    if pipeline.declared(root, run_id):
        return pipeline.Stage(run_id, legacy=False)
    if run_id in _legacy_runs(root):
        return pipeline.Stage(run_id, legacy=True)
    raise NotFound(f"unknown run {run_id!r}: not declared in {layout.PIPELINES}/ (`ledger run add`)")


def _label(where: pipeline.Stage) -> str:
    """How an error names the run's declaration."""
    if where.legacy:
        return f"params.yaml: runs.{where.run_id}"
    return f"{layout.pipeline_dir(where.run_id)}/{pipeline.PARAMS}:"


def run_entry(root: Path, run_id: str) -> dict[str, Any]:
    where = stage(root, run_id)
    label = _label(where)
    entry = _legacy_runs(root)[run_id] if where.legacy else _pipeline_entry(root, run_id)
    if not isinstance(entry, dict):
        raise UsageError(f"{label} must be a mapping with `config` and `dataset`")
    if not isinstance(entry.get("config"), str) or not isinstance(entry.get("dataset"), str):
        raise UsageError(f"{label} needs string `config` and `dataset` paths")
    unknown = sorted(map(str, set(entry) - set(ENTRY_KEYS)))
    if unknown:
        raise UsageError(f"{label} unknown key(s) {', '.join(unknown)} (allowed: {', '.join(ENTRY_KEYS)})")
    for key in ENTRY_KEYS:
        if key in entry:
            if not isinstance(entry[key], str):
                raise UsageError(f"{label} `{key}` must be a path")
            _inside(root, entry[key], f"{label} `{key}`")
    code = entry.get("code")
    if code is not None:
        norm = Path(code).as_posix().rstrip("/")
        if norm in ("", ".") or (layout.EVAL + "/").startswith(norm + "/") or norm.startswith(layout.RUNS):
            raise UsageError(f"{label} `code` {brief(code)} must name your provider/scorer code, "
                             "not the repository or data/eval (the run's own output would be its input)")
        if not (root / code).exists():
            raise UsageError(f"{label} `code`: {brief(code)} does not exist")
    return dict(entry)


def check_code_dep(root: Path, run_id: str, entry: dict[str, Any], files: list[str]) -> None:
    """Every repository file the run executes or reads must be a DVC dependency of its stage
    (its config, dataset, or inside its `code` path): otherwise editing it would not rerun the
    run, and a stale result would carry a fresh-looking fingerprint."""
    covered = [entry["config"], entry["dataset"]] + ([entry["code"]] if entry.get("code") else [])
    for rel in files:
        if not any(rel == c or rel.startswith(c.rstrip("/") + "/") for c in covered):
            where = f"{_label(stage(root, run_id))} `code`" + (f" ({entry['code']})" if entry.get("code") else "")
            raise UsageError(f"{where} does not cover {rel}, which the run executes or reads: "
                             "point `code` at the file or a directory holding it, so that DVC reruns the run "
                             "when it changes")


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
    from .providers import provider_class

    try:
        cls, implied = provider_class(config["provider"])
    except UsageError as exc:
        raise UsageError(f"{path}: {exc}") from None
    unknown = sorted(map(str, set(config) - CONFIG_KEYS - set(cls.options) - set(implied)))
    if unknown:
        raise UsageError(f"{path}: unknown key(s) {', '.join(unknown)} for provider {config['provider']!r} "
                         f"(allowed: {', '.join(sorted(CONFIG_KEYS | set(cls.options)))})")
    if not _finite(config):
        raise UsageError(f"{path}: NaN or infinity in a config (.nan/.inf): not a value a run can record")
    comparability = config.get("comparability")
    if comparability is not None and (not isinstance(comparability, dict) or not all(
            isinstance(k, str) and isinstance(v, (str, int, float, bool)) for k, v in comparability.items())):
        raise UsageError(f"{path}: `comparability` must map names to plain values, e.g. {{policy_id: p-7}}")
    return config, raw


def _edit_params(root: Path):
    from ruamel.yaml import YAML

    ry = YAML()
    ry.preserve_quotes = True
    path = root / PARAMS
    try:
        data = ry.load(path.read_text(encoding="utf-8")) if path.is_file() else None
    except Exception as exc:  # ruamel raises many kinds for a broken file
        raise UsageError(f"params.yaml is not valid YAML: {exc.__class__.__name__}") from None
    return ry, path, data


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return value == value and value not in (float("inf"), float("-inf"))
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


def remove_run(root: Path, run_id: str) -> None:
    """The run's declaration goes: its stage directory, or (older projects) runs.<run_id> in
    params.yaml, keeping comments and layout (a proven text edit, else a ruamel round-trip)."""
    from .yamledit import drop_entry

    if not stage(root, run_id).legacy:
        pipeline.remove(root, run_id)
        return
    path = root / PARAMS
    edited = drop_entry(path.read_text(encoding="utf-8"), "runs", run_id) if path.is_file() else None
    if edited is not None:
        path.write_text(edited, encoding="utf-8")
        return
    ry, path, data = _edit_params(root)
    data["runs"].pop(run_id, None)
    with open(path, "w", encoding="utf-8") as fh:
        ry.dump(data, fh)


def add_run(root: Path, run_id: str, config: str, dataset: str, code: str | None) -> dict[str, str]:
    """Declares a run: its own stage directory data/eval/pipelines/<run_id> (dvc.yaml and the
    declaration, params.yaml). The entry is checked as the stage will check it: paths inside the
    repository, the config valid, and `code` defaulting to what the config's provider runs (else
    the config itself)."""
    layout.check_run_id(run_id)
    if pipeline.declared(root, run_id) or (root / layout.pipeline_dir(run_id)).exists() \
            or run_id in _legacy_runs(root):
        raise UsageError(f"run {run_id!r} is already declared (`ledger run rm {run_id}` first)")
    _check_runs_stage(root)
    entry = {"config": _rel(root, config), "dataset": _rel(root, dataset)}
    for key, rel in entry.items():
        _inside(root, rel, key)
        if not (root / rel).is_file():
            raise UsageError(f"{key} not found: {brief(rel)}")
    cfg, _ = load_config(root / entry["config"])
    if code is None:
        from . import scorers
        from .providers import get_provider

        files = (get_provider(root, cfg, entry["config"]).repo_files()
                 + scorers.build(root, cfg, entry["config"]).repo_files())
        code = _common_dir(sorted(set(files))) if files else entry["config"]
    entry["code"] = _rel(root, code)
    _validate_entry(root, run_id, entry)
    pipeline.write(root, run_id, entry)
    return entry


def _check_runs_stage(root: Path) -> None:
    """A run's stage reaches a plain `dvc repro` through the root dvc.yaml's `runs` stage, which
    a project made by an older ledger lacks: without it the new run would silently never run."""
    path = root / "dvc.yaml"
    try:
        data = yamledit.load(path.read_text(encoding="utf-8")) if path.is_file() else None
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as exc:
        raise UsageError(f"dvc.yaml is not valid YAML: {exc.__class__.__name__}") from None
    stages = data.get("stages") if isinstance(data, dict) else None
    stage = stages.get(pipeline.ROOT_STAGE) if isinstance(stages, dict) else None
    if not isinstance(stage, dict) or not str(stage.get("cmd", "")).startswith(f"ledger stage {pipeline.ROOT_STAGE}"):
        raise UsageError("dvc.yaml has no `runs` stage (a project made by an older ledger): run `ledger init` "
                         "once to add it, so that `dvc repro` runs the new run")


def _validate_entry(root: Path, run_id: str, entry: dict[str, Any]) -> None:
    for key in ENTRY_KEYS:
        _inside(root, entry[key], key)
    if not (root / entry["code"]).exists():
        raise UsageError(f"code not found: {brief(entry['code'])}")


def _rel(root: Path, value: str) -> str:
    """A path as given on the command line (relative to the working directory or absolute)
    -> relative to the repository root, in posix form."""
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        raise UsageError(f"{brief(value)} is not a path")
    full = (Path.cwd() / value).resolve()
    if not full.is_relative_to(root.resolve()):
        raise UsageError(f"{brief(value)} must be a path inside the repository")
    return full.relative_to(root.resolve()).as_posix()


def _common_dir(files: list[str]) -> str:
    """The one file, or the deepest directory holding all of them."""
    if len(files) == 1:
        return files[0]
    common = []
    for group in zip(*(Path(f).parent.parts for f in files)):
        if len(set(group)) != 1:
            break
        common.append(group[0])
    if not common:
        raise UsageError(f"the run executes {', '.join(files[:3])}, which share no directory: "
                         "move them into one (e.g. src/) or give --code")
    return "/".join(common)


def drop_run(root: Path, run_id: str) -> None:
    """`ledger run rm`: the declaration goes; outputs already made stay until `dvc gc`/removal."""
    layout.check_id(run_id, "run id")
    remove_run(root, run_id)  # an unknown run: NotFound from stage()
