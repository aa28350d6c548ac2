"""`ledger promote`: one commit + one signed annotated tag, or nothing at all."""

from __future__ import annotations

import json
import os
import re
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import declare, dvcops, layout, records, remote, runs, txn
from .audit import gto
from .run import fingerprint, pipeline
from .errors import LedgerError, Refused, UsageError
from .gitops import Git, pathcommit
from .hashing import dump_json, file_digest
from .layout import Target

# C0/C1 control characters and Unicode line/paragraph separators: a reason is one line.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SURROGATE = re.compile("[\ud800-\udfff]")  # what non-UTF-8 argv bytes decode to


def check_reason(reason: str) -> str:
    reason = (reason or "").strip() if isinstance(reason, str) or reason is None else None
    if reason is None or _SURROGATE.search(reason):
        raise UsageError("--reason must be valid UTF-8 text")
    if not reason:
        raise UsageError("--reason is required: say why this run deserves the role")
    if len(reason) > 500 or _CONTROL.search(reason):
        raise UsageError("--reason must be one line of at most 500 characters, without control characters")
    return reason


def make_target(role: str, promoted_id: str, quality: str | None, task: str) -> Target:
    layout.check_id(promoted_id, "promoted id")
    if role not in layout.ROLES:
        raise UsageError(f"--as must be one of {', '.join(layout.ROLES)}, not {role!r}")
    if role == "baseline":
        if quality:
            raise UsageError("--quality applies to references only")
        return Target("baseline", promoted_id)
    quality = quality or "silver"
    if quality not in layout.QUALITIES:
        raise UsageError(f"--quality must be silver or gold, not {quality!r}")
    return Target("reference", promoted_id, quality, layout.check_task(task) if quality == "gold" else None)


def check_signing(git: Git) -> None:
    """Refuse, before anything is written, a signature `ledger verify` would reject: no ssh key,
    OpenPGP (verify binds signers to .ledger/allowed_signers, ssh keys only), or a key that the
    committed allowed_signers does not grant to the committer's email (the tagger)."""
    from . import signing

    key = git.config("user.signingkey")
    fmt = git.config("gpg.format") or "openpgp"
    if not key:
        raise Refused("no signing key: set git config user.signingkey (and gpg.format ssh), or pass --unsigned")
    if fmt != "ssh":
        raise Refused(f"gpg.format is {fmt}: promotions are signed with ssh keys listed in {layout.ALLOWED_SIGNERS} "
                      "(`git config gpg.format ssh` and user.signingkey ~/.ssh/id_ed25519.pub)")
    if not key.startswith(("ssh-", "key::")) and not Path(os.path.expanduser(key)).is_file():
        raise Refused(f"signing key file not found: {key}")
    pub, email = signing.public_key(git), git.config("user.email") or ""
    if pub is None:
        raise Refused(f"cannot read the public key of user.signingkey {key}: point it at the .pub file")
    head = git.head()
    allowed = git.show_file(head, layout.ALLOWED_SIGNERS) if head else None
    if not signing.granted(allowed, email, pub):
        raise Refused(f"{layout.ALLOWED_SIGNERS} at HEAD does not grant your signing key to {email or '(no user.email)'}: "
                      f"`ledger verify` would reject this promotion; commit the line "
                      f"'{email} namespaces=\"git\" {pub}' in a reviewed change first")


def _check_policy(git: Git, target: Target) -> int:
    """The committed policy (.ledger/policy.yaml at HEAD, as verify reads it) allows the
    committer's email to make this promotion; returns how many distinct signers it needs."""
    from .audit import policy

    pol = policy.load(git, git.head())
    if pol is None:
        return 1
    record = {"role": target.role, "quality": target.quality, "task": target.task}
    why = pol.refusal(record, git.config("user.email") or "")
    if why:
        raise Refused(f"{why}: nothing was written")
    rule = pol.rule_for(record)
    return rule.approvals if rule else 1


def _check_free(root: Path, git: Git, target: Target) -> None:
    if (root / target.path).exists():
        raise Refused(f"{target.path} already exists: promoted ids are immutable")
    for other_role in layout.ROLES:
        if git.tag_exists(f"{layout.TAG_PREFIX}{other_role}/{target.promoted_id}"):
            raise Refused(f"id {target.promoted_id!r} is already promoted (tag promote/{other_role}/{target.promoted_id})")
    from .audit.promoted import tags, used_at

    claims = tags(git, target.promoted_id)  # any tag claiming the id, even under an odd role
    if claims:
        raise Refused(f"id {target.promoted_id!r} is already claimed by tag {claims[0].name}")
    named = gto.claiming(git, target.promoted_id)  # the user's own GTO artifact of that name
    if named:
        raise Refused(f"id {target.promoted_id!r} is already a GTO artifact (tag {named[0].name}): "
                      "choose another id")

    head = git.head()
    used = used_at(git, head, target.promoted_id) if head else None
    if used:
        raise Refused(f"id {target.promoted_id!r} is already used by {used}: promoted ids are immutable")


