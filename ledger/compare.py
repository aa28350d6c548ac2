"""`ledger compare A B`: may two runs be ranked, and if so what differs between them.

Comparability (DESIGN.md): same suite_fingerprint (the cases), same dataset md5s, same
evaluator_version, and the same values of the comparability keys a config declares
(`comparability: {policy_id: ...}`). Anything else (params, environment, code) is reported, not refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import artifacts
from .run import fingerprint as _fingerprint
from .artifacts import Artifact
from .errors import LedgerError, NotComparable, UsageError
from .gitops import Git
from .hashing import file_digest

COMMIT_LIST_LIMIT = 20


def _short(value: Any) -> str:
    return str(value)[:12] if value else "(none)"


def comparability(fp_a: dict[str, Any], fp_b: dict[str, Any]) -> list[str]:
    """Why two fingerprints must not be ranked: one line per differing field, each starting
    with the field name (suite_fingerprint, data, evaluator_version); [] when comparable.
    A field missing on either side counts as a difference: it cannot be shown equal."""
    out: list[str] = []
    sa, sb = fp_a.get("suite_fingerprint"), fp_b.get("suite_fingerprint")
    if not sa or not sb or sa != sb:
        out.append(f"suite_fingerprint differs ({_short(sa)} vs {_short(sb)}): not the same cases")
    da, db = fp_a.get("data"), fp_b.get("data")
    # Compare the md5s, not the paths: the same bytes under another name are the same data.
    ma = sorted((da or {}).values()) if isinstance(da, dict) else []
    mb = sorted((db or {}).values()) if isinstance(db, dict) else []
    if not ma or not mb or ma != mb:
        out.append(f"data differs (dataset md5 {', '.join(_short(m) for m in ma) or '(none)'} vs "
                   f"{', '.join(_short(m) for m in mb) or '(none)'})")
    ea, eb = fp_a.get("evaluator_version"), fp_b.get("evaluator_version")
    if not ea or not eb or ea != eb:
        out.append(f"evaluator_version differs ({ea or '(none)'} vs {eb or '(none)'})")
    ca, cb = fp_a.get("comparability") or {}, fp_b.get("comparability") or {}
    if ca != cb:  # keys a config declares (a policy id, an evidence-snapshot version) must match
        keys = sorted(k for k in set(ca) | set(cb) if ca.get(k) != cb.get(k))
        out.append("comparability differs (" + ", ".join(f"{k}: {ca.get(k, '(none)')} vs {cb.get(k, '(none)')}"
                                                         for k in keys) + ")")
    return out


def check_comparable(a_name: str, fp_a: dict[str, Any], b_name: str, fp_b: dict[str, Any]) -> None:
    diffs = comparability(fp_a, fp_b)
    if diffs:
        raise NotComparable(f"not comparable: {a_name} vs {b_name}: " + "; ".join(diffs))


def checked(art: Artifact) -> tuple[dict[str, Any], dict[str, Any]]:
    """(fingerprint, metrics.json) of an artifact, refusing a fingerprint edited after the run or
    a metrics.json that no longer matches its recorded digest (cheap: metrics.json is small)."""
    fp = art.fingerprint
    if not isinstance(fp, dict) or "fingerprint_sha256" not in fp:
        raise UsageError(f"{art.path}/fingerprint.json is not a ledger fingerprint")
    if _fingerprint.seal(dict(fp))["fingerprint_sha256"] != fp["fingerprint_sha256"]:
        raise LedgerError(f"{art.path}/fingerprint.json was edited after the run: its fingerprint_sha256 "
                          "no longer matches")
    metrics = art.metrics_file
    expected = (fp.get("outputs") or {}).get("metrics.json")
    if expected and file_digest(art.dir / "metrics.json") != expected:
        raise LedgerError(f"{art.path}/metrics.json does not match its fingerprint digest (edited after the run)")
    if not isinstance(metrics.get("metrics"), dict):
        raise UsageError(f"{art.path}/metrics.json has no `metrics` mapping")
    return fp, metrics


def is_number(x: Any) -> bool:
    """A metric value that can be compared: int or float, never bool."""
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def metric_deltas(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for name in sorted(set(a) | set(b)):
        va, vb = a.get(name), b.get(name)
        rows.append({"metric": name, "a": va, "b": vb,
                     "delta": round(vb - va, 10) if is_number(va) and is_number(vb) else None})
    return rows


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """{"config": {"params": {"sentences": 1}}} -> {"config.params.sentences": 1}. An empty
    mapping has no leaves: `params: {}` vs `params: {bias: 1}` is one change, bias."""
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for key in sorted(obj, key=str):
            out.update(flatten(obj[key], f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: obj} if prefix else {}


def params_diff(pa: dict[str, Any], pb: dict[str, Any]) -> list[dict[str, Any]]:
    fa, fb = flatten(pa or {}), flatten(pb or {})
    return [{"param": k, "a": fa.get(k), "b": fb.get(k)}
            for k in sorted(set(fa) | set(fb)) if fa.get(k, ...) != fb.get(k, ...)]


def env_diff(ea: dict[str, Any], eb: dict[str, Any]) -> dict[str, Any]:
    """Package changes from A's environment to B's, plus python/platform if they differ."""
    pa, pb = (ea or {}).get("packages") or {}, (eb or {}).get("packages") or {}
    out: dict[str, Any] = {
        "added": {n: pb[n] for n in sorted(set(pb) - set(pa))},
        "removed": {n: pa[n] for n in sorted(set(pa) - set(pb))},
        "changed": {n: {"a": pa[n], "b": pb[n]} for n in sorted(set(pa) & set(pb)) if pa[n] != pb[n]},
    }
    for key in ("python", "platform"):
        if (ea or {}).get(key) != (eb or {}).get(key):
            out["changed"][key] = {"a": (ea or {}).get(key), "b": (eb or {}).get(key)}
    out["identical"] = not (out["added"] or out["removed"] or out["changed"])
    return out


def code_between(git: Git, a: str | None, b: str | None) -> dict[str, Any]:
    """Commits between A's and B's code commits: relation same | forward (A is an ancestor of B)
    | backward (B is an ancestor of A) | unrelated | unknown (a commit is not in this repo)."""
    out: dict[str, Any] = {"a": a, "b": b, "relation": "unknown", "count": 0, "commits": []}
    if not a or not b or git.rev_parse(f"{a}^{{commit}}") is None or git.rev_parse(f"{b}^{{commit}}") is None:
        return out
    if a == b:
        out["relation"] = "same"
        return out
    if git.is_ancestor(a, b):
        out["relation"], rng = "forward", f"{a}..{b}"
    elif git.is_ancestor(b, a):
        out["relation"], rng = "backward", f"{b}..{a}"
    else:
        out["relation"] = "unrelated"
        return out
    entries = git.log_entries(rng)
    out["count"] = len(entries)
    out["commits"] = [{"sha": e["sha"][:12], "subject": e["subject"]}
                      for e in reversed(entries)][:COMMIT_LIST_LIMIT]  # newest first
    return out


def compare(root: Path, a_name: str, b_name: str) -> dict[str, Any]:
    a, b = artifacts.resolve(root, a_name), artifacts.resolve(root, b_name)
    fp_a, m_a = checked(a)
    fp_b, m_b = checked(b)
    check_comparable(a.id, fp_a, b.id, fp_b)
    code_a, code_b = fp_a.get("code") or {}, fp_b.get("code") or {}
    code = code_between(Git(root), code_a.get("commit"), code_b.get("commit"))
    code["a_dirty"], code["b_dirty"] = bool(code_a.get("dirty")), bool(code_b.get("dirty"))
    return {
        "a": {"id": a.id, "kind": a.kind, "path": a.path, "fingerprint_sha256": fp_a["fingerprint_sha256"]},
        "b": {"id": b.id, "kind": b.kind, "path": b.path, "fingerprint_sha256": fp_b["fingerprint_sha256"]},
        "comparable": True,
        "task": m_a.get("task"),
        "suite_fingerprint": fp_a.get("suite_fingerprint"),
        "evaluator_version": fp_a.get("evaluator_version"),
        "metrics": metric_deltas(m_a["metrics"], m_b["metrics"]),
        "params": params_diff(fp_a.get("params") or {}, fp_b.get("params") or {}),
        "env": env_diff(fp_a.get("env") or {}, fp_b.get("env") or {}),
        "inputs": inputs_diff(fp_a.get("inputs") or {}, fp_b.get("inputs") or {}),
        "code": code,
        "cases": _cases(a, b),
    }


def _cases(a: Artifact, b: Artifact) -> dict[str, Any] | None:
    """Per-case changes A -> B (casediff.py); None when either has no scores.jsonl (runs made
    before per-case scores)."""
    from . import casediff

    files = [x.dir / "scores.jsonl" for x in (a, b)]
    if not all(f.is_file() for f in files):
        return None
    (sa, slices), (sb, _) = (casediff.parse_scores(f.read_bytes(), f"{x.path}/scores.jsonl") for f, x in zip(files, (a, b)))
    return casediff.diff(sa, sb, slices)


def inputs_diff(ia: dict[str, str], ib: dict[str, str]) -> list[dict[str, Any]]:
    """Files of the runs' `code` dependencies (model files, provider code) whose md5 differs."""
    return [{"path": p, "a": ia.get(p), "b": ib.get(p)} for p in sorted(set(ia) | set(ib)) if ia.get(p) != ib.get(p)]


