"""What a promotion commit declares to DVC, so that `dvc artifacts get . <id> --stage <stage>`
(and Studio, and GTO's artifact list) find a promotion at its GTO tag:

- root dvc.yaml `artifacts:` holds the promotion's entry (its predictions, type, a description,
  `meta: {ledger: <promotion tag>}`), replacing the previous promotion's entry -- entries with
  `meta.ledger` are ledger's; the user's own artifacts stay as they are;
- .dvcignore keeps every promoted dir out of DVC's walk (10,000 promotions cost `dvc status`
  nothing) except the newest: a few `!` lines make its dir visible, so that DVC, reading the
  tree at the tag's commit, finds its predictions pointer.

Both are a function of the parent commit's file and the promotion alone, so `ledger review`
can prove a promotion commit changed them in exactly this way and nothing else (dvc.yaml holds
stages: commands that `dvc repro` runs). Only ids GTO can name get declarations."""

from __future__ import annotations

import copy
import io
import re
from pathlib import Path
from typing import Any

from . import layout
from .errors import Refused
from .layout import Target

DVC_YAML = "dvc.yaml"
DVCIGNORE = ".dvcignore"
FILES = (DVC_YAML, DVCIGNORE)
# The lines that keep promoted dirs out of DVC's walk (`ledger init`); the older spelling, whole
# roots, could not let the newest promotion through, and is rewritten by the next promotion.
IGNORED = (f"/{layout.BASELINES}/*", f"/{layout.REFERENCES}/*/*")
_OLD = {f"/{layout.BASELINES}/": IGNORED[0], f"/{layout.REFERENCES}/": IGNORED[1]}
_NEWEST = re.compile(rf"(!/({re.escape(layout.BASELINES)}|{re.escape(layout.REFERENCES)})/.*"
                     rf"|/{re.escape(layout.GOLD)}/[^/]+/\*)")


def entry(target: Target) -> dict[str, Any]:
    kind = "baseline" if target.role == "baseline" else f"{target.quality} reference"
    return {"path": f"{target.path}/predictions.jsonl", "type": "predictions",
            "desc": f"ledger {kind} {target.promoted_id}: `ledger verify` proves it against {target.tag}",
            "meta": {"ledger": target.tag}}


def _ours(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("meta"), dict) and "ledger" in value["meta"]


def expected_dvc_yaml(before: Any, target: Target) -> Any:
    """The dvc.yaml document a promotion of `target` makes of `before` (parsed)."""
    data = copy.deepcopy(before) if isinstance(before, dict) else {}
    artifacts = data.get("artifacts") if isinstance(data.get("artifacts"), dict) else {}
    artifacts = {k: v for k, v in artifacts.items() if not _ours(v)}
    artifacts[target.promoted_id] = entry(target)
    data["artifacts"] = artifacts
    return data


def dvcignore(before: str, target: Target) -> str:
    """The .dvcignore text a promotion of `target` makes of `before`: the previous newest
    promotion's lines go, the older whole-root lines become IGNORED, and this promotion's
    lines follow the last of them (or end the file)."""
    lines = [_OLD.get(ln, ln) for ln in before.splitlines() if not _NEWEST.fullmatch(ln)]
    newest = []
    if target.quality == "gold":  # its task dir is ignored by IGNORED[1]: let it in, keep the rest out
        task_dir = target.path.rsplit("/", 1)[0]
        newest += [f"!/{task_dir}/", f"/{task_dir}/*"]
    newest += [f"!/{target.path}/", f"!/{target.path}/**"]
    at = max((i + 1 for i, ln in enumerate(lines) if ln in IGNORED), default=len(lines))
    lines[at:at] = newest
    return "\n".join(lines) + "\n"


def check_free(root: Path, target: Target) -> None:
    """Before anything is written: dvc.yaml parses, and the id is not an artifact of the user's."""
    try:
        data = _load_plain((root / DVC_YAML).read_text(encoding="utf-8")) if (root / DVC_YAML).is_file() else None
    except (ValueError, UnicodeDecodeError) as exc:
        raise Refused(f"{exc}: fix it first (a promotion declares its artifact there)") from None
    artifacts = data.get("artifacts") if isinstance(data, dict) else None
    if isinstance(artifacts, dict) and target.promoted_id in artifacts and not _ours(artifacts[target.promoted_id]):
        raise Refused(f"id {target.promoted_id!r} is already an artifact in dvc.yaml: choose another id")


