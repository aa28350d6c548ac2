"""`ledger review`'s red flags: what a range's commits change besides their promotions (a
promotion commit touching anything but its own dir and its run's bookkeeping, a non-promotion
commit touching promoted data, gates, signers or policy changing within the range)."""

from __future__ import annotations

from typing import Any

import yaml

from . import declare, layout
from .gitops import Git

# Besides its own dir, a promotion commit changes only these (and deletes its run's stage files).
_PROMOTION_FILES = ("params.yaml", "dvc.lock", f"{layout.RUNS}/.gitignore")
BAD_YAML = (yaml.YAMLError, UnicodeDecodeError, RecursionError)  # what read_params raises on a bad file


def read_params(git: Git, rev: str) -> Any:
    """params.yaml as committed at `rev`, parsed (None when absent); raises one of BAD_YAML."""
    from .yamledit import load

    return load((git.show_file(rev, "params.yaml") or b"").decode("utf-8"))


def _params_at(git: Git, rev: str) -> dict[str, Any]:
    """params.yaml at `rev` as a mapping; a file that is not one (a PR can commit anything)
    reads as {"gates": <why>}, so that a change of it is flagged, never a crash."""
    try:
        params = read_params(git, rev) or {}
    except BAD_YAML as exc:
        return {"gates": f"params.yaml is not valid YAML ({exc.__class__.__name__})"}
    return params if isinstance(params, dict) else {"gates": "params.yaml is not a mapping"}


def _run_stage_files(run_id: Any) -> tuple[str, ...]:
    """The files of a run's own stage directory, which its promotion commit deletes."""
    if not isinstance(run_id, str) or not layout.is_run_id(run_id):
        return ()
    from .run.pipeline import Stage

    return tuple(Stage(run_id, legacy=False).declaration)


def _declared(git: Git, sha: str, name: str, p: dict[str, Any]) -> bool:
    """A promotion commit's change of dvc.yaml or .dvcignore is exactly its declaration."""
    from .audit.gto import nameable

    pid = p.get("promoted_id")
    target = layout.Target(p.get("role") or "", pid if isinstance(pid, str) else "", p.get("quality"), p.get("task"))
    parents = git.parents(sha)
    if not nameable(target.promoted_id) or target.path != p.get("path") or len(parents) != 1:
        return False
    return declare.changed_as_promoted(git.show_file(parents[0], name), git.show_file(sha, name), name, target)


def red_flags(git: Git, base: str, head: str, entries: list[dict[str, Any]],
               promos: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    flags = []
    for e in entries:
        changes = git.commit_changes(e["sha"], layout.BASELINES, layout.REFERENCES)
        p = promos.get(e["sha"])
        if p is not None:
            own = (p.get("path") or "\0") + "/"
            outside = [(s, x) for s, x in changes if not x.startswith(own)]
            stage = _run_stage_files(p.get("run_id"))  # the promoted run's stage directory goes
            other = [(s, x) for s, x in git.commit_changes(e["sha"]) if not x.startswith(own)
                     and x not in _PROMOTION_FILES and not (s == "D" and x in stage)
                     and not x.startswith((layout.BASELINES, layout.REFERENCES))
                     and not (x in declare.FILES and _declared(git, e["sha"], x, p))]
            if outside:
                flags.append({"commit": e["sha"], "subject": e["subject"], "kind": "promotion-touches-other-dirs",
                              "why": "promotion commit also changes promoted data outside its own dir",
                              "paths": [{"status": s, "path": x} for s, x in outside]})
            if other:
                flags.append({"commit": e["sha"], "subject": e["subject"], "kind": "promotion-touches-code",
                              "why": "promotion commit also changes files a promotion never touches",
                              "paths": [{"status": s, "path": x} for s, x in other]})
        elif changes:
            flags.append({"commit": e["sha"], "subject": e["subject"], "kind": "non-promotion-change",
                          "why": "a commit that is not a promotion changes data/eval/baselines or data/eval/references",
                          "paths": [{"status": s, "path": x} for s, x in changes]})
    gates = [_params_at(git, rev) for rev in (base, head)]
    if gates[0].get("gates") != gates[1].get("gates"):
        flags.append({"commit": None, "subject": None, "kind": "gates-changed",
                      "why": "gate definitions in params.yaml change in this range (the gate results use BASE's)",
                      "paths": [{"status": "M", "path": "params.yaml"}]})
    if git.show_file(base, layout.ALLOWED_SIGNERS) != git.show_file(head, layout.ALLOWED_SIGNERS):
        flags.append({"commit": None, "subject": None, "kind": "signers-changed",
                      "why": f"{layout.ALLOWED_SIGNERS} changes in this range (signatures are checked against BASE's)",
                      "paths": [{"status": "M", "path": layout.ALLOWED_SIGNERS}]})
    from .audit.policy import PATH as POLICY

    if git.show_file(base, POLICY) != git.show_file(head, POLICY):
        flags.append({"commit": None, "subject": None, "kind": "policy-changed",
                      "why": f"{POLICY} changes in this range (promotions are judged by BASE's)",
                      "paths": [{"status": "M", "path": POLICY}]})
    return flags
