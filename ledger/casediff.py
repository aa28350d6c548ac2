"""What changed case by case between two comparable runs/promotions, from their per-case scores
(scores.jsonl: one {"case_id", "scores": {metric: number}, "slice": {field: value}} per line):
for every metric, how many cases went up, down or stayed; the cases whose 0/1 score flipped; the
largest changes; and, when the cases carry slices (a config's `slices:`), the same counts per
slice value."""

from __future__ import annotations

import json
import math
from typing import Any

from .errors import UsageError

LIMIT = 20


def parse_scores(data: bytes, where: str) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, str]]]:
    """(case_id -> {metric: number}, case_id -> {slice field: value}); a line that is not a score
    record is a UsageError naming it."""
    scores_of: dict[str, dict[str, float]] = {}
    slices_of: dict[str, dict[str, str]] = {}
    for n, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            case, scores, sl = rec["case_id"], rec["scores"], rec.get("slice") or {}
            if not isinstance(case, str) or not isinstance(scores, dict) or not isinstance(sl, dict):
                raise TypeError
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            raise UsageError(f"{where} line {n} is not a per-case score record") from None
        scores_of[case] = {str(k): float(v) for k, v in scores.items()
                           if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}
        if sl:
            slices_of[case] = {str(k): str(v) for k, v in sl.items()}
    return scores_of, slices_of


def _binary(values: list[float]) -> bool:
    return bool(values) and all(v in (0.0, 1.0) for v in values)


def diff(a: dict[str, dict[str, float]], b: dict[str, dict[str, float]],
         slices: dict[str, dict[str, str]] | None = None, limit: int = LIMIT) -> dict[str, Any]:
    """A -> B. `slices`: case_id -> {slice field: value} (None or empty: no per-slice counts)."""
    common = sorted(set(a) & set(b))
    metrics = sorted({m for c in common for m in a[c]} & {m for c in common for m in b[c]})
    out: dict[str, Any] = {"cases": len(common), "only_a": len(set(a) - set(b)), "only_b": len(set(b) - set(a)),
                           "metrics": {}, "largest": []}
    changes = []
    for m in metrics:
        pairs = [(c, a[c][m], b[c][m]) for c in common if m in a[c] and m in b[c]]
        binary = _binary([x for _, x, _ in pairs] + [y for _, _, y in pairs])
        row: dict[str, Any] = {"up": 0, "down": 0, "same": 0, "binary": binary}
        if binary:
            row["flipped_up"] = [c for c, x, y in pairs if x == 0.0 and y == 1.0][:limit]
            row["flipped_down"] = [c for c, x, y in pairs if x == 1.0 and y == 0.0][:limit]
        by_slice: dict[str, dict[str, int]] = {}
        for c, x, y in pairs:
            key = "up" if y > x else "down" if y < x else "same"
            row[key] += 1
            if key != "same":
                changes.append({"case_id": c, "metric": m, "a": x, "b": y, "delta": round(y - x, 10)})
            for field, value in (slices or {}).get(c, {}).items():
                counts = by_slice.setdefault(f"{field}={value}", {"up": 0, "down": 0, "same": 0})
                counts[key] += 1
        if slices:
            row["slices"] = dict(sorted(by_slice.items()))
        out["metrics"][m] = row
    changes.sort(key=lambda ch: (-abs(ch["delta"]), ch["metric"], ch["case_id"]))
    out["largest"] = changes[:limit]
    return out


def render(d: dict[str, Any]) -> list[str]:
    """Plain-text lines for compare's report."""
    lines = [f"cases: {d['cases']} in both" + (f" ({d['only_a']} only in a, {d['only_b']} only in b)"
                                                if d["only_a"] or d["only_b"] else "")]
    for m, row in d["metrics"].items():
        line = f"  {m}: {row['up']} up, {row['down']} down, {row['same']} unchanged"
        if row["binary"]:
            line += (f"; flipped 0->1: {', '.join(row['flipped_up']) or '-'}; "
                     f"1->0: {', '.join(row['flipped_down']) or '-'}")
        lines.append(line)
        for name, c in (row.get("slices") or {}).items():
            lines.append(f"    {name}: {c['up']} up, {c['down']} down, {c['same']} unchanged")
    if d["largest"]:
        lines.append("  largest changes:")
        lines += [f"    {ch['case_id']} {ch['metric']}: {ch['a']:.6g} -> {ch['b']:.6g} ({ch['delta']:+.6g})"
                  for ch in d["largest"][:10]]
    return lines


def between(a: bytes | None, b: bytes | None, a_name: str, b_name: str) -> dict[str, Any] | None:
    """diff() of two scores.jsonl contents as committed (review reads them from git); None when
    either is absent, {"error": ...} when either does not parse (a PR can commit anything)."""
    if a is None or b is None:
        return None
    try:
        (sa, slices), (sb, _) = parse_scores(a, a_name), parse_scores(b, b_name)
    except UsageError as exc:
        return {"error": str(exc)}
    return diff(sa, sb, slices)
