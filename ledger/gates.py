"""Scorecard gates defined in params.yaml (`gates:`), evaluated for one run at one tier.

    tiers: [smoke, release]          # optional: the tier names; without it, those the gates use
    gates:
      token_f1:                      # the metric name in metrics.json (or supplied with --metric)
        direction: min               # min: value >= threshold; max: value <= threshold
        thresholds: {base: 0.2, first_sft: 0.3, future: 0.45}   # a tier left out: not gated there
        max_regression: 0.05         # optional (number or per-tier mapping): worst allowed move
                                     # against the baseline (a drop for min, a rise for max)
        task: summarization          # optional: applies to runs of this task only
        required: true               # optional: a missing value fails instead of being skipped
        description: ...             # optional, free text

A gate whose value is missing is listed as skipped (never silently passed); `strict` makes it fail.
Without a baseline, regression gates are not applicable (shown, not counted). A scorecard in
which nothing was checked fails. `--metric`/`--metrics-from` supply missing values; replacing a
measured value needs `--override` and is shown as an override everywhere.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from . import artifacts, compare, scorecard_store
from .errors import NotFound, UsageError
from .hashing import json_sha256
from .gate_inputs import metrics_from, parse_overrides, supply
from .runs import load_params

DIRECTIONS = ("min", "max")
SCHEMA = "ledger.scorecard/1"
REGRESSION = ".regression"
EPS = 1e-9  # float noise must not flip a gate sitting exactly on its threshold
_KEYS = {"direction", "thresholds", "max_regression", "task", "description", "required"}
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")


def _num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def tiers_of(params: dict[str, Any]) -> tuple[str, ...] | None:
    """params.yaml `tiers:` (a list of names), or None when the gates' own tier names decide."""
    raw = params.get("tiers")
    if raw is None:
        return None
    if not isinstance(raw, list) or not raw or not all(isinstance(t, str) and _NAME.fullmatch(t) for t in raw):
        raise UsageError("params.yaml: `tiers` must be a list of tier names, e.g. [smoke, release]")
    return tuple(raw)


def _per_tier(name: str, key: str, value: Any, *, nonneg: bool, tiers: tuple[str, ...] | None,
              universe: tuple[str, ...]) -> dict[str, float]:
    """tier -> number; `tiers` = params.yaml `tiers:` (None: any name), `universe` = the tiers a
    single number applies to (declared, else every tier some gate names)."""
    where = f"params.yaml: gates.{name}.{key}"
    if _num(value):
        if not universe:
            raise UsageError(f"{where}: a single number applies to every tier, and no gate names one: "
                             "list them under `tiers:` in params.yaml, or give a mapping of tier -> number")
        value = {t: value for t in universe}
    if not isinstance(value, dict):
        raise UsageError(f"{where} must be a number or a mapping of tier -> number")
    out = {}
    for tier, v in value.items():
        if not isinstance(tier, str) or not _NAME.fullmatch(tier):
            raise UsageError(f"{where}: {tier!r} is not a tier name")
        if tiers is not None and tier not in tiers:
            raise UsageError(f"{where}: unknown tier {tier!r} (params.yaml tiers: {', '.join(tiers)})")
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
    tiers = tiers_of(params)
    universe = tiers or tuple(sorted({str(t) for spec in raw.values() if isinstance(spec, dict)
                                      for key in ("thresholds", "max_regression")
                                      if isinstance(spec.get(key), dict) for t in spec[key]}))
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
        if not isinstance(spec.get("required", False), bool):
            raise UsageError(f"params.yaml: gates.{name}.required must be true or false")
        defs[name] = {
            "direction": spec["direction"],
            "thresholds": _per_tier(name, "thresholds", spec.get("thresholds") or {}, nonneg=False,
                                    tiers=tiers, universe=universe),
            "max_regression": _per_tier(name, "max_regression", spec["max_regression"], nonneg=True,
                                        tiers=tiers, universe=universe)
            if spec.get("max_regression") is not None else {},
            "task": task,
        }
        if spec.get("required"):
            defs[name]["required"] = True
    return defs


