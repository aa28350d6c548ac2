"""One self-contained HTML page from report.data.collect(): inline CSS, charts as inline SVG, no
script, no network. Numbers carry data-* attributes so a browser test can read them back."""

from __future__ import annotations

import os
import tempfile
from html import escape
from pathlib import Path
from typing import Any

from ..errors import UsageError

_CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}h3{font-size:15px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}.ok{color:#176f2c}.fail{color:#b3261e;font-weight:600}
.muted{color:#777}svg{background:#fafafa;border:1px solid #eee;margin:4px 12px 12px 0}"""


def _e(v: Any) -> str:
    return escape("" if v is None else str(v), quote=True)


def _num(v: Any) -> str:
    return "–" if not isinstance(v, (int, float)) or isinstance(v, bool) else f"{v:.6g}"


def _status(ok: bool, text: str = "") -> str:
    return f'<span class="{"ok" if ok else "fail"}">{"OK" if ok else "FAIL"}</span>' + (f" {_e(text)}" if text else "")


def _timeline(rows: list[dict[str, Any]]) -> list[str]:
    out = ["<h2>Promotions</h2>", _dots(rows), "<table id=\"timeline\"><tr><th>promoted at</th><th>id</th><th>role</th>"
           "<th>task</th><th>from run</th><th>signer (verified)</th><th>verify</th></tr>"]
    for r in rows:
        role = (r["role"] or "?") + (f"/{r['quality']}" if r.get("quality") else "")
        out.append(f'<tr data-id="{_e(r["promoted_id"])}" data-verified="{str(r["verified"]).lower()}">'
                   f'<td>{_e(r["promoted_at"])}</td><td><code>{_e(r["promoted_id"])}</code></td><td>{_e(role)}</td>'
                   f'<td>{_e(r["task"])}</td><td>{_e(r["run_id"])}</td>'
                   f'<td class="signer">{_e(r["signer"]) or "<span class=fail>unverified</span>"}</td>'
                   f'<td>{_status(r["verified"], r["problem"] or "")}</td></tr>')
    return out + ["</table>"] if rows else ["<h2>Promotions</h2>", "<p class=muted>no promotions yet</p>"]


def _dots(rows: list[dict[str, Any]]) -> str:
    """The timeline as a strip of dots, in promotion order (green verified, red not)."""
    w, n = 720, max(len(rows), 1)
    dots = "".join(f'<circle cx="{20 + i * (w - 40) / max(n - 1, 1):.1f}" cy="20" r="6" fill="{"#2e7d32" if r["verified"] else "#c62828"}" '
                   f'data-id="{_e(r["promoted_id"])}"><title>{_e(r["promoted_id"])} {_e(r["promoted_at"])}</title></circle>'
                   for i, r in enumerate(rows))
    return f'<svg id="timeline-chart" width="{w}" height="40" role="img"><line x1="20" y1="20" x2="{w - 20}" y2="20" stroke="#bbb"/>{dots}</svg>'


def _chart(task: str, metric: str, points: list[dict[str, Any]]) -> str:
    w, h, pad = 320, 150, 28
    values = [p["value"] for p in points]
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    xs = [pad + i * (w - 2 * pad) / max(len(points) - 1, 1) for i in range(len(points))]
    ys = [h - pad - (v - lo) / span * (h - 2 * pad) for v in values]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys))
    dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#1565c0" data-id="{_e(p["promoted_id"])}" '
                   f'data-value="{_e(repr(p["value"]))}"><title>{_e(p["promoted_id"])}: {_num(p["value"])}</title></circle>'
                   for x, y, p in zip(xs, ys, points))
    return (f'<svg class="history" data-task="{_e(task)}" data-metric="{_e(metric)}" width="{w}" height="{h}" role="img">'
            f'<text x="{pad}" y="16" font-size="12">{_e(metric)}</text>'
            f'<text x="4" y="{pad + 4}" font-size="10">{_num(hi)}</text><text x="4" y="{h - pad + 4}" font-size="10">{_num(lo)}</text>'
            f'<polyline points="{line}" fill="none" stroke="#1565c0" stroke-width="2"/>{dots}</svg>')


def _history(history: dict[str, dict[str, list[dict[str, Any]]]]) -> list[str]:
    out = ["<h2>Metric history across verified baselines</h2>"]
    if not history:
        return out + ["<p class=muted>no verified baselines yet</p>"]
    for task, metrics in sorted(history.items()):
        out.append(f"<h3>task {_e(task)}</h3><div>")
        out += [_chart(task, m, pts) for m, pts in sorted(metrics.items())]
        out.append("</div>")
    return out


