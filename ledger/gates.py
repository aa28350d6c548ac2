"""Scorecard gates defined in params.yaml (`gates:`), evaluated for one run at one tier.

    gates:
      token_f1:                      # the metric name in metrics.json (or supplied with --metric)
        direction: min               # min: value >= threshold; max: value <= threshold
        thresholds: {base: 0.2, first_sft: 0.3, future: 0.45}   # a tier left out: not gated there
        max_regression: 0.05         # optional (number or per-tier mapping): worst allowed move
                                     # against the baseline (a drop for min, a rise for max)
        task: summarization          # optional: applies to runs of this task only
        description: ...             # optional, free text

A gate whose value is missing is listed as skipped (never silently passed); `strict` makes it fail.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from . import artifacts, compare, scorecard_store
from .errors import NotFound, UsageError
from .hashing import json_sha256
from .runs import load_params

TIERS = ("base", "first_sft", "future")
DIRECTIONS = ("min", "max")
SCHEMA = "ledger.scorecard/1"
REGRESSION = ".regression"
EPS = 1e-9  # float noise must not flip a gate sitting exactly on its threshold
_KEYS = {"direction", "thresholds", "max_regression", "task", "description"}
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")


def _num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _per_tier(name: str, key: str, value: Any, *, nonneg: bool) -> dict[str, float]:
    where = f"params.yaml: gates.{name}.{key}"
    if _num(value):
        value = {t: value for t in TIERS}
    if not isinstance(value, dict):
        raise UsageError(f"{where} must be a number or a mapping of tier -> number (tiers: {', '.join(TIERS)})")
    out = {}
    for tier, v in value.items():
        if tier not in TIERS:
            raise UsageError(f"{where}: unknown tier {tier!r} (known: {', '.join(TIERS)})")
        if v is None:
            continue  # explicitly not gated at this tier
        if not _num(v) or not math.isfinite(v) or (nonneg and v < 0):
            raise UsageError(f"{where}.{tier} must be a {'non-negative ' if nonneg else ''}number, not {v!r}")
        out[tier] = float(v)
    return out


def definitions(params: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Validated, normalised gate definitions from a parsed params.yaml."""
    raw = params.get("gates")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise UsageError("params.yaml: `gates` must be a mapping of metric name -> {direction, thresholds}")
    defs: dict[str, dict[str, Any]] = {}
    for name, spec in raw.items():
        if not isinstance(name, str) or not _NAME.fullmatch(name) or name.endswith(REGRESSION):
            raise UsageError(f"params.yaml: gates: invalid gate name {name!r} (a metric name; "
                             f"not ending in {REGRESSION!r})")
        if not isinstance(spec, dict):
            raise UsageError(f"params.yaml: gates.{name} must be a mapping with `direction` and `thresholds`")
        unknown = sorted(set(spec) - _KEYS)
        if unknown:
            raise UsageError(f"params.yaml: gates.{name}: unknown key(s) {', '.join(map(str, unknown))} "
                             f"(allowed: {', '.join(sorted(_KEYS))})")
        if spec.get("direction") not in DIRECTIONS:
            raise UsageError(f"params.yaml: gates.{name}.direction must be min or max, not {spec.get('direction')!r}")
        if "thresholds" not in spec and "max_regression" not in spec:
            raise UsageError(f"params.yaml: gates.{name} needs `thresholds` (per tier) and/or `max_regression`")
        task = spec.get("task")
        if task is not None and not isinstance(task, str):
            raise UsageError(f"params.yaml: gates.{name}.task must be a task name")
        defs[name] = {
            "direction": spec["direction"],
            "thresholds": _per_tier(name, "thresholds", spec.get("thresholds") or {}, nonneg=False),
            "max_regression": _per_tier(name, "max_regression", spec["max_regression"], nonneg=True)
            if spec.get("max_regression") is not None else {},
            "task": task,
        }
    return defs


def load(root: Path) -> dict[str, dict[str, Any]]:
    return definitions(load_params(root))


def check_tier(tier: str) -> str:
    if tier not in TIERS:
        raise UsageError(f"unknown tier {tier!r}: use one of {', '.join(TIERS)}")
    return tier


def parse_overrides(items: list[str] | None, defs: dict[str, dict[str, Any]]) -> dict[str, float]:
    """`--metric name=value` -> {name: value}; the name must be a metric some gate defines."""
    out: dict[str, float] = {}
    for item in items or []:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"--metric {item!r}: use NAME=VALUE, e.g. --metric human_pref=0.7")
        if name not in defs:
            raise UsageError(f"--metric {name}: no gate defines {name!r} (gates: {', '.join(sorted(defs)) or 'none'})")
        try:
            value = float(text)
        except ValueError:
            raise UsageError(f"--metric {name}: {text!r} is not a number") from None
        if not math.isfinite(value):
            raise UsageError(f"--metric {name}: {text!r} is not a finite number")
        if name in out:
            raise UsageError(f"--metric {name} given twice")
        out[name] = value
    return out


