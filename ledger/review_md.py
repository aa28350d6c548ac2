"""Markdown rendering of a `ledger review` report (for a PR comment or $GITHUB_STEP_SUMMARY)."""

from __future__ import annotations

import json
from typing import Any

OK, FAIL, WARN, FLAG = "✅", "❌", "⚠️", "🚩"


def _esc(value: Any) -> str:
    """Free text in a table cell or a line: no HTML, no table breaks, one line."""
    text = "—" if value is None or value == "" else str(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")
    return " ".join(text.split())


def _code(value: Any, n: int | None = None) -> str:
    if value is None or value == "":
        return "—"
    text = str(value)[:n] if n else str(value)
    return "`" + text.replace("`", "'").replace("|", "\\|") + "`"


def _num(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return _esc(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return _esc(value)


def _delta(value: Any) -> str:
    if value is None:
        return "—"
    return ("+" if value > 0 else "") + (f"{value:.4g}" if isinstance(value, float) else str(value))


def _sig(p: dict[str, Any]) -> str:
    s = p["signature"]
    if s["status"] == "valid":
        return f"{OK} {_esc(s['signer'])}"
    return f"{FAIL} {s['status']}"


def _gate_summary(g: dict[str, Any]) -> str:
    if g["status"] in ("unavailable", "error"):
        return f"{WARN} {g['status']}"
    gates = g["scorecard"].get("gates", [])
    passed = sum(1 for x in gates if x.get("passed"))
    skipped = sum(1 for x in gates if x.get("passed") is None and x.get("applicable", True))
    overrides = sorted({x.get("metric") for x in gates if x.get("source") == "override"})
    return (f"{OK if g['status'] == 'passed' else FAIL} {passed}/{len(gates)} passed"
            + (f", {skipped} skipped" if skipped else "")
            + (f", {WARN} OVERRIDE of measured {', '.join(_esc(m) for m in overrides)}" if overrides else ""))


def _title(p: dict[str, Any]) -> str:
    return p.get("label") or f"{p.get('role')}/{p.get('promoted_id')}"


def _cases(c: dict[str, Any] | None, base: str) -> list[str]:
    """What changed case by case against the baseline (casediff.py)."""
    if not c:
        return []
    if c.get("error"):
        return ["", f"{WARN} per-case changes not shown: {_esc(c['error'])}"]
    out = ["", f"#### What changed, case by case ({c['cases']} cases in both)", "",
           "| metric | up | down | unchanged | 0→1 | 1→0 |", "|---|---:|---:|---:|---|---|"]
    for m, row in c["metrics"].items():
        flips = [", ".join(_code(x) for x in row.get(k, [])) or "—" if row["binary"] else "" for k in
                 ("flipped_up", "flipped_down")]
        out.append(f"| {_esc(m)} | {row['up']} | {row['down']} | {row['same']} | {flips[0]} | {flips[1]} |")
    sliced = [(m, name, n) for m, row in c["metrics"].items() for name, n in (row.get("slices") or {}).items()]
    if sliced:
        out += ["", "<details><summary>By slice</summary>", "", "| metric | slice | up | down | unchanged |",
                "|---|---|---:|---:|---:|"]
        out += [f"| {_esc(m)} | {_code(name)} | {n['up']} | {n['down']} | {n['same']} |" for m, name, n in sliced]
        out += ["", "</details>"]
    if c["largest"]:
        out += ["", f"<details><summary>Largest changes vs `{_esc(base)}`</summary>", "",
                "| case | metric | baseline | this | Δ |", "|---|---|---:|---:|---:|"]
        out += [f"| {_code(x['case_id'])} | {_esc(x['metric'])} | {_num(x['a'])} | {_num(x['b'])} | {_delta(x['delta'])} |"
                for x in c["largest"][:10]]
        out += ["", "</details>"]
    return out


def _promotion(p: dict[str, Any], tier: str) -> list[str]:
    prov, tag = p["provenance"], p["tag"]
    quality = f" ({_esc(p['quality'])})" if p.get("quality") else ""
    out = [f"### {OK if p['ok'] else FAIL} `{_esc(_title(p))}`{quality} ← run `{_esc(p.get('run_id'))}`", ""]
    out.append(f"**Why:** {_esc(p.get('reason'))}")
    out.append("")
    out += [
        "| | |", "|---|---|",
        f"| promoted id | {_code(p.get('promoted_id'))} |",
        f"| role | {_esc(p.get('role'))}{' (' + _esc(p['quality']) + ')' if p.get('quality') else ''} |",
        f"| task | {_esc(p.get('task'))} |",
        f"| path | {_code(p.get('path'))} |",
        f"| promoted by | {_esc(p.get('promoted_by'))} at {_esc(p.get('promoted_at'))} |",
        f"| commit | {_code(p['commit'], 12)} by {_esc(p.get('author'))} |",
        f"| tag | {_code(tag['name'])} " + (f"→ {_code(tag['commit'], 12)}, tagger {_esc(tag['tagger'])}"
                                           if tag["present"] else f"{FAIL} **missing**") + " |",
        f"| signature | {_sig(p)}" + (f" — {_esc(p['signature']['detail'])}" if p["signature"]["detail"] else "")
        + " |",
        f"| record | from the {'signed tag' if p['record_source'] == 'tag' else 'commit (no usable tag record)'} |",
        "",
    ]
    problems = list(p["problems"]) + [x for x in (p.get("verify") or {}).get("problems", []) if x not in p["problems"]]
    if problems:
        out += ["**Problems:**", ""] + [f"- {FAIL} {_esc(x)}" for x in problems] + [""]
    for note in (p.get("verify") or {}).get("notes", []):
        out.append(f"- note: {_esc(note)}")
    base = p.get("baseline")
    if base:
        out += [f"#### Metrics vs baseline `{_esc(base['promoted_id'])}`", ""]
        if p.get("note"):
            out += [f"{WARN} {_esc(p['note'])}", ""]
        out += [f"| metric | baseline `{_esc(base['promoted_id'])}` | this | Δ |", "|---|---:|---:|---:|"]
        out += [f"| {_esc(d['metric'])} | {_num(d['baseline'])} | {_num(d['value'])} | {_delta(d['delta'])} |"
                for d in p["deltas"]]
        out += _cases(p.get("cases"), base["promoted_id"])
    else:
        out += ["#### Metrics", "", f"{WARN} {_esc(p.get('note') or 'no comparable baseline')}: no deltas", "",
                "| metric | this |", "|---|---:|"]
        out += [f"| {_esc(k)} | {_num(v)} |" for k, v in sorted(p["metrics"].items())]
    out.append("")
    g = p["gates"]
    out += [f"#### Gates (tier `{_esc(tier)}`): {_gate_summary(g)}", ""]
    if g.get("informational"):
        out += ["Informational: a reference never blocks on gates.", ""]
    if g["status"] in ("unavailable", "error"):
        out += [f"Gates {g['status']}: {_esc(g.get('reason'))}", ""]
    else:
        out += ["| gate | value | threshold | direction | result | note |", "|---|---:|---:|---|---|---|"]
        for x in g["scorecard"].get("gates", []):
            result = OK if x.get("passed") else FAIL if x.get("passed") is False else \
                "n/a" if x.get("applicable") is False else f"{WARN} skipped"
            out.append(f"| {_esc(x.get('name'))} | {_num(x.get('value'))} | {_num(x.get('threshold'))} | "
                       f"{_esc(x.get('direction'))} | {result} | {_esc(x.get('note'))} |")
        out.append("")
    data = "<br>".join(f"{_code(k)} md5 {_code(v)}" for k, v in sorted((prov.get("data") or {}).items())) or "—"
    out += [
        "<details><summary>Provenance</summary>", "",
        "| | |", "|---|---|",
        f"| code commit | {_code(prov.get('code_commit'))}"
        + (f" on {_code(prov.get('branch'))}" if prov.get("branch") else "")
        + (f" {FAIL} **dirty**" if prov.get("dirty") else " (clean)" if prov.get("dirty") is False else "") + " |",
        f"| data | {data} |",
        f"| environment | python {_esc(prov.get('python'))} on {_esc(prov.get('platform'))}, "
        f"lock sha256 {_code(prov.get('env_lock_sha256'))} |",
        f"| suite fingerprint | {_code(prov.get('suite_fingerprint'))} ({_esc(prov.get('n_cases'))} cases) |",
        f"| evaluator version | {_code(prov.get('evaluator_version'))} |",
        f"| run fingerprint | {_code(prov.get('fingerprint_sha256'))} |",
        f"| config sha256 | {_code(prov.get('config_sha256'))} |",
        "", "</details>", "",
    ]
    return out


def render(report: dict[str, Any]) -> str:
    rng, promos, v = report["range"], report["promotions"], report["verify"]
    head = OK if report["ok"] else FAIL
    verdict = "verify passed" if v["ok"] else "verify FAILED"
    if v["ok"] and not report["ok"]:
        verdict = "promotion problems"
    out = [f"## {head} ledger review: {len(promos)} promotion(s), {verdict}", ""]
    out.append(f"Range {_code(rng['base'], 12)}..{_code(rng['head'], 12)} ({_esc(rng['spec'])}), "
               f"{rng['commits']} commit(s). Signatures checked against `.ledger/allowed_signers` at "
               f"{_code(report['signers_from'], 12)} (the base, not the PR head); gate thresholds from params.yaml at "
               f"{_code(report['gates_from'], 12)}, tier `{_esc(report['tier'])}`.")
    out.append("")
    if promos:
        out += ["| | promotion | run | signature | vs baseline | gates |", "|---|---|---|---|---|---|"]
        for p in promos:
            vs = f"`{_esc(p['baseline']['promoted_id'])}`" if p.get("baseline") else "no comparable baseline"
            out.append(f"| {OK if p['ok'] else FAIL} | `{_esc(_title(p))}` | `{_esc(p.get('run_id'))}` | "
                       f"{_sig(p)} | {vs} | {_gate_summary(p['gates'])} |")
        out.append("")
    else:
        out += ["No promotion commits in this range.", ""]
    flags = report["red_flags"]
    if flags:
        out += [f"### {FLAG} Red flags", ""]
        for f in flags:
            where = f"{_code(f['commit'], 12)} {_esc(f['subject'])}: " if f.get("commit") else ""
            paths = ", ".join(f"{_esc(x['status'])} {_code(x['path'])}" for x in f["paths"][:20])
            more = f" (+{len(f['paths']) - 20} more)" if len(f["paths"]) > 20 else ""
            out.append(f"- {FLAG} {where}{_esc(f['why'])} — {paths}{more}")
        out.append("")
    for p in promos:
        out += _promotion(p, report["tier"])
    others = report["other_findings"]
    out += [f"### Verify: {OK + ' passed' if v['ok'] else FAIL + ' FAILED'} ({v['checked']} checked)", ""]
    bad = [f for f in others if not f["ok"]]
    for f in bad:
        for problem in f["problems"]:
            out.append(f"- {FAIL} {_code(f.get('path') or f.get('tag'))}: {_esc(problem)}")
    if not bad:
        out.append("No problems outside the promotions above (existing promoted dirs untouched).")
    out += ["", "<details><summary>Raw verify results</summary>", "", "```json",
            json.dumps(v["results"], indent=2, sort_keys=True).replace("```", "'''"), "```", "", "</details>", ""]
    return "\n".join(out)