def prepare(root: Path, run_id: str, role: str, promoted_id: str, reason: str, quality: str | None,
            unsigned: bool) -> dict[str, Any]:
    """Every check, before anything is written."""
    git = Git(root)
    staged = git.staged_started()  # git reads the index while the checks below run
    layout.check_id(run_id, "run id")
    reason = check_reason(reason)
    entry = runs.run_entry(root, run_id)
    stage = runs.stage(root, run_id)
    rerun = f"`dvc repro --force {stage.address}`, commit {stage.lockfile}, then promote"
    run_path = root / layout.run_dir(run_id)
    if not run_path.is_dir():
        raise Refused(f"run {run_id!r} has no outputs in {layout.run_dir(run_id)}: run `dvc repro` first")
    fp = fingerprint.check(run_path)
    if fp["code"].get("dirty"):
        paths = ", ".join(fp["code"].get("dirty_paths", [])[:3]) or "no commit"
        raise Refused(f"run {run_id!r} was executed on a dirty tree ({paths}): commit, {rerun}")
    experiment = fp["code"].get("experiment")
    if isinstance(experiment, dict) and (fp.get("params") or {}).get("run") != entry:
        raise Refused(f"run {run_id!r} was executed by DVC experiment {experiment.get('name')!r} with params that are "
                      f"not its committed declaration ({stage.params_file}): "
                      f"`dvc exp apply {experiment.get('name')}`, commit, then promote")
    if fp.get("data_warnings"):  # recorded when the run executed: tracking the dataset later changes nothing
        raise Refused(f"run {run_id!r}: {fp['data_warnings'][0]} when it ran: track the dataset (`dvc add` it, "
                      f"commit), then re-run this run with `dvc repro -f {stage.address}` and commit")
    if not git.head() or not git.is_ancestor(fp["code"]["commit"], "HEAD"):
        raise Refused(f"run {run_id!r} was executed at {fp['code']['commit']}, which is not in this branch's history "
                      f"(rebased, amended or another branch): re-run it here with {rerun}")
    metrics = json.loads((run_path / "metrics.json").read_text())
    target = make_target(role, promoted_id, quality, metrics.get("task", ""))
    _check_free(root, git, target)
    approvals = _check_policy(git, target)
    if not unsigned:
        check_signing(git)
    git.identity()
    touched = stage.declaration + [f"{layout.RUNS}/.gitignore"]
    declares = gto.nameable(target.promoted_id)  # dvc.yaml artifacts: + .dvcignore (declare.py)
    if declares:
        declare.check_free(root, target)
        touched += [f for f in declare.FILES if f not in touched]
    # The root `runs` stage depends on data/eval/runs, which the promotion changes: its lock entry
    # is re-recorded in the same commit, so that `dvc status` stays clean.
    recommit = dvcops.lock_has(root, pipeline.ROOT_STAGE)
    if recommit and dvcops.LOCKFILE not in touched:
        touched.append(dvcops.LOCKFILE)
    busy = pathcommit.changed(root, touched) + staged()
    if busy:
        raise Refused(f"commit or stash your changes first ({busy[0]} is modified or staged): "
                      "a promotion commit holds the promotion only")
    out = dvcops.run_out(root, run_id, stage.lockfile, stage.name)
    manifest = dvcops.dir_manifest(root, out["md5"])
    for name in layout.DVC_TRACKED:
        if name not in manifest or not dvcops.cache_path(root, manifest[name]).is_file():
            raise Refused(f"DVC cache lacks {name} of run {run_id!r}: run `dvc repro` or `dvc pull`")
    # Predictions come from the cache object dvc.lock names, the other files from the workspace:
    # both must be the same execution (not so after e.g. a `git revert` of dvc.lock alone).
    run_rel = layout.run_dir(run_id)
    present = {name: f"{run_rel}/{name}" for name in layout.RUN_FILES if name in manifest}
    workspace = dvcops.workspace_md5(root, list(present.values()))
    for name, rel in present.items():
        if workspace[rel] != manifest[name]:
            raise Refused(f"run {run_id!r}: {name} in the workspace is not the output dvc.lock records: "
                          f"`dvc checkout` or `dvc repro` it, and commit {stage.lockfile}")
    return {"run_id": run_id, "reason": reason, "target": target, "fp": fp, "metrics": metrics,
            "manifest": manifest, "touched": touched, "legacy_stage": stage.name if stage.legacy else None,
            "recommit": recommit, "unsigned": unsigned, "approvals": approvals, "declares": declares}


