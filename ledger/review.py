"""`ledger review`: the pull-request report for promotion commits.

Everything is read from git objects (commits, trees, tags), never from the working tree, and
signatures are checked against `.ledger/allowed_signers` at BASE, never at the PR head."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from . import layout, records
from .audit import verify as _verify
from .errors import LedgerError, NotFound, UsageError
from .gitops import Git, TagInfo
from .layout import Target
from .review_flags import BAD_YAML, read_params, red_flags

SCHEMA = "ledger.review/1"
FORMATS = ("markdown", "json")
DEFAULT_TIER = "base"
_SUBJECT = re.compile(r"^promote: (\S+) -> (\S+)$")
_SIG_WORDS = ("signature", "signed by", "not signed", "allowed_signers", "lightweight tag")


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    return fmt


# -- range ------------------------------------------------------------------
def _resolve(git: Git, rev: str, rng: str) -> str:
    if not rev or rev.startswith("-"):
        raise UsageError(f"bad revision {rev!r} in --range {rng!r}")
    sha = git.rev_parse(rev + "^{commit}")
    if sha is None:
        raise UsageError(f"unknown revision {rev!r} in --range {rng!r}")
    return sha


def resolve_range(git: Git, rng: str | None) -> dict[str, str]:
    """{base, head, spec}: BASE..HEAD (BASE...HEAD = from their merge-base); default: from the
    merge-base of HEAD with origin/main (or main) to HEAD."""
    if git.head() is None:
        raise NotFound("repository has no commits")
    if rng is None:
        ref = next((r for r in ("origin/main", "main")
                    if git.rev_parse(f"refs/{'remotes' if '/' in r else 'heads'}/{r}^{{commit}}")), None)
        if ref is None:
            raise UsageError("no --range given and neither origin/main nor main exists: pass --range BASE..HEAD")
        head = git.head() or ""
        base = git.merge_base(ref, head)
        if base is None:
            raise UsageError(f"HEAD shares no history with {ref}: pass --range BASE..HEAD")
        return {"base": base, "head": head, "spec": f"merge-base({ref}, HEAD)..HEAD"}
    sep = "..." if "..." in rng else ".." if ".." in rng else None
    if sep is None:
        raise UsageError(f"--range must look like BASE..HEAD, not {rng!r}")
    base_rev, head_rev = rng.split(sep, 1)
    base, head = _resolve(git, base_rev, rng), _resolve(git, head_rev or "HEAD", rng)
    if sep == "...":
        base = git.merge_base(base, head) or ""
        if not base:
            raise UsageError(f"--range {rng!r}: the two revisions share no history")
    return {"base": base, "head": head, "spec": rng}


# -- reading objects --------------------------------------------------------
def _json_at(git: Git, rev: str, path: str) -> dict[str, Any] | None:
    blob = git.show_file(rev, path)
    if blob is None:
        return None
    try:
        data = json.loads(blob)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _target(label: str | None) -> Target | None:
    parts = (label or "").split("/")
    try:
        if len(parts) == 2 and parts[0] == "baseline":
            return Target("baseline", layout.check_id(parts[1]))
        if len(parts) == 3 and parts[:2] == ["reference", "silver"]:
            return Target("reference", layout.check_id(parts[2]), "silver")
        if len(parts) == 4 and parts[:2] == ["reference", "gold"]:
            return Target("reference", layout.check_id(parts[3]), "gold", layout.check_task(parts[2]))
    except UsageError:
        return None
    return None


def _record(tag: TagInfo | None) -> dict[str, Any] | None:
    if tag is None or tag.objecttype != "tag":
        return None
    try:
        return records.parse_tag(tag)
    except LedgerError:
        return None


# -- one promotion commit ---------------------------------------------------
def _promotion(git: Git, entry: dict[str, Any], tags: dict[str, TagInfo]) -> dict[str, Any]:
    sha, trailers = entry["sha"], entry["trailers"]
    problems: list[str] = []
    m = _SUBJECT.match(entry["subject"])
    run_id, label = m.groups() if m else ((trailers.get("Ledger-Run") or [None])[0], None)
    if not m:
        problems.append("subject is not `promote: <run> -> <role>/<id>`")
    target = _target(label)
    if label and target is None:
        problems.append(f"unrecognised promotion target {label!r}")
    pid = target.promoted_id if target else (trailers.get("Ledger-Promoted-Id") or [None])[0]
    for key, want in (("Ledger-Run", run_id), ("Ledger-Promoted-Id", pid)):
        got = trailers.get(key)
        if not got:
            problems.append(f"trailer {key} is missing")
        elif want and got[0] != want:
            problems.append(f"trailer {key}: {got[0]} does not match {want}")
    if not trailers.get("Ledger-Fingerprint"):
        problems.append("trailer Ledger-Fingerprint is missing")
    tag_name = target.tag if target else None
    tag = tags.get(tag_name) if tag_name else None
    if tag_name and tag is None:
        problems.append(f"promotion commit has no tag {tag_name}")
    elif tag is not None and tag.commit != sha:
        problems.append(f"tag {tag_name} points at {tag.commit[:12]}, not at this promotion commit")
    record = _record(tag)
    path = (record or {}).get("path") or (target.path if target else None)
    at = {n: _json_at(git, sha, f"{path}/{n}") if path else None
          for n in ("metrics.json", "fingerprint.json", "baseline.json")}
    fp, metrics_file, meta = at["fingerprint.json"] or {}, at["metrics.json"] or {}, at["baseline.json"] or {}
    if path and not at["metrics.json"]:
        problems.append(f"{path}/metrics.json is missing or unreadable at this commit")
    if record is None:  # no usable signed record: describe what the commit itself holds
        record = {"promoted_id": pid, "role": target.role if target else None,
                  "quality": target.quality if target else None, "task": metrics_file.get("task"),
                  "path": path, "run_id": run_id, "reason": meta.get("reason"), "promoted_by": None,
                  "metrics": metrics_file.get("metrics", {}), "code_commit": (fp.get("code") or {}).get("commit"),
                  "data": fp.get("data", {}), "suite_fingerprint": fp.get("suite_fingerprint"),
                  "evaluator_version": fp.get("evaluator_version"),
                  "fingerprint_sha256": fp.get("fingerprint_sha256"),
                  "env_lock_sha256": (fp.get("env") or {}).get("lock_sha256")}
    fp_trailer = (trailers.get("Ledger-Fingerprint") or [None])[0]
    if fp_trailer and record.get("fingerprint_sha256") and fp_trailer != record["fingerprint_sha256"]:
        problems.append("trailer Ledger-Fingerprint does not match the promotion record")
    if fp and record.get("fingerprint_sha256") and fp.get("fingerprint_sha256") != record["fingerprint_sha256"]:
        problems.append(f"{path}/fingerprint.json does not match the promotion record's fingerprint")
    if metrics_file and record.get("metrics") != metrics_file.get("metrics"):
        problems.append(f"{path}/metrics.json at this commit differs from the promotion record")
    code, env = fp.get("code") or {}, fp.get("env") or {}
    return {
        "commit": sha, "subject": entry["subject"], "author": entry["author"], "date": entry["date"],
        "run_id": run_id, "label": label, "promoted_id": pid, "role": record.get("role"),
        "quality": record.get("quality"), "task": record.get("task") or metrics_file.get("task"), "path": path,
        "reason": record.get("reason") or meta.get("reason"), "promoted_by": record.get("promoted_by"),
        "promoted_at": record.get("promoted_at") or meta.get("promoted_at"),
        "record_source": "tag" if tag is not None and _record(tag) is not None else "commit",
        "tag": {"name": tag_name, "present": tag is not None, "annotated": bool(tag and tag.objecttype == "tag"),
                "commit": tag.commit if tag else None, "signed": bool(tag and tag.signature.strip()),
                "tagger": git.tagger(tag.name) if tag and tag.objecttype == "tag" else None,
                "tagger_date": tag.tagger_date if tag else None},
        "provenance": {
            "code_commit": record.get("code_commit") or code.get("commit"), "branch": code.get("branch"),
            "dirty": code.get("dirty"), "data": record.get("data") or fp.get("data") or {},
            "env_lock_sha256": record.get("env_lock_sha256") or env.get("lock_sha256"),
            "python": env.get("python"), "platform": env.get("platform"),
            "suite_fingerprint": record.get("suite_fingerprint") or fp.get("suite_fingerprint"),
            "evaluator_version": record.get("evaluator_version") or fp.get("evaluator_version"),
            "fingerprint_sha256": record.get("fingerprint_sha256"), "config_sha256": fp.get("config_sha256"),
            "n_cases": metrics_file.get("n_cases"),
        },
        "metrics": record.get("metrics") or {},
        "problems": problems,
    }


def _signature(p: dict[str, Any], finding: dict[str, Any] | None) -> dict[str, Any]:
    tag = p["tag"]
    if not tag["present"]:
        return {"status": "missing", "signer": None, "detail": f"no tag {tag['name']}"}
    if not tag["annotated"]:
        return {"status": "lightweight", "signer": None, "detail": "lightweight tag: cannot carry a signature"}
    if not tag["signed"]:
        return {"status": "unsigned", "signer": None, "detail": "tag is not signed"}
    if finding is None:
        return {"status": "unchecked", "signer": None, "detail": "verify did not check this tag"}
    bad = [x for x in finding["problems"] if any(w in x for w in _SIG_WORDS)]
    if bad:
        return {"status": "invalid", "signer": finding.get("signer"), "detail": bad[0]}
    return {"status": "valid", "signer": finding.get("signer"), "detail": None}


# -- baselines and gates ----------------------------------------------------
def _comparable(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Why two promotions must not be ranked (empty = comparable): the project's rule
    (compare.comparability: suite fingerprint, dataset md5s, evaluator version) plus the task."""
    try:
        from .compare import comparability
    except ImportError:  # older checkouts: the same rule, inline
        def comparability(x, y):
            return [f"{k} differs" for k in ("suite_fingerprint", "data", "evaluator_version")
                    if not x.get(k) or x.get(k) != y.get(k)]
    return ([f"task differs ({a.get('task')} vs {b.get('task')})"] if a.get("task") != b.get("task") else []) \
        + comparability(a, b)