def _fmt(x: Any) -> str:
    if x is None:
        return "-"
    return f"{x:.6g}" if is_number(x) else str(x)


def render(r: dict[str, Any]) -> str:
    """Plain-text report (the CLI prints it)."""
    a, b = r["a"]["id"], r["b"]["id"]
    lines = [f"compare {a} ({r['a']['kind']}) -> {b} ({r['b']['kind']}): comparable "
             f"(task {r['task']}, suite {_short(r['suite_fingerprint'])}, evaluator {r['evaluator_version']})", ""]
    width = max([len(m["metric"]) for m in r["metrics"]] + [6])
    lines.append(f"  {'metric':<{width}}  {'a':>12}  {'b':>12}  {'delta':>12}")
    for m in r["metrics"]:
        delta = "-" if m["delta"] is None else f"{m['delta']:+.6g}"
        lines.append(f"  {m['metric']:<{width}}  {_fmt(m['a']):>12}  {_fmt(m['b']):>12}  {delta:>12}")
    if r.get("cases"):
        from .casediff import render as render_cases

        lines += [""] + render_cases(r["cases"])
    lines += ["", "params:" + ("" if r["params"] else " identical")]
    lines += [f"  {p['param']}: {p['a']!r} -> {p['b']!r}" for p in r["params"]]
    inputs = r.get("inputs") or []
    lines += ["", "inputs (the runs' code dependency: model files, provider code):" + ("" if inputs else " identical")]
    lines += [f"  {i['path']}: md5 {_short(i['a'])} -> {_short(i['b'])}" for i in inputs]
    env = r["env"]
    lines += ["", "env:" + (" identical" if env["identical"] else "")]
    lines += [f"  + {n} {v}" for n, v in env["added"].items()]
    lines += [f"  - {n} {v}" for n, v in env["removed"].items()]
    lines += [f"  ~ {n} {v['a']} -> {v['b']}" for n, v in env["changed"].items()]
    c = r["code"]
    rel = c["relation"]
    head = {"same": "same commit", "unrelated": "unrelated histories (neither commit is an ancestor of the other)",
            "unknown": "unknown (a code commit is not in this repository)",
            "forward": f"{c['count']} commit(s) from a to b", "backward": f"{c['count']} commit(s) from b to a"}[rel]
    lines += ["", f"code: {_short(c['a'])} -> {_short(c['b'])}: {head}"
              + "".join(f"; {x} ran on a dirty tree" for x in ("a", "b") if c.get(f"{x}_dirty"))]
    lines += [f"  {x['sha']} {x['subject']}" for x in c["commits"]]
    if c["count"] > len(c["commits"]):
        lines.append(f"  ... and {c['count'] - len(c['commits'])} more")
    return "\n".join(lines)