def execute(root: Path, plan: dict[str, Any]) -> dict[str, Any]:
    git = Git(root)
    target: Target = plan["target"]
    run_id = plan["run_id"]
    run_rel = layout.run_dir(run_id)
    journal = txn.Journal(root)
    journal.begin(run_id=run_id, tag=target.tag, dest=target.path, run_path=run_rel,
                  old_head=git.head(), touched=plan["touched"], push=plan.get("push"))
    try:
        for rel in plan["touched"]:
            journal.backup(rel)
        aside = journal.dir / "aside" / run_id
        aside.parent.mkdir(parents=True)
        journal.data["aside"] = str(aside)
        journal.step("validated")
        os.replace(root / run_rel, aside)
        journal.step("run_moved_aside")

        dest = root / target.path
        dest.mkdir(parents=True)
        for name in layout.DVC_TRACKED:  # a pointer DVC can read, and the object linked into place
            md5 = plan["manifest"][name]
            size = dvcops.cache_path(root, md5).stat().st_size
            dvcops.write_pointer(root, f"{target.path}/{name}", md5, size)
            dvcops.place(root, md5, dest / name)
        (dest / ".gitignore").write_text("".join(f"/{n}\n" for n in layout.DVC_TRACKED))
        for name in ("scores.jsonl", layout.PLOTS, "metrics.json", "fingerprint.json", "config.yaml"):
            if (aside / name).is_file():  # scores.jsonl, per_case.json: older runs have none
                shutil.copyfile(aside / name, dest / name)
        journal.step("outputs_moved")

        record = records.promotion_record(root, git, plan, aside)
        baseline = json.loads((aside / "baseline.json").read_text())
        baseline.update(records.baseline_fields(plan, record))
        (dest / "baseline.json").write_text(dump_json(baseline))
        (dest / "README.md").write_text(records.readme(record, baseline))
        # DVC-tracked files (predictions.jsonl): their digests are under `dvc`, not rehashed here.
        record["files"] = {p.name: file_digest(p) for p in sorted(dest.iterdir())
                           if p.is_file() and p.name not in layout.DVC_TRACKED}
        journal.step("metadata_written")

        runs.remove_run(root, run_id)
        if plan.get("legacy_stage"):
            dvcops.remove_lock_entry(root, plan["legacy_stage"])
        _drop_gitignore_entry(root / layout.RUNS / ".gitignore", f"/{run_id}")
        if plan.get("declares"):
            declare.write(root, target)
        if plan.get("recommit"):
            dvcops.recommit(root, pipeline.ROOT_STAGE)
        journal.step("run_removed")

        old = git.head()  # the commit: HEAD's tree with these paths as `git add` stages them
        tree, old_tree = pathcommit.tree(root, old, [target.path, *plan["touched"]])
        journal.data["new_head"] = git.commit_tree(old, tree, records.commit_message(plan, record), old_tree)
        journal._save()
        journal.step("committed")

        git.create_tag(target.tag, journal.data["new_head"], records.tag_message(record), sign=not plan["unsigned"])
        journal.data["gto_tag"] = record.get("gto_tag")
        journal.step("promotion_tagged")
        if record.get("gto_tag"):  # GTO's grammar, bound to the promotion tag object (audit/gto.py)
            git.create_tag(record["gto_tag"], journal.data["new_head"],
                           gto.message(record, target.tag, git.rev_parse(f"refs/tags/{target.tag}") or ""),
                           sign=not plan["unsigned"])
        journal.step("tagged")
        if plan.get("push"):  # DVC objects, then commit + tags atomically; a rejection rolls back
            record["pushed"] = remote.push(root, journal, target, journal.data["new_head"], plan["push"],
                                           [plan["manifest"][name] for name in layout.DVC_TRACKED],
                                           record.get("gto_tag"))
    except BaseException:
        try:
            if "git_pushed" in journal.data.get("steps", []):  # origin has it: the promotion is done
                journal.finish_or_rollback()
            else:
                journal.rollback()
        except Exception as undo:  # the roll-back failed too: keep the journal, say what to do
            raise LedgerError(f"the promotion failed and so did its roll-back ({undo.__class__.__name__}: "
                              f"{undo}); the journal is kept in {journal.dir}: fix the cause, then run "
                              "`ledger recover`") from None
        raise
    shutil.rmtree(journal.dir / "aside", ignore_errors=True)
    journal.end()
    git.auto_maintenance()  # once the promotion is complete, never inside it
    record["commit"] = journal.data["new_head"]
    record["tag"] = target.tag
    record["approvals_needed"] = max(0, plan.get("approvals", 1) - 1)
    return record


def promote(root: Path, run_id: str, role: str, promoted_id: str, reason: str,
            quality: str | None = None, unsigned: bool = False, push: bool = False) -> dict[str, Any]:
    with txn.locked(root):
        txn.recover(root)
        plan = prepare(root, run_id, role, promoted_id, reason, quality, unsigned)
        if push:
            plan["push"] = remote.check(root)
        return execute(root, plan)


def _drop_gitignore_entry(path: Path, entry: str) -> None:
    if not path.is_file():
        return
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(line for line in lines if line.strip() != entry))


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
