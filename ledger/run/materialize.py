"""One run: provider over dataset -> predictions, metrics, fingerprint, baseline.json, config.yaml.
Called by the DVC stage `materialize@<run_id>` (stages/materialize.py)."""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import layout, runs
from . import fingerprint
from .dataset import load_cases, suite_fingerprint
from ..errors import UsageError
from ..scorers.tasks import evaluate
from ..gitops import Git
from ..hashing import dump_json
from ..providers import get_provider


def materialize(root: Path, run_id: str) -> Path:
    entry = runs.run_entry(root, run_id)
    config, config_bytes = runs.load_config(root / entry["config"])
    provider = get_provider(config["provider"], config.get("params"))
    if provider.task != config["task"]:
        raise UsageError(f"{entry['config']}: provider {provider.name!r} does {provider.task!r}, not {config['task']!r}")
    cases = load_cases(root / entry["dataset"])

    predictions = {cid: provider.predict(case) for cid, case in sorted(cases.items())}
    metrics = evaluate(config["task"], cases, predictions)

    out = root / layout.run_dir(run_id)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{run_id}.", dir=out.parent))
    try:
        with open(staging / "predictions.jsonl", "w", encoding="utf-8") as fh:
            for cid, pred in predictions.items():
                fh.write(json.dumps({"case_id": cid, **pred}, sort_keys=True, ensure_ascii=False) + "\n")
        (staging / "metrics.json").write_text(dump_json(metrics))
        (staging / "config.yaml").write_bytes(config_bytes)
        fp = fingerprint.capture(
            root, run_id=run_id, run_entry=entry, config=config, config_bytes=config_bytes,
            evaluator_version=metrics["evaluator_version"], provider=provider.describe(),
            suite=suite_fingerprint(cases),
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
