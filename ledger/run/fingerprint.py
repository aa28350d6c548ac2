"""Provenance of one run, captured automatically at execution time."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .. import dvcops, layout, progress
from . import envlock
from ..errors import LedgerError, UsageError
from ..gitops import Git
from ..hashing import bytes_sha256, file_digest, json_sha256

SCHEMA = "ledger.fingerprint/1"
# Files DVC and ledger rewrite during `dvc repro` (every dvc.lock: the root one and each run's
# in its stage directory): not "code", so not dirt.
_BOOKKEEPING = ("dvc.lock",)


def _is_bookkeeping(path: str) -> bool:
    return path.rsplit("/", 1)[-1] in _BOOKKEEPING or path.endswith(".gitignore") or path.startswith(layout.RUNS + "/") \
        or path == layout.ENV_LOCK or path.startswith("data/eval/scorecards/")  # gate results, not code


def code_state(git: Git) -> dict[str, Any]:
    commit = git.head()
    dirty = sorted({p for _, p in git.status() if not _is_bookkeeping(p)})
    experiment = _experiment()
    if experiment is not None:  # `dvc exp run -S`: the params change is the experiment's params, not dirt
        experiment["params_files"] = [p for p in dirty if _is_params(p)]
        dirty = [p for p in dirty if not _is_params(p)]
    state: dict[str, Any] = {"commit": commit, "branch": git.branch(), "dirty": bool(dirty) or commit is None}
    if experiment is not None:
        state["experiment"] = experiment
    if dirty:
        blob = git.diff_bytes(*dirty) if commit else b""
        for path in dirty:  # untracked files are not in `git diff`
            full = git.root / path
            if full.is_file():
                blob += path.encode() + b"\0" + bytes.fromhex(file_digest(full))
        state["dirty_paths"] = dirty
        state["diff_sha256"] = bytes_sha256(blob)
    return state


def _is_params(path: str) -> bool:
    """The files `dvc exp run -S` edits for ledger: params.yaml, and a run's declaration."""
    return path == "params.yaml" or (path.startswith(layout.PIPELINES + "/") and path.endswith("/params.yaml")
                                     and path.count("/") == layout.PIPELINES.count("/") + 2)


def _experiment() -> dict[str, Any] | None:
    """The DVC experiment this stage runs in (`dvc exp run`, queued or not: DVC sets these in
    the stage's environment), or None for a plain `dvc repro`."""
    name = os.environ.get("DVC_EXP_NAME", "").strip()
    if not name:
        return None
    return {"name": name, "baseline_rev": os.environ.get("DVC_EXP_BASELINE_REV", "").strip() or None}


def env_state(root: Path) -> dict[str, Any]:
    lock_path = root / layout.ENV_LOCK
    if lock_path.is_file():
        lock = json.loads(lock_path.read_text())
        source = layout.ENV_LOCK
    else:
        lock = envlock.capture()
        source = "captured"
    return {
        "python": lock["python"],
        "platform": lock["platform"],
        "packages": lock["packages"],
        "lock_sha256": envlock.lock_sha256(lock),
        "lock_source": source,
    }


def seal(fp: dict[str, Any]) -> dict[str, Any]:
    body = {k: v for k, v in fp.items() if k not in ("run_id", "fingerprint_sha256")}
    try:
        fp["fingerprint_sha256"] = json_sha256(body)
    except ValueError:  # NaN/inf in an (edited) fingerprint: never part of a digest
        raise UsageError("fingerprint holds NaN or infinity: not a ledger fingerprint") from None
    return fp


def ledger_identity() -> dict[str, Any]:
    """The exact ledger that ran: its version, and for an editable install (a checkout whose
    source can change without a version bump) the digest of its source."""
    from importlib import metadata

    import ledger

    try:
        dist = metadata.distribution("ledger")
        version, direct = dist.version, json.loads(dist.read_text("direct_url.json") or "{}")
    except (metadata.PackageNotFoundError, ValueError):
        version, direct = "unknown", {}
    out: dict[str, Any] = {"version": version}
    if (direct.get("dir_info") or {}).get("editable") or version == "unknown":
        base = Path(ledger.__file__).parent
        files = sorted(p for p in base.rglob("*.py") if "__pycache__" not in p.parts)
        out["editable"] = True
        out["source_sha256"] = json_sha256({p.relative_to(base).as_posix(): file_digest(p) for p in files})
    return out


def input_files(root: Path, rel: str) -> list[str]:
    """The files of a run's `code` dependency (a file, or every file below a directory, as DVC
    hashes it: .dvcignore'd byte-code left out)."""
    full = root / rel
    if full.is_file():
        return [rel]
    return sorted(p.relative_to(root).as_posix() for p in full.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")


def capture(root: Path, *, run_id: str, run_entry: dict[str, Any], config: dict[str, Any], config_bytes: bytes,
            evaluator_version: str, provider: dict[str, Any], suite: str, outputs: dict[str, Path],
            scorers: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    git = Git(root)
    dataset = run_entry["dataset"]
    data = dvcops.workspace_md5(root, [dataset])
    code_dep = run_entry.get("code")
    inputs = dvcops.workspace_md5(root, input_files(root, code_dep)) if code_dep else {}
    tracked = dvcops.tracked_md5(root, dataset)
    fp: dict[str, Any] = {
        "schema": SCHEMA,
        "run_id": run_id,
        "code": code_state(git),
        "data": data,
        "data_tracked": {dataset: tracked},
        "env": env_state(root),
        "config_sha256": bytes_sha256(config_bytes),
        "params": {"run": run_entry, "config": config},
        "params_sha256": json_sha256({"run": run_entry, "config": config}),
        "evaluator_version": evaluator_version,
        "provider": provider,
        "scorers": scorers or [],
        "inputs": inputs,
        "comparability": config.get("comparability") or {},
        "ledger": ledger_identity(),
        "suite_fingerprint": suite,
        "outputs": {name: file_digest(path) for name, path in sorted(outputs.items())},
    }
    if tracked is None:
        fp["data_warnings"] = [f"{dataset} is not tracked by DVC (no {dataset}.dvc, and no stage in dvc.lock outputs it)"]
    elif tracked != data[dataset]:
        fp["data_warnings"] = [f"{dataset} differs from its .dvc record (dvc add it)"]
    return seal(fp)


def check(run_path: Path) -> dict[str, Any]:
    """Loads fingerprint.json and proves it and the outputs it names are intact."""
    path = run_path / "fingerprint.json"
    try:
        fp = json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"{path} is missing: the run is incomplete") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UsageError(f"{path} is not valid JSON") from None
    if not isinstance(fp, dict) or fp.get("schema") != SCHEMA or "fingerprint_sha256" not in fp:
        raise UsageError(f"{path} is not a ledger fingerprint")
    expected = fp["fingerprint_sha256"]
    if seal(dict(fp))["fingerprint_sha256"] != expected:
        raise LedgerError(f"{path} was edited after the run: its fingerprint_sha256 no longer matches")
    for name in fp["outputs"]:
        if not (run_path / name).is_file():
            raise UsageError(f"{run_path / name} is missing: the run is incomplete")
    total = sum((run_path / name).stat().st_size for name in fp["outputs"])
    with progress.bytes_task("hashing outputs", total) as tick:
        for name, digest in fp["outputs"].items():
            out = run_path / name
            if file_digest(out, on_chunk=tick) != digest:
                raise LedgerError(f"{out} does not match its fingerprint digest (modified after the run)")
    return fp
