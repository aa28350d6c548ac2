"""`ledger assign ALIAS [ID] --tier T --limitation TEXT [--rollback ID]`: a deployment decision,
signed. The baseline must verify and pass its gates at the tier; without an ID, exactly one
verified baseline may pass (more than one is refused: name it). The rollback target defaults
to the alias's current holder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import artifacts, layout
from .audit import assignments
from .errors import NotFound, Refused, UsageError
from .gates import load, scorecard
from .gitops import Git
from .promote import check_signing, check_reason, now


def _card(root: Path, promoted_id: str, tier: str, defs: dict[str, Any]) -> dict[str, Any]:
    art = artifacts.resolve_promoted(root, promoted_id, "baseline")
    fp = art.fingerprint
    return scorecard(root, art.metrics, tier, None, run_id=promoted_id, task=art.task, defs=defs,
                     run_fingerprint=fp.get("fingerprint_sha256"))


def assign(root: Path, alias: str, promoted_id: str | None, tier: str, limitation: str,
           rollback: str | None = None) -> dict[str, Any]:
    assignments.check_alias(alias)
    if not (limitation or "").strip():
        raise UsageError("--limitation: say what this baseline is known not to do (or 'none known')")
    limitation = check_reason(limitation)
    git = Git(root)
    defs = load(root)
    if not defs:
        raise UsageError("params.yaml defines no `gates:`: nothing to decide")
    if promoted_id:
        layout.check_id(promoted_id, "promoted id")
        card = _card(root, promoted_id, tier, defs)
        if not card["overall_passed"]:
            raise Refused(f"{promoted_id!r} does not pass its gates at tier {tier!r} ({card['summary']}): not assigned")
    else:
        from .api import promotions

        passing = []
        for p in promotions(root):
            if p.get("role") != "baseline" or p.get("invalid"):
                continue
            try:
                card = _card(root, str(p["promoted_id"]), tier, defs)
            except (NotFound, Refused):
                continue  # does not verify: never a candidate
            if card["overall_passed"]:
                passing.append((str(p["promoted_id"]), card))
        if len(passing) != 1:
            names = ", ".join(i for i, _ in passing[:5])
            raise Refused(f"no verified baseline passes its gates at tier {tier!r}: nothing to assign" if not passing
                          else f"{len(passing)} baselines pass at tier {tier!r} ({names}): name the one to assign")
        promoted_id, card = passing[0]
    current = next((r for r in assignments.table(git) if r["alias"] == alias and r.get("holder")), None)
    if rollback is None and current and current["holder"] != promoted_id:
        rollback = current["holder"]
    if rollback is not None:
        if rollback == promoted_id:
            raise UsageError("--rollback must name another promoted baseline")
        artifacts.resolve_promoted(root, rollback, "baseline")  # verified, a baseline
    check_signing(git)
    promotion = git.tag_info(f"{layout.TAG_PREFIX}baseline/{promoted_id}")
    n = assignments.next_n(git, alias)
    name = assignments.tag_name(alias, n)
    record = {"schema": assignments.SCHEMA, "alias": alias, "n": n, "promoted_id": promoted_id,
              "promotion_tag": promotion.name, "promotion_tag_object": promotion.oid, "tier": tier,
              "scorecard": {"overall_passed": card["overall_passed"], "inputs_sha256": card["inputs_sha256"],
                            "summary": card["summary"]},
              "rollback": rollback, "limitation": limitation,
              "assigned_by": git.config("user.email") or "", "assigned_at": now()}
    git.create_tag(name, promotion.commit, json.dumps(record, indent=2, sort_keys=True) + "\n", sign=True)
    return {**record, "tag": name}
