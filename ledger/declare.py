"""What a promotion commit declares to DVC, so that `dvc artifacts get . <id> --stage <stage>`
(and Studio, and GTO's artifact list) find a promotion at its GTO tag:

- root dvc.yaml `artifacts:` holds the promotion's entry (its predictions, type, a description,
  `meta: {ledger: <promotion tag>}`), replacing the previous promotion's entry -- entries with
  `meta.ledger` are ledger's; the user's own artifacts stay as they are;
- root dvc.yaml `metrics:` lists the promotion's metrics.json (replacing the previous
  promotion's), so `dvc metrics show` at any promotion tag (`--all-tags`) shows it;
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
# a promoted dir's metrics.json in dvc.yaml `metrics:` (the newest promotion's, ledger's entry)
_METRIC = re.compile(rf"({re.escape(layout.BASELINES)}|{re.escape(layout.REFERENCES)})/[^\s'\"]+/metrics\.json")
_NEWEST = re.compile(rf"(!/({re.escape(layout.BASELINES)}|{re.escape(layout.REFERENCES)})/.*"
                     rf"|/{re.escape(layout.GOLD)}/[^/]+/\*)")


def entry(target: Target) -> dict[str, Any]:
    kind = "baseline" if target.role == "baseline" else f"{target.quality} reference"
    return {"path": f"{target.path}/predictions.jsonl", "type": "predictions",
            "desc": f"ledger {kind} {target.promoted_id}: `ledger verify` proves it against {target.tag}",
            "meta": {"ledger": target.tag}}


def _ours(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("meta"), dict) and "ledger" in value["meta"]


def metric(target: Target) -> str:
    return f"{target.path}/metrics.json"


def _our_metric(value: Any) -> bool:
    return isinstance(value, str) and bool(_METRIC.fullmatch(value))


def expected_dvc_yaml(before: Any, target: Target) -> Any:
    """The dvc.yaml document a promotion of `target` makes of `before` (parsed)."""
    return _declare_into(copy.deepcopy(before) if isinstance(before, dict) else {}, target, dict, list)


def _declare_into(data: Any, target: Target, new_map: Any, new_list: Any) -> Any:
    """Ledger's entries in a parsed dvc.yaml, in place (plain data, or ruamel's round-trip
    document, whose maps and lists are dicts and lists): ledger's previous artifact and metric go,
    the promotion's are appended."""
    artifacts = data.get("artifacts")
    if not isinstance(artifacts, dict):
        data["artifacts"] = artifacts = new_map()
    for name in [k for k, v in artifacts.items() if _ours(v)]:
        del artifacts[name]
    artifacts[target.promoted_id] = entry(target)
    metrics = data.get("metrics")
    if not isinstance(metrics, list):
        data["metrics"] = metrics = new_list()
    for item in [m for m in metrics if _our_metric(m)]:
        metrics.remove(item)
    metrics.append(metric(target))
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
    """dvc.yaml with the promotion's artifact and metrics declared: a text edit of the two
    sections (every other line, comments and layout kept byte for byte) when re-parsing proves
    it is exactly the expected document; otherwise (flow style, a key spelled otherwise) a ruamel
    round-trip in DVC's own layout."""
    before = _load_plain(text)
    want = expected_dvc_yaml(before, target)
    arts = before.get("artifacts") if isinstance(before, dict) else None
    ours = [k for k, v in arts.items() if _ours(v)] if isinstance(arts, dict) else []
    edited = _section(text, before, "artifacts", lambda body: _artifacts_block(body, target, ours))
    if edited is not None:
        edited = _section(edited, before, "metrics", lambda body: _metrics_block(body, metric(target)))
    try:
        if edited is not None and _load_plain(edited) == want:
            return edited
    except ValueError:
        pass
    return _round_trip(text, target)


