"""One run: provider over dataset -> predictions, metrics, fingerprint, baseline.json, config.yaml.
Called by the DVC stage `materialize@<run_id>` (`ledger stage materialize <run_id>`)."""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from .. import layout, runs, scorers
from . import fingerprint
from .dataset import load_cases, suite_fingerprint
from ..errors import UsageError
from ..gitops import Git
from ..hashing import dump_json
from ..providers import get_provider


def materialize(root: Path, run_id: str) -> Path:
    """Runs the provider over the dataset, scores it and writes the run directory atomically:
    any error leaves no run directory behind (and an earlier one untouched)."""
    entry = runs.run_entry(root, run_id)
    where = entry["config"]
    config, config_bytes = runs.load_config(root / where)
    provider = get_provider(root, config, where)
    if provider.task is not None and provider.task != config["task"]:
        raise UsageError(f"{where}: provider {provider.kind!r} does {provider.task!r}, not {config['task']!r}")
    suite = scorers.build(root, config, where)
    runs.check_code_dep(root, run_id, entry, provider.repo_files() + suite.repo_files())
    cases = load_cases(root / entry["dataset"])

    predictions = provider.predict_all(cases)
    metrics, case_scores = scorers.evaluate(suite, config["task"], cases, predictions)

    out = root / layout.run_dir(run_id)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{run_id}.", dir=out.parent))
    try:
        _jsonl(staging / "predictions.jsonl", ({"case_id": cid, **pred} for cid, pred in sorted(predictions.items())))
        _jsonl(staging / "scores.jsonl", case_scores)
        (staging / layout.PLOTS).write_text(plots_data(case_scores))
        (staging / "metrics.json").write_text(dump_json(metrics))
        (staging / "config.yaml").write_bytes(config_bytes)
        fp = fingerprint.capture(
            root, run_id=run_id, run_entry=entry, config=config, config_bytes=config_bytes,
            evaluator_version=metrics["evaluator_version"], provider=provider.describe(),
            suite=suite_fingerprint(cases), scorers=suite.describe(),
            outputs={name: staging / name for name in layout.FINGERPRINTED},
        )
        (staging / "fingerprint.json").write_text(dump_json(fp))
        (staging / "baseline.json").write_text(dump_json(baseline_record(root, run_id, entry, fp)))
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def plots_data(case_scores: list[dict[str, Any]]) -> str:
    """scores.jsonl as DVC plots data: one object per case, `case` (1, 2, ...: the x axis),
    `case_id`, its slice fields (`slice.<field>`), then its scores in name order -- the last
    field is DVC's default y (`dvc plots show -y <metric>` picks another)."""
    rows = []
    for i, row in enumerate(case_scores, 1):
        out: dict[str, Any] = {"case": i, "case_id": row.get("case_id")}
        out.update({f"slice.{k}": v for k, v in sorted((row.get("slice") or {}).items())})
        out.update(sorted((row.get("scores") or {}).items()))
        rows.append(out)
    return json.dumps(rows, ensure_ascii=False, allow_nan=False, indent=1) + "\n"


def _jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n")


def baseline_record(root: Path, run_id: str, entry: dict[str, Any], fp: dict[str, Any]) -> dict[str, Any]:
    git = Git(root)
    name, email = git.config("user.name"), git.config("user.email")
    return {
        "run_id": run_id,
        "dataset_id": Path(entry["dataset"]).stem,
        "dataset": entry["dataset"],
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "created_by": f"{name} <{email}>" if name and email else (email or name or "unknown"),
        "fingerprint_ref": f"fingerprint.json#sha256:{fp['fingerprint_sha256']}",
    }