def _baseline(git: Git, p: dict[str, Any], baselines: list[dict[str, Any]]) -> dict[str, Any]:
    """The most recent comparable baseline promoted before this commit, and the metric deltas."""
    order = {sha: i for i, sha in enumerate(git.commits_in_range(p["commit"] + "^"))} \
        if git.parents(p["commit"]) else {}
    mine = {"task": p["task"], **{k: p["provenance"][k] for k in ("suite_fingerprint", "evaluator_version", "data")}}
    earlier = sorted((b for b in baselines if b["commit"] in order and b["promoted_id"] != p["promoted_id"]),
                     key=lambda b: order[b["commit"]], reverse=True)
    same_task = [b for b in earlier if b.get("task") == p["task"]]
    found = next((b for b in same_task if not _comparable(mine, b)), None)
    out: dict[str, Any] = {"baseline": None, "deltas": [], "note": None}
    if found is None:
        out["note"] = "no comparable baseline"
        if same_task:
            out["note"] += (f" (latest {p['task']} baseline {same_task[0]['promoted_id']}: "
                            f"{'; '.join(_comparable(mine, same_task[0]))})")
        return out
    if found is not same_task[0]:
        out["note"] = (f"newer baseline {same_task[0]['promoted_id']} is not comparable "
                       f"({'; '.join(_comparable(mine, same_task[0]))})")
    out["baseline"] = {k: found.get(k) for k in ("promoted_id", "path", "commit", "tag", "metrics", "run_id",
                                                 "fingerprint_sha256")}
    base_m, run_m = found.get("metrics") or {}, p["metrics"]
    for name in sorted(set(base_m) | set(run_m)):
        a, b = base_m.get(name), run_m.get(name)
        numeric = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (a, b))
        out["deltas"].append({"metric": name, "baseline": a, "value": b,
                              "delta": round(b - a, 10) if numeric else None})
    from .casediff import between

    out["cases"] = between(git.show_file(found["commit"], f"{found['path']}/scores.jsonl"),
                           git.show_file(p["commit"], f"{p['path']}/scores.jsonl"),
                           f"{found['path']}/scores.jsonl", f"{p['path']}/scores.jsonl")
    return out


