"""Promotions as GTO sees them. Each promotion also carries a SIGNED annotated tag in GTO's
grammar, `<id>#<stage>#1` (stage: `baseline`, `silver` or `gold`), on the promotion commit and
made in the same transaction, so that `gto show`, `gto history` and `dvc artifacts get` name it.

GTO and DVC trust any tag of that shape, so verify holds them to the promotion they belong to:
- the promotion record names its GTO tag (`gto_tag`): missing, lightweight, unsigned or signed
  by a key the allowed signers do not grant, re-pointed to another commit, or bound (by its
  JSON record) to another promotion tag object, it fails that promotion;
- any other tag GTO would read as the same artifact (another stage or counter, a version, a
  deprecation, an un-assignment: everything `<id>#...` or `<id>@...`) fails it too;
- a tag in GTO's grammar giving one of ledger's stages to a name that is not a promotion fails
  on its own: `gto show` would present it as one.

An id GTO cannot name (a '.', or not ending in a letter or digit) is promoted without a GTO tag,
and promote says so: use '-' (`v1-2`) to make it visible to GTO and `dvc artifacts`."""

from __future__ import annotations

import json
import re
from typing import Any, Callable

from ..errors import UsageError
from ..gitops import Git, TagInfo
from ..records import json_message, shown

SCHEMA = "ledger.gto/1"
# GTO's artifact-name grammar, over the characters a ledger id may hold (lowercase, no '/')
_NAME = re.compile(r"[a-z0-9]([a-z0-9_-]*[a-z0-9])?")
# A tag GTO reads as giving one of ledger's stages: <artifact>#<stage>[!][#<n>] (the artifact
# may carry a directory part, `dir=name`)
_STAGE_TAG = re.compile(r"(?P<artifact>[^#@]+)#(?P<stage>baseline|silver|gold)!?(#[0-9]+)?")
_FIELDS = ("schema", "promoted_id", "stage", "promotion_tag", "promotion_tag_object")
Signature = Callable[[TagInfo], "tuple[str | None, str | None]"]


def nameable(promoted_id: str) -> bool:
    return bool(_NAME.fullmatch(promoted_id))


def stage(role: str, quality: str | None) -> str:
    return "baseline" if role == "baseline" else quality or "silver"


def tag_name(promoted_id: str, role: str, quality: str | None) -> str | None:
    """The GTO tag of a promotion, or None for an id GTO cannot name."""
    return f"{promoted_id}#{stage(role, quality)}#1" if nameable(promoted_id) else None


def unnamed_note(promoted_id: str) -> str:
    return (f"no GTO tag: GTO cannot name {promoted_id!r} (letters, digits, '-' and '_' only, ending in a letter or "
            "digit), so `gto show` and `dvc artifacts get` do not see it; use '-' instead of '.' in ids")


def message(record: dict[str, Any], promotion_tag: str, promotion_tag_object: str) -> str:
    body = {"schema": SCHEMA, "promoted_id": record["promoted_id"],
            "stage": stage(record["role"], record.get("quality")),
            "promotion_tag": promotion_tag, "promotion_tag_object": promotion_tag_object}
    return json.dumps(body, indent=2, sort_keys=True) + "\n"


def claiming(git: Git, promoted_id: str) -> list[TagInfo]:
    """Every tag GTO could read as artifact `promoted_id`: `<id>#...` and `<id>@...`, any depth."""
    return git.tags_matching([f"refs/tags/{promoted_id}{sep}{rest}" for sep in "#@" for rest in ("*", "*/**")])


def by_artifact(tags: list[TagInfo]) -> dict[str, list[TagInfo]]:
    """The tags whose name holds '#' or '@' (GTO's grammar needs one), by the name before the
    first of them (what GTO would read as the artifact)."""
    out: dict[str, list[TagInfo]] = {}
    for t in tags:
        head = re.split("[#@]", t.name, maxsplit=1)
        if len(head) == 2 and head[0]:
            out.setdefault(head[0], []).append(t)
    return out


def check(f: Any, promotion_tag: TagInfo, claims: list[TagInfo], signature: Signature,
          allow_unsigned: bool, settled: bool = False) -> None:
    """The GTO side of one promotion finding `f` (its record parsed): problems go on `f`.
    `settled` (--range, a promotion the range does not touch): no signature is checked."""
    record = f.record or {}
    want = record.get("gto_tag")
    for t in claims:
        if t.name != want:
            f.problems.append(f"tag {shown(t.name)} claims {f.promoted_id!r} in GTO's grammar but is not its "
                              f"promotion's GTO tag ({want or 'it has none'}): gto and dvc artifacts would trust it")
    if want is None:
        return
    expected = tag_name(f.promoted_id, record.get("role", ""), record.get("quality"))
    if want != expected:
        f.problems.append(f"the signed record names GTO tag {shown(want)}, not {expected}")
        return
    mine = next((t for t in claims if t.name == want), None)
    if mine is None:
        f.problems.append(f"its GTO tag {want} is missing (`git fetch --tags`)")
        return
    if mine.objecttype != "tag":
        f.problems.append(f"GTO tag {want} is lightweight: it must be annotated and signed")
        return
    if mine.commit != promotion_tag.commit:
        f.problems.append(f"GTO tag {want} points at {mine.commit[:12]}, not at the promotion commit "
                          f"{promotion_tag.commit[:12]} (re-pointed?)")
    try:
        body = parse(mine)
    except UsageError as exc:
        f.problems.append(f"GTO tag {want}: {exc}")
        return
    bound = {"promoted_id": f.promoted_id, "stage": stage(record.get("role", ""), record.get("quality")),
             "promotion_tag": promotion_tag.name, "promotion_tag_object": promotion_tag.oid}
    wrong = [k for k, v in bound.items() if body[k] != v]
    if wrong:
        f.problems.append(f"GTO tag {want} is bound to another promotion ({wrong[0]} differs)")
    if settled:
        return
    _, problem = signature(mine)
    if problem == "tag is not signed" and allow_unsigned:
        f.notes.append(f"UNSIGNED GTO tag {want} (allowed by --allow-unsigned)")
    elif problem:
        f.problems.append(f"GTO tag {want}: {problem}")


def parse(tag: TagInfo) -> dict[str, Any]:
    record = json_message(tag.message, SCHEMA, "a ledger GTO record")
    for key in _FIELDS:
        if not isinstance(record.get(key), str):
            raise UsageError(f"GTO record field {key!r} is missing or not a string")
    return record


def orphans(by_name: dict[str, list[TagInfo]], promoted: set[str]) -> list[tuple[str, str]]:
    """(tag, problem) for each tag giving one of ledger's stages to a name that is no promotion."""
    out = []
    for name, tags in sorted(by_name.items()):
        if name in promoted:
            continue
        for t in tags:
            m = _STAGE_TAG.fullmatch(t.name)
            if m:
                out.append((t.name, f"tag {shown(t.name)} gives GTO stage {m['stage']!r} to "
                                    f"{shown(m['artifact'])}, which is not a promotion here: gto show and "
                                    "dvc artifacts get would present it as one"))
    return out
