"""One function per CLI command. Library code: never prints, raises LedgerError subclasses."""

from __future__ import annotations

import json
from pathlib import Path

from . import layout
from .errors import LedgerError, NotFound, UsageError
from .gitops import Git, find_root

TYPE_CHECKING = False  # annotations only: importing typing costs `ledger list`/`log` ~1.3 ms
if TYPE_CHECKING:
    from typing import Any


def root_of(start: str | Path | None = None) -> Path:
    return find_root(start)


def init(root: Path, samples: bool = False, remote: str | None = None) -> list[str]:
    from . import bootstrap

    done = bootstrap.init(root, samples, remote, Path.cwd())
    return done + bootstrap.NEXT_STEPS if done else done


def run_add(root: Path, run_id: str, config: str, dataset: str, code: str | None = None) -> dict[str, str]:
    from . import runs

    return runs.add_run(root, run_id, config, dataset, code)


def run_rm(root: Path, run_id: str) -> None:
    from . import runs

    runs.drop_run(root, run_id)


def promote(root: Path, run_id: str, role: str, promoted_id: str, reason: str,
            quality: str | None = None, unsigned: bool = False, push: bool = False) -> dict[str, Any]:
    from . import promote as _promote

    return _promote.promote(root, run_id, role, promoted_id, reason, quality, unsigned, push=push)


def verify(root: Path, rng: str | None = None, signers_rev: str | None = None,
           allow_unsigned: bool = False, data: bool = False) -> dict[str, Any]:
    from . import txn
    from .audit import verify as _verify

    # Read-only: waits for a live promotion, never recovers one (that is `ledger recover`'s).
    pending = None
    with txn.no_live_promotion(root):
        if rng is None:
            pending = txn.pending(root)
        findings = _verify.verify(root, rng, signers_rev, allow_unsigned, data=data)
    dirs = [f for f in findings if not f.elsewhere and not f.promoted_id.startswith("deploy/")]
    return {"ok": not pending and all(f.ok for f in findings), "checked": len(dirs), "pending": pending,
            "cached": sum(f.cached for f in findings), "results": [f.as_dict() for f in findings]}


def recover(root: Path, discard: bool = False) -> str | None:
    """Finish or undo an interrupted promotion (refused when the repository moved on since)."""
    from . import txn

    with txn.locked(root):
        return txn.recover(root, discard)


def promotions(root: Path, only: str | None = None) -> list[dict[str, Any]]:
    """Every promotion (or the tags claiming the id `only`), from the tags (one for-each-ref:
    fast for thousands), each with its whole record."""
    from .audit.listing import entry
    from .audit.promoted import tags

    return _by_date([entry(t) for t in tags(Git(root), only)])


def promotion_rows(root: Path) -> list[dict[str, Any]]:
    """Every promotion as `ledger list` prints it as text: the fields shown of each record, the
    rows of tags seen before remembered by tag object id (audit/listing.py)."""
    from .audit.listing import rows

    return _by_date(rows(Git(root), layout.TAG_PREFIX))


def list_items(root: Path, with_runs: bool = False, whole: bool = False) -> list[dict[str, Any]]:
    """What `ledger list` prints: the promotions (`whole`: each with its whole record, as
    --json prints them; else the fields the text shows), with_runs the runs in the workspace,
    then the deployment aliases."""
    found = promotions(root) if whole else promotion_rows(root)
    return found + (workspace_runs(root) if with_runs else []) + aliases(root)