def _gate_setup(git: Git, base: str, tier: str) -> tuple[Any, Any, str | None]:
    """(gates module, gate definitions read from params.yaml at BASE, why unavailable). An unknown
    tier is bad input (exit 2); thresholds come from the base, never from the PR head."""
    try:
        from . import gates as gates_mod  # written separately: absent in older versions
        gates_mod.scorecard, gates_mod.definitions  # noqa: B018 -- the API this report needs
    except (ImportError, AttributeError) as exc:
        return None, None, f"ledger.gates is not available ({exc})"
    try:
        params = read_params(git, base) or {}
        params = params if isinstance(params, dict) else {}
        defs = gates_mod.definitions(params)
    except (LedgerError, *BAD_YAML) as exc:
        return gates_mod, None, f"gate definitions at base {base[:12]} are invalid: {exc}"
    gates_mod.check_tier(tier, params=params)  # bad input (exit 2): the tiers of the base
    return gates_mod, (defs, params), None


def _gates(root: Path, p: dict[str, Any], tier: str, setup: tuple[Any, Any, str | None]) -> dict[str, Any]:
    gates_mod, defs, why = setup
    if gates_mod is None:
        return {"status": "unavailable", "reason": why}
    if defs is None:
        return {"status": "error", "reason": why}
    base = p["baseline"] or {}
    try:
        card = gates_mod.scorecard(root, p["metrics"], tier, base.get("metrics") if base else None,
                                   run_id=p["promoted_id"], baseline_id=base.get("promoted_id"), task=p["task"],
                                   run_fingerprint=p["provenance"]["fingerprint_sha256"],
                                   baseline_fingerprint=base.get("fingerprint_sha256"), defs=defs[0],
                                   params=defs[1])
    except LedgerError as exc:
        return {"status": "error", "reason": str(exc)}
    except Exception as exc:  # a bug in the gates must not hide the rest of the report
        return {"status": "error", "reason": f"{exc.__class__.__name__}: {exc}"}
    status = "passed" if card.get("overall_passed") else "failed"
    return {"status": status, "informational": p.get("role") == "reference", "scorecard": card}