def _section(text: str, before: Any, key: str, make: Any) -> str | None:
    """`text` with its top-level `key:` section (the line and those below it up to the next
    top-level line) replaced by make(section lines), or make([]) appended when there is none;
    None when the key is spelled otherwise or appears twice."""
    lines = text.splitlines(keepends=True)
    starts = [i for i, ln in enumerate(lines) if re.match(rf"{key}\s*:", ln)]
    if not starts:
        if isinstance(before, dict) and key in before:  # spelled otherwise ("metrics":)
            return None
        return text + ("\n" if text and not text.endswith("\n") else "") + make([])
    if len(starts) != 1:
        return None
    i = starts[0]
    end = next((k for k in range(i + 1, len(lines)) if lines[k][:1] not in (" ", "\t", "#", "\n", "\r", "")),
               len(lines))
    return "".join(lines[:i]) + make(lines[i:end]) + "".join(lines[end:])


def _artifacts_block(section: list[str], target: Target, ours: list[str]) -> str:
    """The `artifacts:` section without ledger's previous entries (a key line at the entries'
    indent and the deeper lines under it), with the promotion's entry last."""
    import yaml

    body = yaml.safe_dump({target.promoted_id: entry(target)}, sort_keys=False, default_flow_style=False,
                          allow_unicode=True, width=1000)
    if not section:
        return "artifacts:\n" + "".join(f"  {ln}\n" for ln in body.splitlines())
    rest = section[1:]
    firsts = [ln for ln in rest if ln.strip() and not ln.lstrip().startswith("#")]
    indent = firsts[0][:len(firsts[0]) - len(firsts[0].lstrip())] if firsts else "  "
    kept, dropping = [], False
    for ln in rest:
        if ln.startswith(indent) and ln[len(indent):][:1] not in (" ", "\t", "#", "\n", "\r", ""):
            key = ln.strip().split(":", 1)[0].strip().strip("'\"")
            dropping = key in ours
        if not dropping or not ln.strip():  # blank lines stay (before the next section)
            kept.append(ln)
    tail = []
    while kept and not kept[-1].strip():  # blank lines before the next section stay after it
        tail.insert(0, kept.pop())
    head = section[0] if section[0].endswith("\n") else section[0] + "\n"
    if kept and not kept[-1].endswith("\n"):
        kept[-1] += "\n"
    return head + "".join(kept) + "".join(f"{indent}{ln}\n" for ln in body.splitlines()) + "".join(tail)


def _metrics_block(section: list[str], path: str) -> str:
    """The `metrics:` section without ledger's previous entry, with `path` as its last item."""
    if not section:
        return f"metrics:\n  - {path}\n"
    kept = [ln for ln in section[1:] if not _our_metric(ln.strip().lstrip("-").strip().strip("'\""))]
    items = [ln for ln in kept if ln.lstrip().startswith("- ")]
    indent = items[-1][:len(items[-1]) - len(items[-1].lstrip())] if items else "  "
    at = max((k + 1 for k, ln in enumerate(kept) if ln.lstrip().startswith("- ")), default=len(kept))
    kept[at:at] = [f"{indent}- {path}\n"]
    head = section[0] if section[0].endswith("\n") else section[0] + "\n"
    return head + "".join(kept)


def _round_trip(text: str, target: Target) -> str:
    from ruamel.yaml import YAML

    ry = YAML()
    ry.preserve_quotes = True
    ry.indent(mapping=2, sequence=4, offset=2)  # DVC's own layout
    data = ry.load(text) if text.strip() else None
    if data is None:
        data = ry.load("{}\n")
    _declare_into(data, target, lambda: ry.load("{}\n"), lambda: ry.load("[]\n"))
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
    """dvc.yaml as plain data, read as DVC reads it (ruamel, YAML 1.2, duplicate keys refused:
    what review compares must be what `dvc repro` runs); ValueError for a file that is not YAML."""
    from ruamel.yaml import YAML

    try:
        return YAML(typ="safe").load(text)
    except Exception as exc:  # ruamel raises many kinds (duplicate keys, scanner, recursion)
        raise ValueError(f"{DVC_YAML} is not valid YAML ({exc.__class__.__name__})") from None
