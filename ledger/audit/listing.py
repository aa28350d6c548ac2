"""The rows `ledger list` and `ledger log` print for promotion tags, remembered by tag object id.

With packed refs git lists the names and object ids of 10,000 tags in ~0.015 s; handing over
every tag body takes it ~0.13 s and parsing them in Python ~0.25 s more. A row is a function of
the tag object's bytes alone (the record it carries, whether it carries a signature block, the
commit it names, its creator date) and an object id names immutable bytes, so rows are
remembered by object id and only the tags not seen before are read (for-each-ref of their
names, or of the whole prefix when there are many). The tag's name is never part of what is
remembered: it is joined to the row when listed.

What is remembered is derived by this module, records.parse_tag and the gitops seam that reads
tags and splits off their signature, so their source is part of the cache's version: a ledger
that reads or parses tags differently starts afresh. Best effort, like
the verify cache (usercache.py): unreadable means empty, unwritable means not saved, a row of
the wrong shape is read again. These rows are displays, NOT verification: list and log say
"signed (unverified)"; verify, show, gates and every other reader of a promotion read tags
themselves, never this file."""

from __future__ import annotations

from pathlib import Path

from .. import usercache
from ..errors import UsageError
from ..gitops import Git, TagInfo
from ..hashing import light_sha256

TYPE_CHECKING = False  # annotations only: importing typing costs `ledger list`/`log` ~1.3 ms
if TYPE_CHECKING:
    from typing import Any

_BATCH = 200  # more unknown tags than this: one listing of the prefix instead of naming each
# A remembered row: what list's and log's text and log's JSON show of a record (list --json prints
# whole records) -- strings, or None where the record has none -- then these three.
_SHOWN = ("promoted_id", "role", "quality", "path", "run_id", "promoted_at", "promoted_by", "reason")
_KEYS = (*_SHOWN, "commit", "signed", "created")
_TYPES = [{str, type(None)}] * len(_SHOWN) + [{str}, {bool}, {int}]  # per _KEYS entry
# None only in a row without a record (role None); a record has all of these (records.FIELDS)
_NEEDED = tuple(i for i, k in enumerate(_SHOWN) if k != "quality")


def _version() -> str | None:
    """A digest of the code that makes rows; None (nothing remembered) when that code cannot be
    read as source (ledger installed from bytecode only, or zipped)."""
    here = Path(__file__)
    h = light_sha256(b"ledger-tag-rows/1\0")
    try:  # this module, the record parser, and the seam that reads and splits tags (gitops)
        for p in (here.with_name("listing.py"), here.parents[1] / "records.py",
                  here.parents[1] / "gitops" / "__init__.py", here.parents[1] / "gitops" / "_proc.py",
                  here.parents[1] / "gitops" / "tagformat.py"):
            h.update(p.read_bytes() + b"\0")
    except OSError:
        return None
    return h.hexdigest()


def entry(tag: TagInfo) -> dict[str, Any]:
    """The whole record of a promotion tag as list/log show it: parsed (a record that does not
    parse is a row marked invalid), with its tag, commit and whether it carries a signature
    block (NOT verified here)."""
    from ..records import parse_tag  # only for tags not remembered: list and log import less

    try:
        record = parse_tag(tag)
    except UsageError:
        record = {"promoted_id": _last(tag.name), "role": "?", "invalid": True}
    record["tag"] = tag.name
    record["commit"] = tag.commit
    record["signed"] = bool(tag.signature.strip())
    record["verified"] = False
    return record


def rows(git: Git, prefix: str) -> list[dict[str, Any]]:
    """A row for every tag under refs/tags/`prefix`: the `_SHOWN` fields of its record (or
    `invalid` when it carries none that parses), and tag, commit, signed, verified (always
    False) and created (git's creator date). In git's listing order (by refname)."""
    return [_as_row(name, row) for name, row in _listed(git, prefix)]


def newest_first(git: Git, prefix: str, limit: int | None = None) -> list[dict[str, Any]]:
    """`ledger log`'s entries, the `limit` newest (all without one), in git's
    `--sort=-refname:lstrip=-1 --sort=-creatordate` order: newest creator date first, ties by
    last name component descending, then by refname (byte order). Only the entries kept are
    made dicts."""
    found = _listed(git, prefix)
    text = all(name.isascii() for name, _ in found)  # then str order is git's byte order
    found.sort(key=(lambda r: r[0]) if text else (lambda r: _bytes(r[0])))
    # reverse keeps the refname order of full ties (Python's sort is stable, also reversed)
    found.sort(key=(lambda r: (r[1][-1], _last(r[0]))) if text else (lambda r: (r[1][-1], _bytes(_last(r[0])))),
               reverse=True)
    return [_log_entry(name, row) for name, row in found[:limit]]