def known_tiers(params: dict[str, Any]) -> tuple[str, ...]:
    declared = tiers_of(params)
    if declared is not None:
        return declared
    defs = definitions(params)
    return tuple(sorted({t for d in defs.values() for t in (*d["thresholds"], *d["max_regression"])}))


def load(root: Path) -> dict[str, dict[str, Any]]:
    return definitions(load_params(root))


def check_tier(tier: str, root: Path | None = None, params: dict[str, Any] | None = None) -> str:
    """`tier` must be one params.yaml defines (the workspace's, or the given parsed params)."""
    known = known_tiers(load_params(root) if params is None else params)
    if tier not in known:
        raise UsageError(f"unknown tier {tier!r}: " + (f"use one of {', '.join(known)}" if known else
                                                      "params.yaml defines no tiers (no gates)"))
    return tier


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


def _gate_entries(name: str, d: dict[str, Any], tier: str, metrics: dict[str, Any], sources: dict[str, str],
                  baseline: dict[str, Any] | None) -> list[dict[str, Any]]:
    entries = []
    direction, value = d["direction"], _value(metrics, name)
    source = {"supplied": " (supplied, not measured)", "override": " (OVERRIDE of the measured value)"
              }.get(sources.get(name, ""), "")
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
            entries.append({**_entry(rname, name, "regression", None, allowed, "max",
                                     "not applicable: no baseline to compare with"), "applicable": False})
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
    for e in entries:
        if name in sources:
            e["source"] = sources[name]
        if d.get("required") and e["passed"] is None and e.get("applicable", True):
            e["passed"], e["note"] = False, e["note"] + " -- fails: required gate"
    return entries


def _hashable(metrics: dict[str, Any] | None) -> dict[str, Any] | None:
    """Metrics as they enter inputs_sha256: NaN/inf (from an edited metrics.json) as text."""
    if metrics is None:
        return None
    return {k: v if not isinstance(v, float) or math.isfinite(v) else repr(v) for k, v in metrics.items()}