def _entry(name: str, metric: str, kind: str, value: Any, threshold: float, direction: str, note: str) -> dict:
    if value is None:
        return {"name": name, "metric": metric, "kind": kind, "value": None, "threshold": threshold,
                "direction": direction, "passed": None, "note": note}
    ok = value >= threshold - EPS if direction == "min" else value <= threshold + EPS
    return {"name": name, "metric": metric, "kind": kind, "value": round(value, 10), "threshold": threshold,
            "direction": direction, "passed": bool(ok), "note": note}


def _value(metrics: dict[str, Any], name: str) -> float | None | str:
    v = metrics.get(name)
    if v is None:
        return None
    if not _num(v) or not math.isfinite(v):
        return f"not a finite number ({v!r})"
    return float(v)


def _gate_entries(name: str, d: dict[str, Any], tier: str, metrics: dict[str, Any], overrides: dict[str, float],
                  baseline: dict[str, Any] | None) -> list[dict[str, Any]]:
    entries = []
    direction, value = d["direction"], _value(metrics, name)
    source = " (from --metric)" if name in overrides else ""
    if tier in d["thresholds"]:
        thr = d["thresholds"][tier]
        if isinstance(value, str):  # present but unusable (NaN, text): a failure, not a skip
            e = {**_entry(name, name, "threshold", None, thr, direction, f"{name} is {value}"), "passed": False}
        elif value is None:
            e = _entry(name, name, "threshold", None, thr, direction,
                       f"skipped: no value for {name} (metrics.json has none; supply --metric {name}=VALUE)")
        else:
            e = _entry(name, name, "threshold", value, thr, direction,
                       f"{value:.6g} {'>=' if direction == 'min' else '<='} {thr:g} required{source}")
            if not e["passed"]:
                e["note"] = f"{value:.6g} {'<' if direction == 'min' else '>'} {thr:g}: {'below' if direction == 'min' else 'above'} the {tier} threshold{source}"
        entries.append(e)
    if tier in d["max_regression"]:
        allowed, rname = d["max_regression"][tier], name + REGRESSION
        base = _value(baseline or {}, name) if baseline is not None else None
        if baseline is None:
            entries.append(_entry(rname, name, "regression", None, allowed, "max", "skipped: no baseline to compare with"))
        elif not isinstance(base, float):
            entries.append(_entry(rname, name, "regression", None, allowed, "max",
                                  f"skipped: the baseline has no usable {name}"))
        elif not isinstance(value, float):
            entries.append(_entry(rname, name, "regression", None, allowed, "max", f"skipped: no value for {name}"))
        else:
            worse = (base - value) if direction == "min" else (value - base)
            verb = ("dropped" if direction == "min" else "rose") if worse > EPS else \
                "improved" if worse < -EPS else "unchanged"
            amount = f" {abs(worse):.6g}" if verb != "unchanged" else ""
            entries.append(_entry(rname, name, "regression", worse, allowed, "max",
                                  f"{name} {verb}{amount} vs baseline ({base:.6g} -> {value:.6g}); "
                                  f"allowed {'drop' if direction == 'min' else 'rise'} {allowed:g}{source}"))
    return entries


