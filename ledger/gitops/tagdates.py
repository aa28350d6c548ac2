"""The creation dates of tags, remembered by object id, so that `ledger log --limit N` names the N
newest tags without git reading every tag object to sort them (0.085 s at 10,000 tags; listing
names and object ids is 0.012 s with packed refs).

A tag object id (or, for a lightweight tag, a commit id) names immutable bytes, so its creator
date never changes: what is remembered is what git said, `%(creatordate:unix)`. The dates only
pick candidates: every tag dated at or after the N-th newest date goes back to git, which sorts
and counts them itself, so ties are broken exactly as before. Best effort, like the verify
cache: a file per clone in the user's cache directory (ledger/usercache.py); a wrong date can
only change which N entries a display command shows."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from .. import usercache

_VERSION = "ledger-tag-dates/1"
_BATCH = 200  # more unknown tags than this: one listing of them all instead of naming each


def newest(run: Callable[..., str], cache_file: Path | None, pattern: str, count: int, order: list[str]) -> list[str]:
    """The refnames of the `count` newest tags matching `pattern`, newest first, in git's order
    (`order`: the --sort options)."""
    known = _load(cache_file)  # nothing remembered: list the dates with the names, in one pass
    out = run("for-each-ref", "--format=%(refname)%00%(objectname)" + ("" if known else "%00%(creatordate:unix)"),
              pattern, strip=False)
    refs = [line.split("\0") for line in out.split("\n") if line]
    if not known:
        known = {oid: _stamp(date) for _, oid, date in refs}
        refs = [(name, oid) for name, oid, _ in refs]
        if len(refs) > count:
            _save(cache_file, known)
    if len(refs) <= count:
        chosen = [name for name, _ in refs]
    else:
        unknown = [name for name, oid in refs if oid not in known]
        if unknown:
            wanted = [pattern] if len(unknown) > _BATCH else unknown
            for line in run("for-each-ref", "--format=%(objectname) %(creatordate:unix)", *wanted).split("\n"):
                oid, _, stamp = line.partition(" ")
                if oid:
                    known[oid] = _stamp(stamp)
            _save(cache_file, {oid: known[oid] for _, oid in refs if oid in known})
        dates = sorted((known.get(oid, 0) for _, oid in refs), reverse=True)
        cut = dates[count - 1]
        chosen = [name for name, oid in refs if known.get(oid, 0) >= cut]
    if not chosen:
        return []
    patterns = chosen if len(chosen) <= _BATCH else [pattern]  # many tied at the cut: git sorts them all
    return run("for-each-ref", *order, f"--count={count}", "--format=%(refname)", *patterns).split()


def _stamp(text: str) -> int:
    """git's %(creatordate:unix); empty (a tag object without a tagger) sorts as 0, as in git."""
    return int(text) if text.strip().lstrip("-").isdigit() else 0


def _load(path: Path | None) -> dict[str, int]:
    data = usercache.load(path)
    if not isinstance(data, dict) or data.get("version") != _VERSION or not isinstance(data.get("dates"), dict):
        return {}
    return {k: v for k, v in data["dates"].items() if isinstance(k, str) and type(v) is int}


def _save(path: Path | None, dates: dict[str, int]) -> None:
    usercache.save(path, {"version": _VERSION, "dates": dates})
