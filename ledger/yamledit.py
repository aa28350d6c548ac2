"""Dropping one entry from a YAML block mapping as a text edit, proven by re-parsing.

params.yaml and dvc.lock grow with every declared run; a ruamel round-trip of them costs
~1.5 ms per run on every promotion. `drop_entry` removes the lines of `top: {key: ...}` from
the text instead (comments and layout elsewhere untouched), and returns the new text only when
libyaml reads it as exactly the old document minus that entry; otherwise None, and the caller
does the round-trip."""

from __future__ import annotations

import re
from typing import Any

import yaml

_C_LOADER = getattr(yaml, "CSafeLoader", None)
_MAX_BRACKETS, _MAX_INDENT = 1000, 2000  # libyaml crashes (SIGSEGV) on ~30,000 nested brackets


def _shallow(text: str) -> bool:
    """Whether libyaml may read `text`: its nesting is bounded by the bracket depth (counted
    naively, quotes included: an overestimate) and the indentation."""
    if text.count("[") + text.count("{") > _MAX_BRACKETS:  # else no deeper than that: no scan
        depth = deepest = 0
        for ch in text:
            if ch in "[{":
                depth += 1
                deepest = max(deepest, depth)
            elif ch in "]}":
                depth = max(depth - 1, 0)
        if deepest > _MAX_BRACKETS:
            return False
    return all(_indent(ln) <= _MAX_INDENT for ln in text.splitlines())


def load(text: str) -> Any:
    """yaml.safe_load, through libyaml (several times faster) when the text cannot crash it; the pure
    Python loader otherwise (which raises RecursionError on deep nesting: callers catch it)."""
    if _C_LOADER is not None and _shallow(text):
        return yaml.load(text, Loader=_C_LOADER)  # noqa: S506 - a safe loader
    return yaml.safe_load(text)



def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_key(line: str, key: str) -> bool:
    body = line.strip()
    return any(re.fullmatch(re.escape(form) + r":(\s.*)?", body) for form in (key, f"'{key}'", f'"{key}"'))


def drop_entry(text: str, top: str, key: str) -> str | None:
    """`text` without `top.key` (a block-mapping entry of a top-level block mapping), or None
    when the text does not have that simple shape or the edit would change anything else."""
    try:
        before = load(text)
    except (yaml.YAMLError, RecursionError):
        return None
    if not isinstance(before, dict) or not isinstance(before.get(top), dict) or key not in before[top]:
        return None
    lines = text.splitlines(keepends=True)
    try:
        start_top = next(i for i, ln in enumerate(lines) if _indent(ln) == 0 and _is_key(ln, top))
    except StopIteration:
        return None
    child = None
    start = end = None
    for i in range(start_top + 1, len(lines)):
        ln = lines[i]
        if not ln.strip() or ln.lstrip().startswith("#"):
            continue
        ind = _indent(ln)
        if ind == 0:  # the next top-level key: the mapping ended
            if start is not None and end is None:
                end = i
            break
        if child is None:
            child = ind
        if ind == child and re.match(r"-(\s|$)", ln.lstrip(" ")):
            continue  # a sequence item may sit at its key's indent: it belongs to that key
        if ind == child and start is not None and end is None:
            end = i
        if ind == child and start is None and _is_key(ln, key):
            start = i
    if start is None:
        return None
    if end is None:
        end = len(lines)
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")) \
            and _indent(lines[end - 1]) <= (child or 0):
        end -= 1  # comments and blank lines before the next entry belong to it
    out = "".join(lines[:start] + lines[end:])
    expected = dict(before)
    expected[top] = {k: v for k, v in before[top].items() if k != key}
    try:
        after = load(out)
    except (yaml.YAMLError, RecursionError):
        return None
    if not isinstance(after, dict):
        return None
    if not expected[top] and after.get(top) is None:  # the mapping is now empty: `top:` alone is null
        return None
    return out if after == expected else None