def write(root: Path, target: Target) -> None:
    """Both declarations, in the working tree (the promotion commit stages them)."""
    path = root / DVC_YAML
    path.write_text(dvc_yaml_text(path.read_text(encoding="utf-8") if path.is_file() else "", target),
                    encoding="utf-8")
    ignore = root / DVCIGNORE
    ignore.write_text(dvcignore(ignore.read_text(encoding="utf-8") if ignore.is_file() else "", target),
                      encoding="utf-8")


def dvc_yaml_text(text: str, target: Target) -> str:
    """dvc.yaml with the promotion's artifact declared. A text edit when `artifacts:` is absent
    or holds only ledger's entries (the rest of the file, comments and layout, byte for byte),
    proven by re-parsing; otherwise (the user's own artifacts beside ours) a ruamel round-trip
    in DVC's own layout."""
    import yaml

    before = _load_plain(text)
    want = expected_dvc_yaml(before, target)
    block = yaml.safe_dump({"artifacts": {target.promoted_id: entry(target)}}, sort_keys=False,
                           default_flow_style=False, allow_unicode=True, width=1000)
    lines = text.splitlines(keepends=True)
    starts = [i for i, ln in enumerate(lines) if re.match(r"artifacts\s*:", ln)]
    if not starts and isinstance(before, dict) and "artifacts" in before:  # spelled otherwise ("artifacts":)
        edited = None
    elif not starts:
        edited = text + ("\n" if text and not text.endswith("\n") else "") + block
    elif len(starts) == 1:  # the section runs to the next top-level line
        i = starts[0]
        end = next((k for k in range(i + 1, len(lines)) if lines[k][:1] not in (" ", "\t", "#", "\n", "\r", "")),
                   len(lines))
        edited = "".join(lines[:i]) + block + "".join(lines[end:])
    else:
        edited = None
    try:
        if edited is not None and _load_plain(edited) == want:
            return edited
    except ValueError:
        pass
    return _round_trip(text, target)


def _round_trip(text: str, target: Target) -> str:
    from ruamel.yaml import YAML

    ry = YAML()
    ry.preserve_quotes = True
    ry.indent(mapping=2, sequence=4, offset=2)  # DVC's own layout
    data = ry.load(text) if text.strip() else None
    if data is None:
        data = ry.load("{}\n")
    artifacts = data.get("artifacts")
    if not isinstance(artifacts, dict):
        data["artifacts"] = artifacts = ry.load("{}\n")
    for name in [k for k, v in artifacts.items() if _ours(v)]:
        del artifacts[name]
    artifacts[target.promoted_id] = entry(target)
    out = io.StringIO()
    ry.dump(data, out)
    return out.getvalue()


def changed_as_promoted(before: bytes | None, after: bytes | None, name: str, target: Target) -> bool:
    """Whether a promotion commit of `target` changed file `name` (dvc.yaml or .dvcignore) from
    `before` to `after` exactly as write() does: the same document for dvc.yaml, the same
    bytes for .dvcignore."""
    if after is None:
        return False
    try:
        old, new = (before or b"").decode("utf-8"), after.decode("utf-8")
    except UnicodeDecodeError:
        return False
    if name == DVCIGNORE:
        return new == dvcignore(old, target)
    try:
        return _load_plain(new) == expected_dvc_yaml(_load_plain(old), target)
    except ValueError:
        return False


def _load_plain(text: str) -> Any:
    """dvc.yaml as plain data; ValueError for a file that is not YAML."""
    import yaml

    from .yamledit import load

    try:
        return load(text)
    except (yaml.YAMLError, RecursionError) as exc:
        raise ValueError(f"{DVC_YAML} is not valid YAML ({exc.__class__.__name__})") from None
