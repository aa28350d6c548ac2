"""`ledger init`: make any git repository a ledger evaluation project.

Scaffolds what a user's repository needs and nothing of ledger's own source: DVC (if absent), a
default DVC remote, dvc.yaml with the envlock stage and the `runs` stage every run's own stage
(data/eval/pipelines/<run_id>/dvc.yaml) is upstream of (merged into an existing dvc.yaml),
params.yaml with a commented gates example (when there is none), the data/eval/ layout, one
example config, .ledger/allowed_signers seeded with the user's own signing key, and the
pull-request workflow. Idempotent; never overwrites a user's file: a conflicting stage or key
is refused, with one line, before anything is written."""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Any

from . import declare, dvcops, layout
from .run import pipeline
from .errors import UsageError
from .gitops import Git

SAMPLES = Path(__file__).parent / "samples"
TEMPLATES = Path(__file__).parent / "templates"
_DVCIGNORE = "# Byte-code is not code: keep it out of the hash of a stage's code dependency.\n__pycache__\n*.pyc\n"
# Each promotion's .dvc pointer would otherwise slow every `dvc status`/`dvc repro`; the newest
# promotion's `!` lines follow these (ledger promote rewrites them: declare.py).
_DVCIGNORE_PROMOTED = ("# Promoted data (immutable): `ledger pull` fetches its predictions; DVC need not walk it,\n"
                       "# except the newest promotion (the lines after these; `ledger promote` rewrites them)\n"
                       + "".join(f"{line}\n" for line in declare.IGNORED))
WORKFLOW = ".github/workflows/ledger.yml"
EXAMPLE = f"{layout.EVAL}/configs/example.yaml"
STAGES = ("envlock", pipeline.ROOT_STAGE)
# Run stages write into data/eval/runs; the `runs` stage depends on it, so it must exist in a
# fresh clone too: DVC adds each run's line to this file.
RUNS_GITIGNORE = "# DVC lists the run outputs (data/eval/runs/<run_id>) here; git keeps this directory by it\n"


def _yaml():
    from ruamel.yaml import YAML

    ry = YAML()
    ry.preserve_quotes = True
    return ry


def _load(path: Path) -> Any:
    try:
        return _yaml().load(path.read_text(encoding="utf-8"))
    except Exception as exc:  # ruamel has many error classes; a user's file must not crash init
        raise UsageError(f"{path.name} is not valid YAML ({exc.__class__.__name__}): fix it, then run ledger init again") from None


def _plan_dvc_yaml(root: Path) -> str | None:
    """New dvc.yaml text, or None when it already has ledger's stages. Refuses a namesake stage."""
    path, ours = root / "dvc.yaml", _load(TEMPLATES / "dvc.yaml")["stages"]
    if not path.exists():
        return (TEMPLATES / "dvc.yaml").read_text()
    data = _load(path)
    if data is None:
        data = _yaml().load("stages: {}\n")
    if not isinstance(data, dict) or not isinstance(data.get("stages") or {}, dict):
        raise UsageError("dvc.yaml: `stages` is not a mapping: fix it, then run ledger init again")
    stages = data.get("stages")
    missing = [s for s in STAGES if s not in (stages or {})]
    for name in STAGES:
        if name in (stages or {}) and not _is_ours(stages[name], name):
            raise UsageError(f"dvc.yaml already has a stage {name!r} that is not ledger's: rename it, "
                             "then run ledger init again")
    if not missing:
        return None
    if stages is None:
        data["stages"] = stages = _yaml().load("{}\n")
    for name in missing:
        stages[name] = ours[name]
    buf = io.StringIO()
    ry = _yaml()
    ry.indent(mapping=2, sequence=4, offset=2)  # DVC's own style: `- item` indented under its key
    ry.dump(data, buf)
    return buf.getvalue()


def _is_ours(stage: Any, name: str) -> bool:
    cmd = stage.get("cmd") if isinstance(stage, dict) else None
    return isinstance(cmd, str) and cmd.startswith(f"ledger stage {name}")


