"""Thin typer CLI over ledger.api. Errors: one red line on stderr + the error's exit code."""

from __future__ import annotations

import sys
from typing import List, Optional

import typer

from . import api, progress
from .errors import CheckFailed, LedgerError
from .output import emit, empty_hint, fail, fail_for, list_text, log_text, printable

app = typer.Typer(add_completion=True, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  context_settings={"help_option_names": ["-h", "--help"]},
                  help="Git-native artifact ledger for ML/LLM evaluation, built on DVC.")


def _version(value: bool) -> None:
    if value:
        from importlib import metadata

        typer.echo(f"ledger {metadata.version('ledger')}")
        raise typer.Exit()


@app.callback()
def _options(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                          help="Print ledger's version and exit.")) -> None:
    """Git-native artifact ledger for ML/LLM evaluation, built on DVC."""


def _root():
    return api.root_of()


@app.command()
def init(samples: bool = typer.Option(False, "--samples", help="Install and `dvc add` the sample datasets."),
         remote: Optional[str] = typer.Option(
             None, "--remote", metavar="PATH_OR_URL",
             help="Default DVC remote (`store`, in .dvc/config): a directory or a URL such as s3://bucket/path. "
                  "Without it, when no default remote is configured: the directory <repo>/../<repo-name>.dvc-store "
                  "(stored relative, so clones next to each other share it). Credentials: `dvc remote modify --local`.")):
    """Make this git repository a ledger evaluation project: DVC, dvc.yaml stages, params.yaml runs,
    data/eval/ layout, an example config, allowed_signers, the PR workflow. Never overwrites a file."""
    for line in api.init(_root(), samples, remote) or ["already initialised"]:
        typer.echo(line)


run_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Declare or drop evaluation runs in params.yaml.")
app.add_typer(run_app, name="run")