def _all_baselines(root: Path, git: Git, tags: list[TagInfo], base: str) -> list[dict[str, Any]]:
    """Baselines to compare against: only promotions whose tag verifies (signers read from the
    base), never an unsigned or forged `promote/baseline/...` tag."""
    out = []
    findings = None  # one verify pass for all candidates, made only when there is one
    for tag in tags:
        record = _record(tag)
        own = f"{layout.TAG_PREFIX}baseline/{record.get('promoted_id')}" if record else None
        if record and record.get("role") == "baseline" and tag.name == own:
            if findings is None:
                findings = _verify.verify(root, signers_rev=base, workspace=False)
            try:
                _verify.accepted(findings, str(record.get("promoted_id")))
            except LedgerError:
                continue
            out.append({**record, "commit": tag.commit, "tag": tag.name})
    return out


# -- the report -------------------------------------------------------------
def review(root: Path, rng: str | None = None, tier: str | None = None) -> dict[str, Any]:
    git = Git(root)
    r = resolve_range(git, rng)
    base, head, tier = r["base"], r["head"], tier or DEFAULT_TIER
    gate_setup = _gate_setup(git, base, tier)
    findings = [f.as_dict() for f in _verify.verify(root, rng=f"{base}..{head}", signers_rev=base)]
    all_tags = git.tags(layout.TAG_PREFIX)
    tags = {t.name: t for t in all_tags}
    baselines = _all_baselines(root, git, all_tags, base)
    entries = git.log_entries(f"{base}..{head}")
    promos: dict[str, dict[str, Any]] = {}
    for e in entries:
        if _SUBJECT.match(e["subject"]) or e["trailers"].get("Ledger-Promoted-Id"):
            promos[e["sha"]] = _promotion(git, e, tags)
    used: set[int] = set()
    for p in promos.values():
        idx = next((i for i, f in enumerate(findings) if p["path"] and f["path"] == p["path"]), None)
        finding = findings[idx] if idx is not None else None
        if idx is not None:
            used.add(idx)
        p["verify"] = finding
        p["signature"] = _signature(p, finding)
        p.update(_baseline(git, p, baselines))
        p["gates"] = _gates(root, p, tier, gate_setup)
        p["ok"] = not p["problems"] and (finding is None or finding["ok"])
    others = [f for i, f in enumerate(findings) if i not in used]
    verify_ok = all(f["ok"] for f in findings)
    ok = verify_ok and all(p["ok"] for p in promos.values())
    return {
        "schema": SCHEMA, "ok": ok, "tier": tier, "gates_from": base,
        "range": {**r, "commits": len(entries)}, "signers_from": base,
        "verify": {"ok": verify_ok, "checked": len(findings), "results": findings},
        "promotions": list(promos.values()),
        "other_findings": others,
        "red_flags": red_flags(git, base, head, entries, promos),
    }
