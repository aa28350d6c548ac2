"""--range (the pull-request check): which promotions the range leaves settled, which tags
verify must read in full, and the verdict key those decisions share with the full verify."""

from __future__ import annotations

from typing import Callable

from ..gitops import Git, TagInfo
from . import cache as _cache


def key(cache: _cache.Verdicts, tag: TagInfo, gto_tags: list[TagInfo], path: str, tree: str | None) -> str:
    """A promotion's verdict key. It holds every tag GTO reads as its id: a GTO tag added, moved
    or replaced is a different key."""
    return cache.key(tag.name, " ".join([tag.oid] + sorted(f"{t.name}:{t.oid}" for t in gto_tags)), path, tree)


def needs(dirs, by_id, claims, dir_ids, settled, cache, keys: dict[str, str]) -> set[str]:
    """--range: the tags whose bodies verify reads -- all but those of a settled promotion whose
    every check passed before under the same key (the settled checks are a subset of those).
    `keys`: each dir's verdict key (`key`), for the dirs exactly one tag claims."""
    need: set[str] = set()
    for path, pid in dirs:
        mine = by_id.get(pid, [])
        if len(mine) == 1 and not (settled(path, mine[0]) and cache.signer(keys[path])):
            need.update(t.name for t in mine + claims.get(pid, []))
    for pid, mine in by_id.items():
        if pid not in dir_ids:
            need.update(t.name for t in mine + claims.get(pid, []))
    return need


def settled(git: Git, base: str, head: str, at_base: dict[str, str | None],
             at_head: dict[str, str | None]) -> Callable[[str, TagInfo], bool]:
    ours = set(git.run("rev-list", f"{base}..{head}").split())
    return lambda path, tag: at_base.get(path) is not None and at_base[path] == at_head.get(path) \
        and tag.commit not in ours
