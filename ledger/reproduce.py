"""`ledger reproduce ID`: re-run a promoted run at its recorded commit and compare digests.

The run executes in a scratch `git worktree` at the fingerprint's code commit, through the
same code path as the DVC stage (`ledger stage materialize <run_id>`, cwd = the worktree,
so the code of that commit runs). The dataset comes from the DVC cache by its recorded md5;
the config comes from the commit. The worktree is always removed, also on error."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from . import dvcops, layout
from .run import envlock
from .errors import LedgerError, NotFound, Refused, UsageError
from .gitops import Git
from .run.fingerprint import seal
from .hashing import file_digest

MAX_PACKAGES = 5


def find_promotion(root: Path, promoted_id: str) -> dict[str, Any]:
    """The signed record of a promotion that verifies (signature, record, tagged tree): the code
    this command then executes is the code that promotion names, never an unsigned tag's."""
    from .audit.verify import verified

    found = verified(root, promoted_id, workspace=False)
    return {**(found.record or {}), "tag": found.tag, "commit": found.commit}


def promoted_fingerprint(git: Git, record: dict[str, Any]) -> dict[str, Any]:
    """fingerprint.json as the promotion commit holds it, checked against the signed record."""
    rel = f"{record.get('path')}/fingerprint.json"
    raw = git.show_file(record["commit"], rel)
    if raw is None:
        raise NotFound(f"{rel} is not in the promotion commit {record['commit'][:12]}")
    try:
        fp = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UsageError(f"{rel} is not valid JSON") from None
    if not isinstance(fp, dict) or seal(dict(fp))["fingerprint_sha256"] != record.get("fingerprint_sha256"):
        raise Refused(f"{rel} does not match the signed promotion record: run `ledger verify`")
    return fp