def scorecard(root: Path, run_metrics: dict[str, float], tier: str, baseline_metrics: dict[str, float] | None, *,
              run_id: str | None = None, baseline_id: str | None = None, strict: bool = False,
              overrides: dict[str, float] | None = None, task: str | None = None,
              run_fingerprint: str | None = None, baseline_fingerprint: str | None = None,
              defs: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Evaluate every gate of params.yaml at `tier`. `overrides` replace/supply run metric values;
    `task` (when given) drops gates restricted to another task. Never raises for a failed gate."""
    check_tier(tier)
    defs = load(root) if defs is None else defs
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(defs))
    if unknown:
        raise UsageError(f"--metric {unknown[0]}: no gate defines {unknown[0]!r}")
    applicable = {n: d for n, d in defs.items() if task is None or d["task"] in (None, task)}
    metrics = {**(run_metrics or {}), **overrides}
    entries = [e for n in sorted(applicable)
               for e in _gate_entries(n, applicable[n], tier, metrics, overrides, baseline_metrics)]
    if not entries:
        raise UsageError(f"no gate in params.yaml applies at tier {tier!r}"
                         + (f" to task {task!r}" if task else "") + ": nothing to decide")
    skipped = [e for e in entries if e["passed"] is None]
    if strict:
        for e in skipped:
            e["passed"] = False
            e["note"] += " -- fails: --strict"
    failed = [e["name"] for e in entries if e["passed"] is False]
    passed = sum(1 for e in entries if e["passed"] is True)
    inputs = {"schema": SCHEMA, "tier": tier, "strict": bool(strict), "gates": applicable,
              "overrides": overrides, "run_metrics": run_metrics or {}, "baseline_metrics": baseline_metrics,
              "run_fingerprint_sha256": run_fingerprint, "baseline_fingerprint_sha256": baseline_fingerprint}
    summary = f"{passed} passed, {len(failed)} failed, {len(skipped)} skipped"
    if skipped:
        summary += " (--strict: skipped gates fail)" if strict else " (no value: not checked)"
    return {
        "schema": SCHEMA, "tier": tier, "overall_passed": not failed, "run_id": run_id, "baseline_id": baseline_id,
        "run_fingerprint_sha256": run_fingerprint, "baseline_fingerprint_sha256": baseline_fingerprint,
        "inputs_sha256": json_sha256(inputs), "strict": bool(strict), "overrides": overrides,
        "skipped": len(skipped), "failed": failed, "summary": summary, "gates": entries,
    }


def _reference(root: Path, reference_id: str, run_fp: dict[str, Any], run_metrics: dict[str, Any]) -> dict[str, Any]:
    ref = artifacts.resolve(root, reference_id)
    if ref.kind != "reference":
        raise UsageError(f"--reference {reference_id}: {reference_id!r} is a {ref.kind}, not a reference")
    fp, metrics_file = compare.checked(ref)
    out: dict[str, Any] = {"id": ref.id, "quality": ref.quality, "path": ref.path, "informational": True}
    reasons = compare.comparability(run_fp, fp)
    out["comparable"], out["reasons"] = not reasons, reasons
    out["deltas"] = [] if reasons else [
        {"metric": d["metric"], "value": d["b"], "reference": d["a"], "delta": d["delta"]}
        for d in compare.metric_deltas(metrics_file["metrics"], run_metrics)]
    return out


def gate(root: Path, run_name: str, baseline_id: str | None, tier: str, metric_args: list[str] | None = None,
         output: Path | None = None, strict: bool = False, reference_id: str | None = None) -> dict[str, Any]:
    """`ledger gate`: everything is validated before anything is written; then the scorecard is
    persisted under data/eval/scorecards/ (and to `output`). The caller maps overall_passed to exit 0/1."""
    check_tier(tier)
    defs = load(root)
    if not defs:
        raise UsageError("params.yaml defines no `gates:`: nothing to decide")
    overrides = parse_overrides(metric_args, defs)
    if not baseline_id:
        raise UsageError("--baseline ID is required (a promoted baseline; see `ledger list`)")
    run = artifacts.resolve(root, run_name)
    try:
        base = artifacts.resolve(root, baseline_id)
    except NotFound:
        raise NotFound(f"--baseline {baseline_id}: no promoted baseline with this id (see `ledger list`)") from None
    if base.kind != "baseline":
        raise UsageError(f"--baseline {baseline_id}: {baseline_id!r} is a {base.kind}, not a promoted baseline")
    run_fp, run_m = compare.checked(run)
    base_fp, base_m = compare.checked(base)
    compare.check_comparable(f"run {run.id}", run_fp, f"baseline {base.id}", base_fp)
    ref = _reference(root, reference_id, run_fp, run_m["metrics"]) if reference_id else None
    out_path = scorecard_store.check_output(output) if output is not None else None
    card = scorecard(root, run_m["metrics"], tier, base_m["metrics"], run_id=run.id, baseline_id=base.id,
                     strict=strict, overrides=overrides, task=run_m.get("task"), defs=defs,
                     run_fingerprint=run_fp["fingerprint_sha256"], baseline_fingerprint=base_fp["fingerprint_sha256"])
    card["run_kind"], card["task"] = run.kind, run_m.get("task")
    card["reference"] = ref
    card["scorecard_path"] = scorecard_store.save(root, run.id, card)
    if out_path is not None:
        scorecard_store.write(out_path, card)
        card["output"] = str(out_path)
    return card


def render(card: dict[str, Any]) -> str:
    """Plain-text scorecard (the CLI prints it)."""
    verdict = "PASSED" if card["overall_passed"] else "FAILED"
    lines = [f"gate {card.get('run_id')} vs baseline {card.get('baseline_id')} (tier {card['tier']}"
             f"{', strict' if card.get('strict') else ''}): {verdict} -- {card['summary']}"]
    width = max(len(e["name"]) for e in card["gates"])
    for e in card["gates"]:
        mark = "SKIP" if e["passed"] is None else "PASS" if e["passed"] else "FAIL"
        lines.append(f"  {mark}  {e['name']:<{width}}  {e['note']}")
    ref = card.get("reference")
    if ref:
        head = f"reference {ref['id']} ({ref['quality']}, informational, does not change the result)"
        if not ref["comparable"]:
            lines.append(f"{head}: not comparable: {'; '.join(ref['reasons'])}")
        else:
            lines.append(f"{head}:")
            lines += [f"  {d['metric']:<{width}}  {d['value']} vs {d['reference']}"
                      + ("" if d["delta"] is None else f"  ({d['delta']:+.6g})") for d in ref["deltas"]]
    lines.append(f"scorecard: {card.get('scorecard_path')}" + (f", {card['output']}" if card.get("output") else "")
                 + f"  (inputs_sha256 {card['inputs_sha256'][:12]})")
    return "\n".join(lines)