@run_app.command("add")
def run_add(run_id: str = typer.Argument(..., metavar="RUN_ID", help="New run id: [a-z0-9_-] (no '.': DVC reads it as nesting)."),
            config: str = typer.Option(..., "--config", metavar="PATH", help="The run config (task, provider, metrics)."),
            dataset: str = typer.Option(..., "--dataset", metavar="PATH", help="The dataset: JSONL, one case per line."),
            code: Optional[str] = typer.Option(None, "--code", metavar="PATH", help="File or directory of your provider/scorer "
                                               "code and model files (a DVC dependency); default: what the "
                                               "config's provider runs, else the config itself."),
            as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")):
    """Declare a run under `runs:` in params.yaml (comments kept); `dvc repro` then executes it."""
    entry = api.run_add(_root(), run_id, config, dataset, code)
    emit(entry, as_json, f"declared run {run_id} (config {entry['config']}, dataset {entry['dataset']}, "
                         f"code {entry['code']}): `dvc repro` runs it")


@run_app.command("rm")
def run_rm(run_id: str = typer.Argument(..., metavar="RUN_ID", help="A run declared in params.yaml.")):
    """Drop a run from params.yaml (its outputs go with the next `dvc repro`/`dvc gc`)."""
    api.run_rm(_root(), run_id)
    typer.echo(f"dropped run {run_id} from params.yaml")


@app.command()
def promote(
    run_id: str = typer.Argument(..., metavar="RUN_ID", help="Run id under data/eval/runs/."),
    role: str = typer.Option(..., "--as", metavar="ROLE", help="baseline | reference"),
    promoted_id: str = typer.Option(..., "--id", metavar="ID", help="Immutable id: [a-z0-9][a-z0-9._-]{0,99}; "
                                    "GTO and `dvc artifacts` name it only without '.' and ending in a letter or digit"),
    reason: str = typer.Option(..., "--reason", metavar="TEXT", help="Why this run gets this role (one line)."),
    quality: Optional[str] = typer.Option(None, "--quality", metavar="QUALITY", help="silver | gold (references only)"),
    unsigned: bool = typer.Option(False, "--unsigned", help="Create an unsigned tag (verify reports it)."),
    push: bool = typer.Option(False, "--push", help="Then push the predictions to the default DVC remote and the "
                              "commit + tag to origin in one atomic git push; if origin rejects it (id already "
                              "promoted there, branch moved) the local promotion is rolled back."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
):
    """Promote a run: one commit moving its outputs + one signed annotated tag."""
    record = api.promote(_root(), run_id, role, promoted_id, reason, quality, unsigned, push)
    pushed = record.get("pushed")
    from .audit import gto

    gto_line = f"GTO: {record['gto_tag']}" if record.get("gto_tag") else gto.unnamed_note(record["promoted_id"])
    emit(record, as_json, f"promoted {run_id} -> {record['path']} "
          f"(commit {record['commit'][:12]}, tag {record['tag']}{'' if record['signed'] else ', UNSIGNED'})"
          f"\n{gto_line}"
          + (f"\npushed to {pushed['git_remote']}/{pushed['branch']} and DVC remote {pushed['dvc_remote']}"
             if pushed else "")
          + (f"\nthe policy wants {record['approvals_needed']} more signer(s): "
             f"`ledger approve {record['promoted_id']}` by another allowed signer" if record.get("approvals_needed") else ""))


@app.command()
def approve(
    promoted_id: str = typer.Argument(..., metavar="PROMOTED_ID", help="The promotion to approve."),
    reason: str = typer.Option("", "--reason", metavar="TEXT", help="Why you approve it (one line)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
):
    """Sign a promotion as a further signer (policy rules with `approvals: N`): a signed tag
    approval/<id>/<your email> bound to that exact promotion tag."""
    r = api.approve(_root(), promoted_id, reason)
    emit(r, as_json, f"approved {promoted_id} as {r['approved_by']} (tag {r['tag']})"
         + (f"; {r['still_needed']} more signer(s) needed" if r["still_needed"] else "; the policy is satisfied"))


@app.command()
def assign(
    alias: str = typer.Argument(..., metavar="ALIAS", help="Deployment alias, e.g. canary or prod."),
    promoted_id: Optional[str] = typer.Argument(None, metavar="[ID]", help="The promoted baseline; without it, "
                                                "the one verified baseline that passes at --tier."),
    tier: str = typer.Option(..., "--tier", metavar="TIER", help="The gates it must pass (params.yaml tiers)."),
    limitation: str = typer.Option(..., "--limitation", metavar="TEXT", help="What it is known not to do (one line)."),
    rollback: Optional[str] = typer.Option(None, "--rollback", metavar="ID",
                                           help="Baseline to roll back to (default: the alias's current holder)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
):
    """Assign a promoted baseline to a deployment alias: a signed tag deploy/<alias>/<n> recording
    the scorecard it passed, its rollback target and its limitation."""
    r = api.assign(_root(), alias, promoted_id, tier, limitation, rollback)
    emit(r, as_json, f"{alias} -> {r['promoted_id']} (tag {r['tag']}, passed tier {r['tier']}: "
         f"{r['scorecard']['summary']}; rollback {r['rollback'] or 'none'})")


@app.command()
def report(
    html_dir: str = typer.Option(..., "--html", metavar="DIR", help="Write DIR/index.html: one self-contained page."),
    rng: Optional[str] = typer.Option(None, "--range", metavar="BASE..HEAD",
                                      help="The range whose promotions are compared with their baselines (as review)."),
    tier: Optional[str] = typer.Option(None, "--tier", metavar="TIER", help="Gate tier (default: base)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
):
    """A page people can look at: promotions timeline with verified signers, metric history, and the
    range's candidates vs their baselines (gates, what changed case by case)."""
    r = api.report(_root(), html_dir, rng, tier)
    emit(r, as_json, f"wrote {r['path']} ({r['promotions']} promotion(s), {r['in_range']} in the range)")


@app.command()
def adopt(
    source: str = typer.Argument(..., metavar="SOURCE", help="The fork: a git remote name or URL."),
    push: bool = typer.Option(False, "--push", help="Then push the adopted tags to origin (one atomic push)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
):
    """After merging a fork's pull request: take its promotion (and approval) tags, the
    contributor's own signed tag objects, that verify here; list the rest and why."""
    r = api.adopt(_root(), source, push)
    lines = [f"adopted {n}" for n in r["adopted"]] + [f"left out {x['tag']}: {x['why']}" for x in r["left_out"]]
    lines.append(f"{len(r['adopted'])} tag(s) adopted, {len(r['already_here'])} already here, "
                 f"{len(r['left_out'])} left out" + ("; pushed to origin" if r["pushed"] else ""))
    emit(r, as_json, "\n".join(lines))


@app.command()
def recover(discard: bool = typer.Option(False, "--discard", help="Drop the journal of an interrupted promotion "
                                         "and change nothing else (after inspecting a repository that moved on).")):
    """Finish or undo an interrupted promotion (a killed `ledger promote`). Refused, changing nothing, when
    the repository has moved on since the promotion was journaled."""
    done = api.recover(_root(), discard)
    typer.echo(done or "nothing to recover")


@app.command()
def verify(
    rng: Optional[str] = typer.Option(None, "--range", metavar="BASE..HEAD", help="BASE..HEAD: check only what a PR adds or changes."),
    signers_from: Optional[str] = typer.Option(None, "--signers-from", metavar="REV",
                                               help="Read .ledger/allowed_signers from this revision."),
    allow_unsigned: bool = typer.Option(False, "--allow-unsigned", help="Report unsigned promotion tags as notes instead of failures."),
    data: bool = typer.Option(False, "--data", help="Also hash each promotion's predictions in the local DVC cache "
                              "against the signed sha256 (`ledger pull` first to check what the remote holds)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
):
    """Prove every promoted dir matches its signed tag and was not touched since."""
    result = api.verify(_root(), rng, signers_from, allow_unsigned, data)
    lines = []
    if result["pending"]:
        lines.append(f"FAIL  {result['pending']}")
    for r in result["results"]:
        label = r["path"] or r["tag"]
        if r["ok"] and r["elsewhere"]:
            lines.append(f"SKIP  {r['tag']}" + "".join(f"; {n}" for n in r["notes"]))
        elif r["ok"]:
            lines.append(f"OK    {label}" + (f" (signed by {r['signer']})" if r["signer"] else "")
                         + "".join(f"; {n}" for n in r["notes"]))
        for p in r["problems"]:
            lines.append(f"FAIL  {label}: {p}")
    lines.append(f"{result['checked']} promoted dir(s) checked: " + ("all OK" if result["ok"] else "FAILED"))
    if result["cached"]:
        lines.append(f"({result['cached']} of them passed an earlier verify with the same tag, tree and signers: "
                     "only reachability and the working tree were checked again; LEDGER_VERIFY_CACHE=0 rechecks all)")
    emit(result, as_json, "\n".join(lines))
    if not result["ok"]:
        raise typer.Exit(CheckFailed.exit_code)


@app.command("list")
def list_(all_: bool = typer.Option(False, "--all", help="Also list runs in the workspace, with their latest gate result."),
          where: Optional[List[str]] = typer.Option(None, "--where", metavar="EXPR", help=(
              "Runs and promotions by provenance (repeatable, ANDed): code=REV|A..B, data=MD5|PATH, "
              "env=PACKAGE==VERSION, 'metric:NAME OP NUMBER' (OP: < <= > >= == !=).")),
          as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")):
    """List promotions (from the tags), and with --all the runs not promoted."""
    root = _root()
    if where:
        items = api.query(root, where)
        emit(items, as_json, "" if as_json else list_text(items) if items else "nothing matches")
        return
    items = api.list_items(root, all_, whole=as_json)
    emit(items, as_json, "" if as_json else empty_hint(list_text(items), 0 if items else api.untagged_dirs(root)))


@app.command()
def log(limit: Optional[int] = typer.Option(None, "--limit", help="Show only the N newest promotions."),
        as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")):
    """Promotion audit trail from the tags, newest first."""
    root = _root()
    entries = api.log(root, limit)
    emit(entries, as_json, "" if as_json else empty_hint(log_text(entries), 0 if entries else api.untagged_dirs(root)))


@app.command()
def show(promoted_id: str = typer.Argument(..., metavar="ID", help="A promoted id."), as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")):
    """Show one promotion: record, provenance, verification."""
    r = api.show(_root(), promoted_id)
    v = r.get("verify") or {}
    text = "\n".join([
        f"{r['promoted_id']}: {r['role']}{'/' + r['quality'] if r.get('quality') else ''} at {r.get('path')}",
        f"  from run     {r.get('run_id')}  (reason: {r.get('reason')})",
        f"  promoted     {r.get('promoted_at')} by "
        + (f"{r['promoted_by']} (verified signer)" if r.get("promoted_by")
           else f"UNVERIFIED (the tag claims {r.get('promoted_by_claimed')})"),
        f"  tag          {r['tag']} -> {r['commit'][:12]} ({'signed' if r['signed'] else 'UNSIGNED'})",
        f"  code commit  {r.get('code_commit')}",
        "  data         " + ", ".join(f"{k} md5 {m}" for k, m in (r.get("data") or {}).items()),
        "  metrics      " + ", ".join(f"{k}={m}" for k, m in sorted((r.get("metrics") or {}).items())),
        "  verify       " + ("OK" if v.get("ok") else "FAIL: " + "; ".join(v.get("problems", ["not checked"]))),
    ] + [f"  alias        {a['alias']} (tag {a['tag']}, tier {a['tier']}, rollback {a.get('rollback') or 'none'}; "
         f"limitation: {a['limitation']}; not verified here: `ledger verify`)" for a in r.get("aliases", [])])
    emit(r, as_json, text)


@app.command()
def review(
    rng: Optional[str] = typer.Option(None, "--range", metavar="BASE..HEAD", help="BASE..HEAD (default: from the merge-base with origin/main or main)."),
    fmt: str = typer.Option("markdown", "--format", metavar="FORMAT", help="markdown | json"),
    tier: Optional[str] = typer.Option(None, "--tier", metavar="TIER", help="Gate tier for the scorecards (default: base)."),
):
    """Pull-request report for the promotion commits in a range; exit 1 if verify fails."""
    report, text = api.review(_root(), rng, fmt, tier)
    typer.echo(printable(text))  # the PR's own words (reasons, ids): never a control character
    if not report["ok"]:
        raise typer.Exit(CheckFailed.exit_code)


@app.command()
def score(run: str = typer.Argument(..., metavar="RUN", help="Run id or promoted id to score."),
          reference: str = typer.Option(..., "--reference", metavar="ID", help="Promoted reference id (silver or gold)."),
          as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")):
    """Reference-based metrics of a run against a promoted reference (informational: exit 0)."""
    r = api.score(_root(), run, reference)
    rows = [f"{r['run']} vs reference {r['reference']} ({r['quality']}), task {r['task']}, {r['n_cases']} cases"]
    rows += [f"  {name:<22} {value}" for name, value in sorted(r["metrics"].items())]
    emit(r, as_json, "\n".join(rows))


@app.command()
def reproduce(promoted_id: str = typer.Argument(..., metavar="PROMOTED_ID", help="Promoted baseline or reference id."),
              as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")):
    """Re-run a promoted run at its recorded commit; REPRODUCED (exit 0) or DIVERGED (exit 1)."""
    r = api.reproduce(_root(), promoted_id)
    for warning in r["warnings"]:
        typer.secho(f"warning: {warning}", fg="yellow", err=True)
    if r["status"] == "FAILED":
        text = f"FAILED: {r['error']}"
    elif r["diverged"]:
        text = "\n".join(f"DIVERGED: {o['file']} expected {o['expected']} got {o['got'] or '(missing)'}"
                         for o in r["diverged"])
    else:
        text = f"REPRODUCED: {r['id']} ({r['run_id']} at {r['code_commit'][:12]}, {len(r['outputs'])} outputs match)"
    emit(r, as_json, text)
    if not r["reproduced"]:
        raise typer.Exit(CheckFailed.exit_code)


@app.command()
def pull(ids: list[str] = typer.Argument(None, metavar="[PROMOTED_ID]...", help="Promoted ids (default: every one that verifies)."),
         as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")):
    """Fetch the predictions of verified promotions from the DVC remote into their directories.

    Promoted directories are .dvcignore'd (DVC does not walk them, so promotions never slow `dvc status`);
    each object is checked against the sha256 its signed record holds before it is placed. Exit 1 if any failed."""
    r = api.pull(_root(), list(ids or []))
    rows = [f"pulled {pid}" for pid in r["pulled"]] + [f"FAILED {f['id']}: {f['why']}" for f in r["failed"]]
    rows.append(f"{len(r['pulled'])} pulled, {len(r['present'])} already present, {len(r['failed'])} failed")
    emit(r, as_json, "\n".join(rows))
    if not r["ok"]:
        raise typer.Exit(CheckFailed.exit_code)


@app.command()
def compare(a: str = typer.Argument(..., metavar="A", help="Run id or promoted id (the 'before' side)."),
            b: str = typer.Argument(..., metavar="B", help="Run id or promoted id (the 'after' side)."),
            as_json: bool = typer.Option(False, "--json", help="Machine-readable report.")):
    """Compare two runs: metric deltas (b - a), params diff, env package diff, code commits between.

    Refuses (exit 2) when they are not comparable: different suite_fingerprint (cases), dataset md5s (data) or evaluator_version."""
    report, text = api.compare(_root(), a, b)
    emit(report, as_json, text)


@app.command()
def gate(
    run: str = typer.Argument(..., metavar="RUN", help="Run id (or promoted id) to gate."),
    tier: str = typer.Option(..., "--tier", metavar="TIER", help="A tier params.yaml defines (`tiers:`, or the gates' own tier names)."),
    baseline: Optional[str] = typer.Option(None, "--baseline", metavar="ID", help="Promoted baseline id to compare against (must be "
                                           "comparable). Without it only absolute thresholds are checked."),
    metric: Optional[list[str]] = typer.Option(None, "--metric", metavar="NAME=VALUE",
                                               help="Supply a gated metric the run does not measure (e.g. a human eval "
                                                    "score); repeatable."),
    metrics_from: Optional[list[str]] = typer.Option(None, "--metrics-from", metavar="FILE.json",
                                                     help="Metrics another pipeline step emitted (JSON object; nested "
                                                          "keys join with '.'); repeatable; digests go into inputs_sha256."),
    override: bool = typer.Option(False, "--override", help="Let --metric/--metrics-from replace a MEASURED value "
                                  "(shown as an override everywhere)."),
    output: Optional[str] = typer.Option(None, "--output", metavar="FILE", help="Also write the scorecard JSON to this file."),
    strict: bool = typer.Option(False, "--strict", help="A gate with no value fails instead of being skipped."),
    reference: Optional[str] = typer.Option(None, "--reference", metavar="ID",
                                            help="Promoted reference id: informational deltas, never changes the exit code."),
    as_json: bool = typer.Option(False, "--json", help="Print the scorecard JSON."),
):
    """Decide on a run: evaluate the params.yaml gates at a tier, plus regression vs the baseline.

    Exit 0 = every gate passed, 1 = a gate failed (or nothing was checked), 2 = bad input (unknown tier or --metric
    name, missing or non-comparable baseline).

    A gate with no value is listed as skipped (fails with --strict or `required: true`). The scorecard is saved to
    data/eval/scorecards/<run>.json: commit it; `ledger list --all` shows each run's latest gate result."""
    card, text = api.gate(_root(), run, baseline, tier, metric, output, strict, reference, override, metrics_from)
    emit(card, as_json, text)
    if not card["overall_passed"]:
        raise typer.Exit(CheckFailed.exit_code)


def main() -> None:
    if not sys.argv[1:]:  # `ledger` alone: the help, as a request for it (exit 0), not a usage error
        sys.argv.append("--help")
    progress.enable(progress.should_enable(sys.stderr, sys.argv[1:]))
    try:
        rc = app(standalone_mode=False)  # click returns Exit codes instead of raising here
        if isinstance(rc, int) and rc:
            sys.exit(rc)
    except LedgerError as exc:
        fail_for(exc)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        fail("aborted", 130)
    except Exception as exc:  # click usage errors and the unexpected: still one line
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):  # click/typer usage errors
            fail(exc.format_message(), 2)
        fail_for(exc)


if __name__ == "__main__":
    main()
