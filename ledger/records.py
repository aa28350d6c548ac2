"""The promotion record (tag message), commit message, README and promotion metadata."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .errors import UsageError
from .gitops import Git, TagInfo
from .hashing import file_digest

SCHEMA = "ledger.promotion/1"


def promotion_record(root: Path, git: Git, plan: dict[str, Any], run_path: Path) -> dict[str, Any]:
    name, email = git.identity()
    fp, target = plan["fp"], plan["target"]
    pred = run_path / "predictions.jsonl"
    record = {
        "schema": SCHEMA,
        "promoted_id": target.promoted_id,
        "role": target.role,
        "quality": target.quality,
        "task": plan["metrics"].get("task"),
        "path": target.path,
        "run_id": plan["run_id"],
        "reason": plan["reason"],
        "promoted_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "promoted_by": f"{name} <{email}>",
        "signed": not plan["unsigned"],
        "fingerprint_sha256": fp["fingerprint_sha256"],
        "code_commit": fp["code"]["commit"],
        "data": fp["data"],
        "env_lock_sha256": fp["env"]["lock_sha256"],
        "suite_fingerprint": fp["suite_fingerprint"],
        "evaluator_version": fp["evaluator_version"],
        "metrics": plan["metrics"].get("metrics", {}),
        "dvc": {"predictions.jsonl": {"md5": plan["manifest"]["predictions.jsonl"],
                                      "sha256": fp["outputs"].get("predictions.jsonl") or file_digest(pred),
                                      "size": pred.stat().st_size}},
    }
    from .audit import gto

    gto_tag = gto.tag_name(target.promoted_id, target.role, target.quality)
    if gto_tag:  # the GTO-grammar tag made in the same transaction (audit/gto.py)
        record["gto_tag"] = gto_tag
    return record


def baseline_fields(plan: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    fields = {
        "promoted_from": f"runs/{plan['run_id']}",
        "promoted_at": record["promoted_at"],
        "promoted_as": plan["target"].label,
        "promoted_id": record["promoted_id"],
        "reason": record["reason"],
        "promotion_tag": plan["target"].tag,
    }
    if record["quality"]:
        fields["reference_quality"] = record["quality"]
    return fields


def commit_message(plan: dict[str, Any], record: dict[str, Any]) -> str:
    return (
        f"promote: {plan['run_id']} -> {plan['target'].label}\n\n{record['reason']}\n\n"
        f"Ledger-Run: {plan['run_id']}\nLedger-Fingerprint: {record['fingerprint_sha256']}\n"
        f"Ledger-Promoted-Id: {record['promoted_id']}\n"
    )


def tag_message(record: dict[str, Any]) -> str:
    return json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# Every field a promotion record carries, and its type: a tag body anyone can write is checked
# field by field before any command uses it (a missing or mistyped field is a finding, never a crash).
_STR, _DICT = (str,), (dict,)
FIELDS: dict[str, tuple[type, ...]] = {
    "schema": _STR, "promoted_id": _STR, "role": _STR, "quality": (str, type(None)), "task": (str, type(None)),
    "path": _STR, "run_id": _STR, "reason": _STR, "promoted_at": _STR, "promoted_by": _STR, "signed": (bool,),
    "fingerprint_sha256": _STR, "code_commit": (str, type(None)), "data": _DICT, "env_lock_sha256": _STR,
    "suite_fingerprint": _STR, "evaluator_version": _STR, "metrics": _DICT, "dvc": _DICT, "files": _DICT,
}


def json_message(message: str, schema: str, what: str) -> dict[str, Any]:
    """A tag message holding a JSON record of `schema` (approval and assignment tags); a
    UsageError "its message is not <what>" for anything else, deep nesting included."""
    try:
        record = json.loads(message)
    except (ValueError, RecursionError):
        record = None
    if not isinstance(record, dict) or record.get("schema") != schema:
        raise UsageError(f"its message is not {what}")
    return record


def shown(name: str) -> str:
    """A tag name as an error line may hold it: escaped, whitespace folded, at most 120 chars."""
    return " ".join(repr(name)[1:-1].split())[:120]


def parse_tag(tag: TagInfo) -> dict[str, Any]:
    name = shown(tag.name)
    try:
        record = json.loads(tag.message)
    except (ValueError, RecursionError):
        raise UsageError(f"tag {name}: message is not a ledger promotion record") from None
    if not isinstance(record, dict) or record.get("schema") != SCHEMA:
        raise UsageError(f"tag {name}: message is not a ledger promotion record")
    for field, types in FIELDS.items():
        if not isinstance(record.get(field), types):  # a missing field reads as None: allowed only where None is
            raise UsageError(f"tag {name}: promotion record field {field!r} is missing or not "
                             f"{'/'.join(t.__name__ for t in types)}")
    pred = record["dvc"].get("predictions.jsonl")
    if not isinstance(pred, dict) or not all(isinstance(pred.get(k), str) for k in ("md5", "sha256")):
        raise UsageError(f"tag {name}: promotion record field 'dvc' does not describe predictions.jsonl")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in record["files"].items()):
        raise UsageError(f"tag {name}: promotion record field 'files' must map file names to digests")
    if not isinstance(record.get("gto_tag", ""), str):  # optional: promotions before GTO tags have none
        raise UsageError(f"tag {name}: promotion record field 'gto_tag' is not a tag name")
    return record


def readme(record: dict[str, Any], baseline: dict[str, Any]) -> str:
    metrics = "\n".join(f"| {k} | {v} |" for k, v in sorted(record["metrics"].items())) or "| (none) | |"
    data = "\n".join(f"- `{p}` md5 `{m}`" for p, m in sorted(record["data"].items()))
    quality = f" ({record['quality']})" if record["quality"] else ""
    return f"""# {record['promoted_id']}: {record['role']}{quality}

Promoted from run `{record['run_id']}` by {record['promoted_by']} at {record['promoted_at']}.

**Why:** {record['reason']}

| | |
|---|---|
| task | {record['task']} |
| evaluator | {record['evaluator_version']} |
| code commit | `{record['code_commit']}` |
| suite fingerprint | `{record['suite_fingerprint'][:16]}…` |
| fingerprint | `{record['fingerprint_sha256'][:16]}…` |
| env lock | `{record['env_lock_sha256'][:16]}…` |
| tag | `{baseline['promotion_tag']}` ({'signed' if record['signed'] else 'UNSIGNED'}) |

Data:
{data}

| metric | value |
|---|---|
{metrics}

This directory is immutable. `ledger verify` proves it matches the signed tag;
`ledger pull {record['promoted_id']}` fetches the predictions (checked against the signed sha256).
"""
