"""Approvals: a second (third, ...) signature on a promotion, for policy rules with
`approvals: N`. An approval is a signed annotated tag `approval/<id>/<principal>` on the
promotion commit whose JSON message names the promotion tag OBJECT it approves, so it counts
only for that exact signed promotion (a re-made promotion tag needs new approvals)."""

from __future__ import annotations

import json
from typing import Any, Callable

from ..errors import UsageError
from ..records import json_message
from ..gitops import Git, TagInfo
from .policy import PATH, Policy, Rule

PREFIX = "approval/"
SCHEMA = "ledger.approval/1"


def tag_name(promoted_id: str, principal: str) -> str:
    return f"{PREFIX}{promoted_id}/{principal.lower()}"


def message(promotion: TagInfo, promoted_id: str, principal: str, reason: str, at: str) -> str:
    return json.dumps({"schema": SCHEMA, "approves": promotion.name, "tag_object": promotion.oid,
                       "promoted_id": promoted_id, "approved_by": principal, "approved_at": at,
                       "reason": reason}, indent=2, sort_keys=True) + "\n"


def by_id(git: Git, only: str | None = None) -> dict[str, list[TagInfo]]:
    """Every approval tag (one for-each-ref), by the promoted id its name claims."""
    out: dict[str, list[TagInfo]] = {}
    for t in git.tags(f"{PREFIX}{only}/" if only else PREFIX):
        parts = t.name[len(PREFIX):].split("/")
        if len(parts) == 2:
            out.setdefault(parts[0], []).append(t)
    return out


def _record(tag: TagInfo) -> dict[str, Any]:
    return json_message(tag.message, SCHEMA, "an approval record")


def count(promoted_id: str, promotion: TagInfo, promoter: str, rule: Rule, tags: list[TagInfo],
          signature: Callable[[TagInfo], tuple[str | None, str | None]]) -> tuple[set[str], list[str]]:
    """(distinct principals the rule counts for this promotion: the promoter and every valid
    approval, notes on the approval tags that do not count and why)."""
    who, notes = {promoter.lower()}, []
    for t in sorted(tags, key=lambda t: t.name):
        why = None
        if t.objecttype != "tag":
            why = "lightweight tag"
        else:
            try:
                record = _record(t)
            except UsageError as exc:
                why = str(exc)
            else:
                if (record.get("tag_object") != promotion.oid or record.get("promoted_id") != promoted_id
                        or t.commit != promotion.commit):
                    why = "it approves another promotion tag (re-made or moved since)"
                else:
                    principal, problem = signature(t)
                    if problem or not principal:
                        why = problem or "signature not verified"
                    elif t.name != tag_name(promoted_id, principal):
                        why = f"signed by {principal}, but named for someone else"
                    elif not rule.allows(principal):
                        why = f"{PATH} {rule.describe()} does not count {principal}"
                    else:
                        who.add(principal.lower())
        if why:
            notes.append(f"approval {t.name} not counted: {why}")
    return who, notes


def shortfall(rule: Rule, who: set[str]) -> str | None:
    if len(who) >= rule.approvals:
        return None
    return (f"{PATH} {rule.describe()} needs {rule.approvals} distinct signers, has {len(who)} "
            f"({', '.join(sorted(who))}): another allowed signer runs `ledger approve`")


def check(pol: Policy | None, f: Any, tag: TagInfo, approval_tags: list[TagInfo],
          signature: Callable[[TagInfo], tuple[str | None, str | None]]) -> None:
    """The committed promotion policy on one verify finding `f`: the verified signer may promote this, and as many
    distinct allowed signers as the rule wants signed it (the promoter plus `approval/` tags)."""
    if pol is None or f.record is None:
        return
    refusal = pol.refusal(f.record, f.signer)
    if refusal:
        f.problems.append(refusal)
        return
    rule = pol.rule_for(f.record)
    if rule is not None and rule.approvals > 1 and f.signer:
        who, notes = count(f.promoted_id, tag, f.signer, rule, approval_tags, signature)
        f.notes.extend(notes)
        short = shortfall(rule, who)
        if short:
            f.problems.append("; ".join([short, *notes]))
            f.missing_approvals = rule.approvals - len(who)


def blocking(f: Any) -> list[str]:
    """A verify finding's problems other than its approvals shortfall: what `ledger approve`
    (which is there to end the shortfall) and `ledger adopt` must never pass over."""
    return [p for p in f.problems if not (f.missing_approvals and p.startswith(f"{PATH} ") and " needs " in p)]
