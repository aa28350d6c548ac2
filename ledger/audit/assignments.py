"""Deployment decisions: a promoted baseline assigned to an alias (`canary`, `prod`, ...) by a
signed annotated tag `deploy/<alias>/<n>` (n = 1, 2, ... per alias, like GTO's `#stage#N`) on
the promotion commit. Its JSON message records the scorecard the baseline passed at a tier
(inputs digest), the rollback target (another promoted baseline) and a stated limitation. The
current holder of an alias is its highest n."""

from __future__ import annotations

import re

from ..errors import UsageError
from ..gitops import Git, TagInfo

TYPE_CHECKING = False  # annotations only: importing typing costs `ledger list`/`log` ~1.3 ms
if TYPE_CHECKING:
    from typing import Any, Callable

PREFIX = "deploy/"
SCHEMA = "ledger.assignment/1"
ALIAS = re.compile(r"[a-z][a-z0-9-]{0,31}")
_NAME = re.compile(r"deploy/([a-z][a-z0-9-]{0,31})/([1-9][0-9]{0,8})")
_FIELDS = {"schema": str, "alias": str, "n": int, "promoted_id": str, "promotion_tag": str,
           "promotion_tag_object": str, "tier": str, "scorecard": dict, "limitation": str,
           "assigned_by": str, "assigned_at": str}


def tag_name(alias: str, n: int) -> str:
    return f"{PREFIX}{alias}/{n}"


def check_alias(alias: str) -> str:
    if not ALIAS.fullmatch(alias or ""):
        raise UsageError(f"alias {alias!r}: lowercase letters, digits and '-', starting with a letter, at most 32")
    return alias


def parse(tag: TagInfo) -> dict[str, Any]:
    """The record of a deploy/ tag, every field checked; UsageError naming the first problem."""
    m = _NAME.fullmatch(tag.name)
    if not m:
        raise UsageError("not named deploy/<alias>/<n>")
    from ..records import json_message  # only where there are deploy/ tags: list imports less

    record = json_message(tag.message, SCHEMA, "an assignment record")
    for key, kind in _FIELDS.items():
        if not isinstance(record.get(key), kind) or isinstance(record.get(key), bool):
            raise UsageError(f"assignment record field {key!r} is missing or not a {kind.__name__}")
    rollback = record.get("rollback")
    if rollback is not None and not isinstance(rollback, str):
        raise UsageError("assignment record field 'rollback' is not an id")
    if record["alias"] != m.group(1) or record["n"] != int(m.group(2)):
        raise UsageError(f"record names {record['alias']}/{record['n']}, not the tag's")
    return record


def by_alias(git: Git) -> dict[str, list[TagInfo]]:
    """Every deploy/ tag (one for-each-ref), by alias, highest n first; odd names under 'deploy/'
    are kept under their own name so that verify reports them."""
    out: dict[str, list[TagInfo]] = {}
    for t in git.tags(PREFIX):
        m = _NAME.fullmatch(t.name)
        out.setdefault(m.group(1) if m else t.name, []).append(t)
    for tags in out.values():
        tags.sort(key=lambda t: int(_NAME.fullmatch(t.name).group(2)) if _NAME.fullmatch(t.name) else 0, reverse=True)
    return out


def next_n(git: Git, alias: str) -> int:
    tags = by_alias(git).get(alias, [])
    return 1 + max((int(m.group(2)) for t in tags if (m := _NAME.fullmatch(t.name))), default=0)


def table(git: Git) -> list[dict[str, Any]]:
    """The current holder of each alias, as its highest tag says (NOT verified: `ledger verify`)."""
    out = []
    for alias, tags in sorted(by_alias(git).items()):
        if not ALIAS.fullmatch(alias):
            continue
        try:
            record = parse(tags[0])
        except UsageError as exc:
            out.append({"alias": alias, "tag": tags[0].name, "invalid": str(exc)})
            continue
        out.append({"alias": alias, "tag": tags[0].name, "holder": record["promoted_id"],
                    "rollback": record.get("rollback"), "tier": record["tier"],
                    "limitation": record["limitation"], "signed": bool(tags[0].signature.strip())})
    return out


def problems(tag: TagInfo, record: dict[str, Any], promotion: TagInfo | None, verified: Callable[[str], bool],
             signature: tuple[str | None, str | None]) -> list[str]:
    """What is wrong with one parsed assignment: its signature, the promotion it names (that
    exact tag object, verified here, a baseline), its rollback target, its scorecard."""
    out = []
    principal, problem = signature
    if problem:
        out.append(problem)
    pid = record["promoted_id"]
    if promotion is None or promotion.name != record["promotion_tag"] or promotion.name != f"promote/baseline/{pid}":
        out.append(f"names {record['promotion_tag']}, which is not the promotion tag of baseline {pid!r} here")
    elif promotion.oid != record["promotion_tag_object"] or tag.commit != promotion.commit:
        out.append(f"was made for another {promotion.name} (the tag was re-made or moved since)")
    elif not verified(pid):
        out.append(f"assigns {pid!r}, which does not verify")
    rollback = record.get("rollback")
    if rollback is not None and (rollback == pid or not verified(rollback)):
        out.append(f"rollback target {rollback!r} is not another verified promotion")
    card = record["scorecard"]
    if card.get("overall_passed") is not True or not isinstance(card.get("inputs_sha256"), str):
        out.append(f"its scorecard at tier {record['tier']!r} did not pass")
    return out


def check_all(git: Git, verified_ids: set[str], promotion_tags: dict[str, TagInfo],
              signature: Callable[[TagInfo], tuple[str | None, str | None]]) -> list[tuple[str, list[str], str | None]]:
    """(tag name, problems, verified signer) of every deploy/ tag."""
    out = []
    for alias_tags in by_alias(git).values():
        for t in alias_tags:
            if t.objecttype != "tag":
                out.append((t.name, ["lightweight tag: an assignment tag must be annotated and signed"], None))
                continue
            try:
                record = parse(t)
            except UsageError as exc:
                out.append((t.name, [str(exc)], None))
                continue
            signed = signature(t)
            found = problems(t, record, promotion_tags.get(record["promotion_tag"]), verified_ids.__contains__, signed)
            out.append((t.name, found, None if found else signed[0]))
    return out
