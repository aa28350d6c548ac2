"""Each declared run is its own DVC stage file: `data/eval/pipelines/<run_id>/`.

    dvc.yaml     the stage `materialize` (cmd, deps, params, the run directory as its output),
                 the run's metrics.json as a DVC metric and its per_case.json as DVC plots
    params.yaml  the declaration: {config, dataset, code}; `${config}` etc. in dvc.yaml read it,
                 which makes DVC track its values as the stage's params (in dvc.lock), so
                 `dvc exp run -S data/eval/pipelines/<run_id>/params.yaml:config=...` works
    dvc.lock     written by DVC

DVC parses every stage file and lock file on each `dvc status`/`dvc repro` (pure-Python YAML,
~8 ms per run here): the stage file is kept short for that reason.

One lock file per run keeps `dvc repro` linear in the number of runs (a single dvc.lock is
re-read and rewritten after every stage: quadratic). The root dvc.yaml's `runs` stage depends
on data/eval/runs, which puts every run stage upstream of it, so a plain `dvc repro` runs them.

Measured against one stage for all runs (DVC 3.67, 200 runs, benchmarks/bench_runs.py's set-up,
2026-11-25): one stage whose deps are every run's inputs and whose outs are the 200 run dirs
(persist) makes a no-op `dvc repro` 1.72 s instead of 2.05 s, but any change to one run's
inputs reruns that stage, and DVC then saves and commits all 200 outputs: 5.6 s with a command
that does nothing, against 2.3 s for adding one run here. DVC's cost per stage (~7.5 ms on a
no-op: parsing each stage and lock file, 16 edits of .dvc/tmp/rwlock, dep and out status) is
what a per-run layout pays; it is DVC's, not ledger's.

Projects made by an older ledger declare runs under `runs:` in the root params.yaml with one
`foreach` stage (`materialize@<run_id>`); those keep working (see `Stage`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import layout

DVC_YAML = "dvc.yaml"
ROOT_STAGE = "runs"  # the root dvc.yaml's stage every run stage is upstream of (`ledger init`)
PARAMS = "params.yaml"
LOCK = "dvc.lock"
STAGE = "materialize"
_UP = "../../../.."  # from data/eval/pipelines/<run_id> to the repository root

STAGE_FILE = """\
# ledger run {run}, declared by params.yaml beside this file (README, "Runs")
stages:
  {stage}:
    cmd: ledger stage materialize {run}
    wdir: {up}
    deps:
      - ${{config}}
      - ${{dataset}}
      - ${{code}}
      - {envlock}
    outs:
      - {out}
metrics:
  - {up_out}/metrics.json
plots:
  - {up_out}/per_case.json:
      x: case
"""


@dataclass(frozen=True)
class Stage:
    """Where DVC keeps a run's stage: its lock file, the stage's name in it, the address
    `dvc repro` takes, and the git-tracked files a promotion removes."""

    run_id: str
    legacy: bool  # declared under `runs:` in the root params.yaml (foreach stage)

    @property
    def lockfile(self) -> str:
        return LOCK if self.legacy else f"{layout.pipeline_dir(self.run_id)}/{LOCK}"

    @property
    def name(self) -> str:
        return f"{STAGE}@{self.run_id}" if self.legacy else STAGE

    @property
    def address(self) -> str:
        return self.name if self.legacy else f"{layout.pipeline_dir(self.run_id)}/{DVC_YAML}:{STAGE}"

    @property
    def params_file(self) -> str:
        return PARAMS if self.legacy else f"{layout.pipeline_dir(self.run_id)}/{PARAMS}"

    @property
    def declaration(self) -> list[str]:
        """Files that declare the run (a promotion edits or removes them)."""
        if self.legacy:
            return [PARAMS, LOCK]
        base = layout.pipeline_dir(self.run_id)
        return [f"{base}/{DVC_YAML}", f"{base}/{PARAMS}", f"{base}/{LOCK}"]


def declared(root: Path, run_id: str) -> bool:
    return (root / layout.pipeline_dir(run_id) / PARAMS).is_file()


def run_ids(root: Path) -> list[str]:
    """Directories under data/eval/pipelines holding a declaration (unchecked names)."""
    base = root / layout.PIPELINES
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if (p / PARAMS).is_file())


def stage_text(run_id: str) -> str:
    return STAGE_FILE.format(run=run_id, stage=STAGE, up=_UP, envlock=layout.ENV_LOCK,
                             out=layout.run_dir(run_id), up_out=f"../../runs/{run_id}")


def params_text(entry: dict[str, Any]) -> str:
    """The declaration, one `key: value` line each, JSON-quoted (valid YAML for any path)."""
    import json

    return "".join(f"{key}: {json.dumps(entry[key])}\n" for key in ("config", "dataset", "code") if entry.get(key))


def write(root: Path, run_id: str, entry: dict[str, Any]) -> str:
    """Writes the run's stage directory atomically (a temp dir renamed into place); returns it."""
    import shutil
    import tempfile

    rel = layout.pipeline_dir(run_id)
    final = root / rel
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{run_id}.", dir=final.parent))
    try:
        (tmp / PARAMS).write_text(params_text(entry), encoding="utf-8")
        (tmp / DVC_YAML).write_text(stage_text(run_id), encoding="utf-8")
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return rel


def remove(root: Path, run_id: str) -> None:
    """The run's stage directory goes (dvc.yaml, params.yaml, dvc.lock)."""
    base = root / layout.pipeline_dir(run_id)
    for name in (DVC_YAML, PARAMS, LOCK):
        (base / name).unlink(missing_ok=True)
    try:
        base.rmdir()
    except OSError:  # something else in it (the user's own file): leave it
        pass