def _signer_line(git: Git) -> str | None:
    """`email namespaces="git" <public key>` for the user's configured ssh signing key."""
    from .signing import public_key

    email = git.config("user.email")
    if git.config("gpg.format") != "ssh" or not email:
        return None
    pub = public_key(git)
    return f'{email} namespaces="git" {pub}\n' if pub else None


def init(root: Path, samples: bool, remote: str | None = None, cwd: Path | None = None) -> list[str]:
    """Idempotent. Returns what it did, one line per action, then the next steps."""
    from . import remote as _remote
    from importlib import metadata

    dvc_yaml = _plan_dvc_yaml(root)  # refusals before any write
    _remote.check_location(remote)
    done: list[str] = []
    if not (root / ".dvc").is_dir():
        done.append("dvc init")
    dvcops.init(root)
    configured = _remote.configure_default(root, remote, cwd)
    if configured:
        done.append(configured)
    if dvc_yaml is not None:
        (root / "dvc.yaml").write_text(dvc_yaml)
        done.append(f"wrote dvc.yaml (stages {', '.join(STAGES)})")
    if not (root / "params.yaml").exists():  # where gates live; a user's own params.yaml is left as it is
        shutil.copyfile(TEMPLATES / "params.yaml", root / "params.yaml")
        done.append("wrote params.yaml (gates: a commented example)")
    for sub in ("datasets", "configs", "runs", "baselines", "references/silver", "references/gold"):
        (root / layout.EVAL / sub).mkdir(parents=True, exist_ok=True)
    for rel, text in ((".dvcignore", _DVCIGNORE), (".dvcignore", _DVCIGNORE_PROMOTED), (".gitignore", f"/{layout.ENV_LOCK}\n"),
                      (f"{layout.RUNS}/.gitignore", RUNS_GITIGNORE)):
        path = root / rel
        current = path.read_text() if path.exists() else ""
        if text.splitlines()[-1] not in current.splitlines():
            with open(path, "a") as fh:
                fh.write(("\n" if current and not current.endswith("\n") else "") + text)
            if f"wrote {rel}" not in done:
                done.append(f"wrote {rel}")
    if not any((root / layout.EVAL / "configs").glob("*.y*ml")):
        shutil.copyfile(TEMPLATES / "example.yaml", root / EXAMPLE)
        done.append(f"wrote {EXAMPLE}")
    signers = root / layout.ALLOWED_SIGNERS
    if not signers.exists():
        signers.parent.mkdir(parents=True, exist_ok=True)
        line = _signer_line(Git(root))
        signers.write_text(line or "# email namespaces=\"git\" ssh-ed25519 AAAA...  (one line per allowed promoter)\n")
        done.append(f"wrote {layout.ALLOWED_SIGNERS}" + (f" ({line.split()[0]}'s signing key)" if line else
                                                         " (no ssh signing key configured in git: add yours)"))
    workflow = root / WORKFLOW
    if not workflow.exists():
        try:
            version = metadata.version("ledger")
        except metadata.PackageNotFoundError:
            version = "0"
        workflow.parent.mkdir(parents=True, exist_ok=True)
        workflow.write_text((TEMPLATES / "workflow.yml").read_text().replace("@VERSION@", version))
        done.append(f"wrote {WORKFLOW}")
    if samples:
        added = []
        for src in sorted(SAMPLES.glob("*.jsonl")):
            dest = root / layout.EVAL / "datasets" / src.name
            if not dest.exists():
                shutil.copyfile(src, dest)
            added.append(dest.relative_to(root).as_posix())
        dvcops.add(root, added)
        done.append(f"dvc add {' '.join(added)}")
    return done


NEXT_STEPS = [
    "next: dvc add your dataset (JSONL, one case per line with a case_id)",
    f"next: edit {EXAMPLE} (your provider and metrics), then "
    "`ledger run add my-run --config ... --dataset ...`",
    "next: git add -A && git commit -m 'ledger init', then `dvc repro` and commit the run",
    "next: ledger gate my-run --tier <tier>; ledger promote my-run --as baseline --id my-baseline --reason '...'",
]