def _by_date(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(found, key=lambda r: (r.get("promoted_at") or "", r["promoted_id"]))


def untagged_dirs(root: Path) -> int:
    """Promoted directories at HEAD when the clone has no promotion tags at all (else 0)."""
    git = Git(root)
    if git.has_refs(f"refs/tags/{layout.TAG_PREFIX}") or git.head() is None:
        return 0
    from .audit.promoted import enumerate_at

    return len(enumerate_at(git, str(git.head()))[0])


def log(root: Path, limit: int | None = None) -> list[dict[str, Any]]:
    """The promotion audit trail, newest first by tag date (git's order), from the tags: only
    those not seen before are read (rows remembered by tag object id, audit/listing.py). Each
    entry: id, role, quality, run, promoted_at, promoted_by, reason, tag, commit, signed,
    verified (always False: `ledger verify` proves), and invalid when it carries no record."""
    if limit is not None and limit < 1:
        raise UsageError(f"--limit must be a positive number, not {limit}")
    from .audit.listing import newest_first

    return newest_first(Git(root), layout.TAG_PREFIX, limit)


def workspace_runs(root: Path) -> list[dict[str, Any]]:
    from .runs import declared_runs

    result = []
    for run_id, entry in sorted(declared_runs(root).items()):
        run_path = root / layout.run_dir(str(run_id))
        metrics_file = run_path / "metrics.json"
        info: dict[str, Any] = {"run_id": run_id, "role": "run", "path": layout.run_dir(str(run_id)),
                                "config": (entry or {}).get("config"), "materialized": metrics_file.exists()}
        if metrics_file.exists():
            try:  # a file the user can edit: a broken one is reported on its row, never a crash
                metrics = json.loads(metrics_file.read_bytes().decode("utf-8"))
                if not isinstance(metrics, dict) or not isinstance(metrics.get("metrics", {}), dict):
                    raise ValueError("not a metrics object")
                info["task"] = metrics.get("task")
                info["metrics"] = metrics.get("metrics", {})
            except (OSError, ValueError, RecursionError) as exc:
                info["unreadable"] = f"{info['path']}/metrics.json is unreadable ({exc.__class__.__name__})"
        info["gate"] = _gate_status(root, run_path, str(run_id))
        result.append(info)
    return result


def show(root: Path, promoted_id: str) -> dict[str, Any]:
    layout.check_id(promoted_id, "promoted id")
    found = [p for p in promotions(root, only=promoted_id) if p["promoted_id"] == promoted_id]
    if not found:
        raise NotFound(f"no promotion with id {promoted_id!r} (see `ledger list`)")
    record = found[0]
    from .audit import verify as _verify

    findings = [f for f in _verify.verify(root, only=promoted_id) if f.promoted_id == promoted_id]
    ok = bool(findings) and all(f.ok and not f.elsewhere for f in findings)
    record["verify"] = findings[0].as_dict() if findings else None
    if len(findings) > 1:
        record["verify"]["problems"] = [p for f in findings for p in f.problems]
        record["verify"]["ok"] = ok
    # Who promoted it, for people: the principal whose signature verified, not the tag's claim.
    record["promoted_by_claimed"] = record.get("promoted_by")
    record["promoted_by"] = findings[0].signer if ok else None
    record["verified"] = ok
    record["aliases"] = [a for a in aliases(root) if a.get("holder") == promoted_id]
    if ok and record.get("path"):
        from .audit.promoted import real_dir

        try:
            baseline = real_dir(root, str(findings[0].path)) / "baseline.json"
            record["baseline_json"] = json.loads(baseline.read_text())
        except (LedgerError, OSError, ValueError):
            pass
    return record


def review(root: Path, rng: str | None = None, fmt: str = "markdown", tier: str | None = None
           ) -> tuple[dict[str, Any], str]:
    """The PR report for promotion commits in BASE..HEAD: (report, rendered text)."""
    from . import review as _review
    from . import review_md

    _review.check_format(fmt)
    report = _review.review(root, rng, tier)
    text = review_md.render(report) if fmt == "markdown" else json.dumps(report, indent=2, sort_keys=True, default=str)
    return report, text


def score(root: Path, run: str, reference: str) -> dict[str, Any]:
    """Reference-based metrics (ROUGE, entity P/R/F1) of a run or promoted id against a reference."""
    from . import score as _score

    return _score.score(root, run, reference)


def reproduce(root: Path, promoted_id: str) -> dict[str, Any]:
    """Re-run a promoted run at its recorded commit in a scratch worktree; compare output digests."""
    from . import reproduce as _reproduce

    return _reproduce.reproduce(root, promoted_id)


def pull(root: Path, ids: list[str]) -> dict[str, Any]:
    """Predictions of verified promotions into the working tree (promoted dirs are .dvcignore'd)."""
    from . import pull as _pull

    return _pull.pull(root, ids)


def _gate_status(root: Path, run_path: Path, run_id: str) -> dict[str, Any]:
    """Latest `ledger gate` result of a workspace run (data/eval/scorecards/<run_id>.json)."""
    from . import scorecard_store

    fp_sha = None
    try:
        fp_sha = json.loads((run_path / "fingerprint.json").read_text()).get("fingerprint_sha256")
    except (OSError, ValueError, AttributeError):
        pass
    return scorecard_store.status(root, run_id, fp_sha)


def compare(root: Path, a: str, b: str) -> tuple[dict[str, Any], str]:
    """Two runs or promoted ids: refuses (NotComparable) unless suite, data md5s and evaluator match;
    otherwise (report, rendered text) with metric deltas, params diff, env diff, commits between."""
    from . import compare as _compare

    report = _compare.compare(root, a, b)
    return report, _compare.render(report)


def gate(root: Path, run: str, baseline: str | None, tier: str, metrics: list[str] | None = None,
         output: str | Path | None = None, strict: bool = False, reference: str | None = None,
         override: bool = False, metrics_from: list[str] | None = None) -> tuple[dict[str, Any], str]:
    """Scorecard of a run at a tier against a promoted baseline, persisted under data/eval/scorecards/:
    (scorecard, rendered text). overall_passed False = exit 1 for the caller."""
    from . import gates as _gates

    card = _gates.gate(root, run, baseline, tier, metrics, Path(output) if output else None, strict, reference,
                       override, metrics_from)
    return card, _gates.render(card)


def approve(root: Path, promoted_id: str, reason: str = "") -> dict[str, Any]:
    from . import approve as _approve

    return _approve.approve(root, promoted_id, reason)


def adopt(root: Path, source: str, push: bool = False) -> dict[str, Any]:
    from . import adopt as _adopt

    return _adopt.adopt(root, source, push)


def query(root: Path, wheres: list[str]) -> list[dict[str, Any]]:
    """Promotions and workspace runs matching every `--where` expression (query.py)."""
    from . import query as _query

    return _query.select(root, promotions(root) + workspace_runs(root), wheres)


def assign(root: Path, alias: str, promoted_id: str | None, tier: str, limitation: str,
           rollback: str | None = None) -> dict[str, Any]:
    from . import assign as _assign

    return _assign.assign(root, alias, promoted_id, tier, limitation, rollback)


def aliases(root: Path) -> list[dict[str, Any]]:
    """The current holder of each deployment alias, from the deploy/ tags (not verified here)."""
    from .audit import assignments

    return [{"role": "alias", **a} for a in assignments.table(Git(root))]


def report(root: Path, out_dir: str, rng: str | None = None, tier: str | None = None) -> dict[str, Any]:
    """`ledger report --html DIR`: one self-contained page (report/)."""
    from .report import data, html

    if not (out_dir or "").strip():
        raise UsageError("--html: name the directory to write index.html into")
    collected = data.collect(root, rng, tier)
    path = html.write(Path(out_dir), html.render(collected))
    return {"path": str(path), "promotions": len(collected["timeline"]),
            "in_range": len(collected["review"].get("promotions") or [])}
