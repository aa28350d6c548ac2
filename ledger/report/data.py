"""The report's data: the promotions timeline with each one's verified signer and verify status,
metric history across VERIFIED baselines per task, and the review of a range (candidate vs
baseline: metric deltas, gate results, what changed case by case)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..compare import is_number
from ..gitops import Git


def collect(root: Path, rng: str | None = None, tier: str | None = None) -> dict[str, Any]:
    from .. import review as _review
    from ..api import promotions
    from ..audit import verify as _verify

    git = Git(root)
    review = _review.review(root, rng, tier)
    found = {f.promoted_id: f for f in _verify.verify(root, workspace=False) if f.path and not f.elsewhere}
    timeline = []
    for p in promotions(root):
        pid = str(p.get("promoted_id"))
        f = found.get(pid)
        ok = bool(f and f.ok)
        timeline.append({"promoted_id": pid, "role": p.get("role"), "quality": p.get("quality"), "task": p.get("task"),
                         "run_id": p.get("run_id"), "promoted_at": p.get("promoted_at"), "tag": p.get("tag"),
                         "verified": ok, "signer": f.signer if ok else None,
                         "problem": None if ok else (f.problems[0] if f and f.problems else "not verified"),
                         "metrics": (f.record or {}).get("metrics", {}) if ok else {}})
    history: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for t in timeline:
        if t["verified"] and t["role"] == "baseline":
            for name, value in sorted(t["metrics"].items()):
                if is_number(value):
                    history.setdefault(str(t["task"]), {}).setdefault(name, []).append(
                        {"promoted_id": t["promoted_id"], "promoted_at": t["promoted_at"], "value": float(value)})
    return {"generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "head": git.head(),
            "timeline": timeline, "history": history, "review": review}
