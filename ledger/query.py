"""`ledger list --where ...`: runs and promotions by their provenance.

    code=<rev>  or  code=<A>..<B>     the commit the run executed at is that commit / in that range
    data=<md5>  or  data=<path>       a dataset the run read has that DVC md5 / is that path
    env=<package>==<version>          the run's environment had that package version
    metric:<name> <op> <value>        op: < <= > >= == != on a number in metrics.json

Several --where are ANDed. A run's facts come from its fingerprint.json in the workspace, a
promotion's from its signed tag record (and, for env, the fingerprint.json committed in its
dir); `list` never claims to have verified them."""

from __future__ import annotations

import json
import operator
import re
from dataclasses import dataclass
from typing import Any, Callable

from . import layout
from .compare import is_number
from .errors import NotFound, UsageError
from .gitops import Git

_METRIC = re.compile(r"metric:([A-Za-z0-9_.\-/]+)\s*(<=|>=|==|!=|<|>)\s*(\S+)")
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq, "!=": operator.ne}
_MD5 = re.compile(r"[0-9a-f]{32}")
_PKG = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


@dataclass(frozen=True)
class Where:
    text: str
    test: Callable[[dict[str, Any]], bool]  # over an item's facts: code, data, packages, metrics


def parse(git: Git, text: str) -> Where:
    expr = text.strip()
    if m := _METRIC.fullmatch(expr):
        name, op, raw = m.groups()
        try:
            value = float(raw)
        except ValueError:
            raise UsageError(f"--where {layout.brief(text)}: {raw!r} is not a number") from None
        return Where(text, lambda f: _number(f["metrics"].get(name)) is not None
                     and _OPS[op](_number(f["metrics"].get(name)), value))  # type: ignore[arg-type]
    key, sep, value = expr.partition("=")
    if not sep or not value or key not in ("code", "data", "env"):
        raise UsageError(f"--where {layout.brief(text)}: expected code=REV|A..B, data=MD5|PATH, "
                         "env=PACKAGE==VERSION or 'metric:NAME OP NUMBER'")
    if key == "code":
        commits = _commits(git, value)
        return Where(text, lambda f: f["code"] in commits)
    if key == "data":
        if _MD5.fullmatch(value):
            return Where(text, lambda f: value in f["data"].values())
        path = value.removeprefix("./").rstrip("/")
        return Where(text, lambda f: path in f["data"])
    m = _PKG.fullmatch(value)
    if not m:
        raise UsageError(f"--where {layout.brief(text)}: env wants PACKAGE==VERSION")
    pkg, version = _norm(m.group(1)), m.group(2)
    return Where(text, lambda f: f["packages"]().get(pkg) == version)


def _number(v: Any) -> float | None:
    return float(v) if is_number(v) else None


def _norm(pkg: str) -> str:
    return re.sub(r"[-_.]+", "-", pkg).lower()


def _commits(git: Git, value: str) -> set[str]:
    if ".." in value:
        a, _, b = value.partition("..")
        for rev in (a, b or "HEAD"):
            if not git.rev_parse(f"{rev}^{{commit}}"):
                raise NotFound(f"--where code={layout.brief(value)}: unknown revision {layout.brief(rev)}")
        return set(git.run("rev-list", f"{a}..{b or 'HEAD'}").split())
    sha = git.rev_parse(f"{value}^{{commit}}")
    if not sha:
        raise NotFound(f"--where code={layout.brief(value)}: unknown revision")
    return {sha}


def _facts(code: Any, data: Any, metrics: Any, packages: Callable[[], dict[str, str]]) -> dict[str, Any]:
    return {"code": code if isinstance(code, str) else None,
            "data": {str(k): v for k, v in data.items()} if isinstance(data, dict) else {},
            "metrics": metrics if isinstance(metrics, dict) else {}, "packages": packages}


def _packages(raw: bytes | None) -> dict[str, str]:
    try:
        fp = json.loads(raw or b"")
        pkgs = fp["env"]["packages"]
        return {_norm(str(k)): str(v) for k, v in pkgs.items()}
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return {}


def run_facts(root, item: dict[str, Any]) -> dict[str, Any]:
    """A workspace run's facts, from its fingerprint.json (a broken or missing one matches nothing)."""
    try:
        raw = (root / item["path"] / "fingerprint.json").read_bytes()
        fp = json.loads(raw)
        if not isinstance(fp, dict):
            raise ValueError
    except (OSError, ValueError, RecursionError):
        return _facts(None, {}, {}, dict)
    code = fp.get("code", {}).get("commit") if isinstance(fp.get("code"), dict) else None
    return _facts(code, fp.get("data"), item.get("metrics"), lambda: _packages(raw))


def promotion_facts(git: Git, head: str | None, item: dict[str, Any]) -> dict[str, Any]:
    path = item.get("path")
    loader = (lambda: _packages(git.show_file(head, f"{path}/fingerprint.json"))) if head and isinstance(path, str) else dict
    return _facts(item.get("code_commit"), item.get("data"), item.get("metrics"), loader)


def select(root, items: list[dict[str, Any]], wheres: list[str]) -> list[dict[str, Any]]:
    git = Git(root)
    tests = [parse(git, w) for w in wheres]
    head = git.head()
    out = []
    for item in items:
        facts = run_facts(root, item) if item.get("role") == "run" else promotion_facts(git, head, item)
        if all(t.test(facts) for t in tests):
            out.append(item)
    return out