def _listed(git: Git, prefix: str) -> list[tuple[str, tuple[Any, ...]]]:
    """(tag name, remembered row) of every tag under refs/tags/`prefix`, reading only the tags
    whose object id has no row yet."""
    listed = git.started("for-each-ref", "--format=%(objectname) %(refname:strip=2)", f"refs/tags/{prefix}")
    version = _version()  # while git lists the tags
    path = git.user_cache("tag-rows") if version else None
    known = _load(path, version)
    # no whitespace in either (git check-ref-format refuses it in names): pairs by splitting
    words = listed().split()
    refs = list(zip(words[1::2], words[0::2]))
    unknown = [name for name, oid in refs if oid not in known]
    if unknown:
        patterns = [f"refs/tags/{prefix}"] if len(unknown) > _BATCH else [f"refs/tags/{n}" for n in unknown]
        for tag in git.iter_tags(patterns):  # rows made while git reads the next tags
            known[tag.oid] = _row(tag)
    if unknown or len(known) != len({oid for _, oid in refs}):
        _save(path, version, {oid: known[oid] for _, oid in refs if oid in known})
    return [(name, known[oid]) for name, oid in refs if oid in known]  # one deleted meanwhile: not listed


def _as_row(name: str, r: tuple[Any, ...]) -> dict[str, Any]:
    if r[1] is None:  # no record: an invalid row, named by its tag as `entry` names it
        return {"promoted_id": _last(name), "role": "?", "invalid": True, "commit": r[8], "signed": r[9],
                "created": r[10], "tag": name, "verified": False}
    return {"promoted_id": r[0], "role": r[1], "quality": r[2], "path": r[3], "run_id": r[4], "promoted_at": r[5],
            "promoted_by": r[6], "reason": r[7], "commit": r[8], "signed": r[9], "created": r[10], "tag": name,
            "verified": False}


def _log_entry(name: str, r: tuple[Any, ...]) -> dict[str, Any]:
    """What `ledger log` prints of a row: its fields, with promoted_id as id and run_id as run."""
    entry = {"id": r[0], "role": r[1], "quality": r[2], "run": r[4], "promoted_at": r[5], "promoted_by": r[6],
             "reason": r[7], "tag": name, "commit": r[8], "signed": r[9], "verified": False}
    if r[1] is None:
        entry.update(id=_last(name), role="?", invalid=True)
    return entry


def _row(tag: TagInfo) -> tuple[Any, ...]:
    record = entry(tag)
    shown = [None if record.get("invalid") else record.get(k) for k in _SHOWN]
    return (*shown, tag.commit, record["signed"], tag.created)


def _last(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def _bytes(name: str) -> bytes:
    return name.encode("utf-8", "surrogateescape")


# The file: {"version", "oids": [...], "columns": [one list per _KEYS entry, a value per oid]}:
# columns parse faster than a list per row (~5 ms instead of ~8 ms at 10,000) and are checked a
# column at a time. A cache file is anyone's to garble: what is printed must never crash, so a
# value of the wrong type (or None where a record has a value) drops its row (read again), a
# file of the wrong shape every row.
def _load(path: Path | None, version: str | None) -> dict[str, tuple[Any, ...]]:
    data = usercache.load(path)
    if not isinstance(data, dict) or data.get("version") != version:
        return {}
    oids, columns = data.get("oids"), data.get("columns")
    if not (type(oids) is list and type(columns) is list and len(columns) == len(_KEYS)
            and all(type(c) is list and len(c) == len(oids) for c in columns)):
        return {}
    needed = [columns[k] for k in _NEEDED]
    if (set(map(type, oids)) <= {str} and all(set(map(type, c)) <= t for c, t in zip(columns, _TYPES))
            and (all(None not in c for c in needed)
                 or not any(role is not None and None in rest for role, *rest in zip(columns[1], *needed)))):
        return dict(zip(oids, zip(*columns)))
    return {oid: row for oid, row in zip(oids, zip(*columns)) if type(oid) is str and _fits(row)}


def _fits(row: tuple[Any, ...]) -> bool:
    return (all(type(v) in t for v, t in zip(row, _TYPES))
            and (row[1] is None or all(row[k] is not None for k in _NEEDED)))


def _save(path: Path | None, version: str | None, known: dict[str, tuple[Any, ...]]) -> None:
    columns = [list(c) for c in zip(*known.values())] or [[] for _ in _KEYS]
    usercache.save(path, {"version": version, "oids": list(known), "columns": columns})