def env_diff(recorded: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """Recorded vs current environment lock: same?, and what changed (packages first)."""
    rec_sha, cur_sha = recorded.get("lock_sha256"), envlock.lock_sha256(current)
    changes: list[str] = []
    for key in ("python", "platform"):
        if key in recorded and recorded[key] != current.get(key):
            changes.append(f"{key} {recorded[key]} -> {current.get(key)}")
    old, new = recorded.get("packages") or {}, current.get("packages") or {}
    packages = []
    for name in sorted(set(old) | set(new)):
        if old.get(name) != new.get(name):
            packages.append(f"{name} {old.get(name, '(absent)')} -> {new.get(name, '(absent)')}")
    return {"same": rec_sha == cur_sha, "recorded_lock_sha256": rec_sha, "current_lock_sha256": cur_sha,
            "changed": changes + packages, "changed_packages": len(packages)}


def _place_dataset(src: Path, dest: Path) -> None:
    """Link the cache object (no copy of a large dataset), else copy. Not a symlink: the run
    refuses dataset paths that resolve outside the repository."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)


def _declare_run(tree: Path, run_id: str, entry: dict[str, Any]) -> str | None:
    """Make sure the commit declares the run as recorded (its stage directory, or an older
    project's params.yaml); a note if it had to."""
    from .runs import run_entry
    from .run import pipeline

    keys = ("config", "dataset", "code")
    try:
        declared = run_entry(tree, run_id)
    except LedgerError:
        declared = {}
    if {k: declared.get(k) for k in keys} == {k: entry.get(k) for k in keys}:
        return None
    where = tree / layout.pipeline_dir(run_id)
    where.mkdir(parents=True, exist_ok=True)
    (where / pipeline.PARAMS).write_text(pipeline.params_text(entry), encoding="utf-8")
    how = "declares it differently" if declared else "does not declare it"
    return f"the recorded commit {how}: ran {run_id} as its fingerprint records it"


def _execute(tree: Path, run_id: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    proc = subprocess.run([sys.executable, "-m", "ledger.run.stage", "materialize", run_id], cwd=tree, env=env,
                          capture_output=True, text=True)
    lines = (proc.stderr or proc.stdout or "").strip().splitlines()
    return proc.returncode, lines[-1] if lines else f"exit {proc.returncode}"


def reproduce(root: Path, promoted_id: str) -> dict[str, Any]:
    layout.check_id(promoted_id, "promoted id")
    git = Git(root)
    record = find_promotion(root, promoted_id)
    fp = promoted_fingerprint(git, record)
    run_id = fp.get("run_id") or record.get("run_id")
    entry = (fp.get("params") or {}).get("run") or {}
    commit = (fp.get("code") or {}).get("commit")
    if not run_id or not entry.get("config") or not entry.get("dataset") or not commit:
        raise UsageError(f"{record['path']}/fingerprint.json lacks the run id, params.run or code.commit")
    if not git.rev_parse(f"{commit}^{{commit}}"):
        raise NotFound(f"recorded commit {commit[:12]} is not in this repository: fetch it first")
    dataset = entry["dataset"]
    md5 = (fp.get("data") or {}).get(dataset)
    if not md5:
        raise UsageError(f"{record['path']}/fingerprint.json records no md5 for {dataset}")
    cached = dvcops.cache_file(root, md5)
    if cached is None:
        raise NotFound(f"the DVC cache lacks {dataset} (md5 {md5}): run `dvc pull` and retry")

    warnings: list[str] = []
    env = env_diff(fp.get("env") or {}, envlock.capture())
    if not env["same"]:
        shown = env["changed"][:MAX_PACKAGES]
        more = len(env["changed"]) - len(shown)
        warnings.append("environment differs from the recorded lock: " + ", ".join(shown)
                        + (f" (+{more} more)" if more > 0 else ""))
    from .run.fingerprint import ledger_identity

    recorded_ledger, current_ledger = fp.get("ledger"), ledger_identity()
    if recorded_ledger and recorded_ledger != current_ledger:
        warnings.append(f"ledger differs from the one that ran: {recorded_ledger.get('version')} -> "
                        f"{current_ledger.get('version')}" + (" (source changed)" if recorded_ledger.get(
                            "version") == current_ledger.get("version") else ""))
    if (fp.get("code") or {}).get("dirty"):
        warnings.append(f"the run was recorded on a dirty tree: commit {commit[:12]} alone may not reproduce it")

    scratch_parent = root / ".dvc" / "tmp"  # same filesystem as the cache (hardlinks); ignored by git and DVC
    scratch = Path(tempfile.mkdtemp(prefix="ledger-reproduce-",
                                    dir=scratch_parent if scratch_parent.is_dir() else None))
    tree = scratch / "tree"
    try:
        git.worktree_add(tree, commit)
        _place_dataset(cached, tree / dataset)
        if file_digest(tree / dataset, "md5") != md5:
            raise Refused(f"the DVC cache object for {dataset} is corrupt (md5 is not {md5}): "
                          "remove it and run `dvc pull`")
        for rel, in_md5 in sorted((fp.get("inputs") or {}).items()):  # DVC-tracked model files, ...
            if not (tree / rel).is_file():
                obj = dvcops.cache_file(root, in_md5)
                if obj is None:
                    raise NotFound(f"the DVC cache lacks {rel} (md5 {in_md5}), an input of the run: "
                                   "run `dvc pull` and retry")
                _place_dataset(obj, tree / rel)
        note = _declare_run(tree, run_id, entry)
        if note:
            warnings.append(note)
        rc, last = _execute(tree, run_id)
        outputs = []
        if rc == 0:
            out_dir = tree / layout.run_dir(run_id)
            for name, expected in sorted((fp.get("outputs") or {}).items()):
                got = file_digest(out_dir / name) if (out_dir / name).is_file() else None
                outputs.append({"file": name, "expected": expected, "got": got, "match": got == expected})
    finally:
        git.worktree_remove(tree)
        shutil.rmtree(scratch, ignore_errors=True)

    if rc != 0:
        status, error = "FAILED", f"the run failed at commit {commit[:12]}: {last}"
    else:
        status = "REPRODUCED" if all(o["match"] for o in outputs) else "DIVERGED"
        error = None
    return {"id": promoted_id, "role": record.get("role"), "quality": record.get("quality"), "run_id": run_id,
            "tag": record["tag"], "code_commit": commit, "dataset": {"path": dataset, "md5": md5},
            "config": entry["config"], "status": status, "reproduced": status == "REPRODUCED", "error": error,
            "outputs": outputs, "diverged": [o for o in outputs if not o["match"]], "env": env,
            "warnings": warnings}