def scorecard(root: Path, run_metrics: dict[str, float], tier: str, baseline_metrics: dict[str, float] | None, *,
              run_id: str | None = None, baseline_id: str | None = None, strict: bool = False,
              overrides: dict[str, float] | None = None, task: str | None = None,
              run_fingerprint: str | None = None, baseline_fingerprint: str | None = None,
              defs: dict[str, dict[str, Any]] | None = None, override: bool = False,
              extra_inputs: dict[str, str] | None = None, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Evaluate every gate of params.yaml at `tier`. `overrides` supply run metric values (replacing
    a measured one only with `override`); `task` (when given) drops gates restricted to another
    task. Never raises for a failed gate. Nothing checked = not passed."""
    check_tier(tier, root, params)
    defs = load(root) if defs is None else defs
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(defs))
    if unknown:
        raise UsageError(f"--metric {unknown[0]}: no gate defines {unknown[0]!r}")
    applicable = {n: d for n, d in defs.items() if task is None or d["task"] in (None, task)}
    sources = supply(run_metrics or {}, overrides, override)
    metrics = {**(run_metrics or {}), **overrides}
    entries = [e for n in sorted(applicable)
               for e in _gate_entries(n, applicable[n], tier, metrics, sources, baseline_metrics)]
    if not entries:
        raise UsageError(f"no gate in params.yaml applies at tier {tier!r}"
                         + (f" to task {task!r}" if task else "") + ": nothing to decide")
    skipped = [e for e in entries if e["passed"] is None and e.get("applicable", True)]
    not_applicable = [e for e in entries if e.get("applicable") is False]
    if strict:
        for e in skipped:
            e["passed"] = False
            e["note"] += " -- fails: --strict"
    failed = [e["name"] for e in entries if e["passed"] is False]
    passed = sum(1 for e in entries if e["passed"] is True)
    inputs = {"schema": SCHEMA, "tier": tier, "strict": bool(strict), "gates": applicable,
              "overrides": overrides, "run_metrics": _hashable(run_metrics or {}),
              "baseline_metrics": _hashable(baseline_metrics),
              "run_fingerprint_sha256": run_fingerprint, "baseline_fingerprint_sha256": baseline_fingerprint}
    if extra_inputs:
        inputs["metrics_from"] = extra_inputs
    summary = f"{passed} passed, {len(failed)} failed, {len(skipped)} skipped"
    if not_applicable:
        summary += f", {len(not_applicable)} not applicable"
    if skipped:
        summary += " (--strict: skipped gates fail)" if strict else " (no value: not checked)"
    if not passed and not failed:
        summary += " -- nothing was checked: not passed"
    return {
        "schema": SCHEMA, "tier": tier, "overall_passed": not failed and passed > 0, "run_id": run_id,
        "baseline_id": baseline_id,
        "run_fingerprint_sha256": run_fingerprint, "baseline_fingerprint_sha256": baseline_fingerprint,
        "inputs_sha256": json_sha256(inputs), "strict": bool(strict), "overrides": overrides,
        "sources": sources, "metrics_from": extra_inputs or {},
        "skipped": len(skipped), "not_applicable": len(not_applicable), "failed": failed, "summary": summary,
        "gates": entries,
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
         output: Path | None = None, strict: bool = False, reference_id: str | None = None,
         override: bool = False, metrics_files: list[str] | None = None) -> dict[str, Any]:
    """`ledger gate`: everything is validated before anything is written; then the scorecard is
    persisted under data/eval/scorecards/ (and to `output`). The caller maps overall_passed to exit 0/1.
    Without a baseline only absolute thresholds are checked (regression gates: not applicable)."""
    params = load_params(root)  # read once: definitions, tiers and the scorecard all use it
    defs = definitions(params)
    if not defs:
        raise UsageError("params.yaml defines no `gates:`: nothing to decide")
    check_tier(tier, params=params)
    overrides = parse_overrides(metric_args, defs)
    from_files, digests = metrics_from(metrics_files)
    for name, value in from_files.items():
        if name in defs and name not in overrides:
            overrides[name] = value
    run = artifacts.resolve(root, run_name)
    base = base_fp = base_m = None
    if baseline_id:
        try:
            base = artifacts.resolve(root, baseline_id)
        except NotFound:
            raise NotFound(f"--baseline {baseline_id}: no promoted baseline with this id (see `ledger list`)") from None
        if base.kind != "baseline":
            raise UsageError(f"--baseline {baseline_id}: {baseline_id!r} is a {base.kind}, not a promoted baseline")
    run_fp, run_m = compare.checked(run)
    if base is not None:
        base_fp, base_m = compare.checked(base)
        compare.check_comparable(f"run {run.id}", run_fp, f"baseline {base.id}", base_fp)
    ref = _reference(root, reference_id, run_fp, run_m["metrics"]) if reference_id else None
    out_path = scorecard_store.check_output(output) if output is not None else None
    card = scorecard(root, run_m["metrics"], tier, base_m["metrics"] if base_m else None, run_id=run.id,
                     baseline_id=base.id if base else None, strict=strict, overrides=overrides,
                     task=run_m.get("task"), defs=defs, override=override, extra_inputs=digests, params=params,
                     run_fingerprint=run_fp["fingerprint_sha256"],
                     baseline_fingerprint=base_fp["fingerprint_sha256"] if base_fp else None)
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
    against = f"vs baseline {card['baseline_id']}" if card.get("baseline_id") else "(no baseline: absolute thresholds)"
    lines = [f"gate {card.get('run_id')} {against} (tier {card['tier']}"
             f"{', strict' if card.get('strict') else ''}): {verdict} -- {card['summary']}"]
    width = max(len(e["name"]) for e in card["gates"])
    for e in card["gates"]:
        mark = ("N/A " if e.get("applicable") is False else "SKIP") if e["passed"] is None else \
            "PASS" if e["passed"] else "FAIL"
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