def _promotion(p: dict[str, Any]) -> list[str]:
    pid = p.get("promoted_id")
    base = p.get("baseline") or {}
    out = [f'<section class="promotion" data-id="{_e(pid)}"><h3>{_status(p.get("ok", False))} '
           f'<code>{_e(pid)}</code> ← run {_e(p.get("run_id"))}</h3>', f"<p>Why: {_e(p.get('reason'))}</p>"]
    if base:
        out += [f'<table class="deltas" data-baseline="{_e(base.get("promoted_id"))}"><tr><th>metric</th>'
                f'<th>baseline {_e(base.get("promoted_id"))}</th><th>this</th><th>Δ</th></tr>']
        out += [f'<tr data-metric="{_e(d["metric"])}"><td>{_e(d["metric"])}</td>'
                f'<td class="num" data-role="baseline" data-value="{_e(repr(d["baseline"]))}">{_num(d["baseline"])}</td>'
                f'<td class="num" data-role="candidate" data-value="{_e(repr(d["value"]))}">{_num(d["value"])}</td>'
                f'<td class="num" data-role="delta" data-value="{_e(repr(d["delta"]))}">{_num(d["delta"])}</td></tr>'
                for d in p.get("deltas", [])]
        out.append("</table>")
    else:
        out.append(f"<p class=muted>{_e(p.get('note') or 'no comparable baseline')}</p>")
    g = p.get("gates") or {}
    card = g.get("scorecard") or {}
    out.append(f'<p class="gates" data-status="{_e(g.get("status"))}">Gates: {_e(g.get("status"))} '
               f'{_e(card.get("summary") or g.get("reason") or "")}</p>')
    if card.get("gates"):
        out.append("<table class=gate-table><tr><th>gate</th><th>value</th><th>threshold</th><th>result</th></tr>")
        out += [f'<tr data-gate="{_e(x.get("name"))}"><td>{_e(x.get("name"))}</td><td class="num">{_num(x.get("value"))}</td>'
                f'<td class="num">{_num(x.get("threshold"))}</td><td>{"skipped" if x.get("passed") is None else _status(bool(x.get("passed")))}</td></tr>'
                for x in card["gates"]]
        out.append("</table>")
    out += _cases(p.get("cases"))
    return out + ["</section>"]


def _cases(c: dict[str, Any] | None) -> list[str]:
    if not c:
        return []
    if c.get("error"):
        return [f"<p class=fail>per-case changes not shown: {_e(c['error'])}</p>"]
    out = [f'<h4>What changed, case by case ({c["cases"]} cases)</h4><table class="cases"><tr><th>metric</th><th>up</th>'
           "<th>down</th><th>unchanged</th><th>0→1</th><th>1→0</th><th>by slice</th></tr>"]
    for m, row in c["metrics"].items():
        sl = "; ".join(f"{_e(k)}: {n['up']}↑ {n['down']}↓" for k, n in (row.get("slices") or {}).items())
        out.append(f'<tr data-metric="{_e(m)}"><td>{_e(m)}</td><td class="num" data-role="up">{row["up"]}</td>'
                   f'<td class="num" data-role="down">{row["down"]}</td><td class="num">{row["same"]}</td>'
                   f'<td>{_e(", ".join(row.get("flipped_up", [])))}</td><td>{_e(", ".join(row.get("flipped_down", [])))}</td>'
                   f"<td>{sl}</td></tr>")
    out.append("</table>")
    if c["largest"]:
        out.append("<table class=largest><tr><th>case</th><th>metric</th><th>baseline</th><th>this</th><th>Δ</th></tr>")
        out += [f'<tr><td><code>{_e(x["case_id"])}</code></td><td>{_e(x["metric"])}</td><td class="num">{_num(x["a"])}</td>'
                f'<td class="num">{_num(x["b"])}</td><td class="num">{_num(x["delta"])}</td></tr>' for x in c["largest"][:15]]
        out.append("</table>")
    return out


def render(data: dict[str, Any]) -> str:
    r = data["review"]
    rng = r.get("range") or {}
    body = [f"<h1>ledger report</h1><p class=muted>HEAD <code>{_e((data.get('head') or '')[:12])}</code>, "
            f"generated {_e(data['generated_at'])}</p>"]
    body += _timeline(data["timeline"])
    body += _history(data["history"])
    body.append(f"<h2>This range: <code>{_e((rng.get('base') or '')[:12])}..{_e((rng.get('head') or '')[:12])}</code> "
                f"({_status(bool(r.get('ok')))}, gates at tier {_e(r.get('tier'))})</h2>")
    promos = r.get("promotions") or []
    body += [line for p in promos for line in _promotion(p)] or ["<p class=muted>no promotions in this range</p>"]
    flags = r.get("red_flags") or []
    if flags:
        body.append("<h3>Red flags</h3><ul>" + "".join(f"<li class=fail>{_e(f.get('kind'))}: {_e(f.get('why'))}</li>"
                                                       for f in flags) + "</ul>")
    return ("<!doctype html><html lang=en><head><meta charset=utf-8><title>ledger report</title>"
            f"<style>{_CSS}</style></head><body>" + "\n".join(body) + "</body></html>\n")


def write(out_dir: Path, page: str) -> Path:
    """DIR/index.html, written whole or not at all."""
    if not str(out_dir).strip():
        raise UsageError("--html: name the directory to write index.html into")
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--html {out_dir}: exists and is not a directory")
    target = out_dir / "index.html"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=".index.", suffix=".tmp")
    except OSError as exc:
        raise UsageError(f"--html {out_dir}: cannot write there ({exc.strerror or exc.__class__.__name__})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(page)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
