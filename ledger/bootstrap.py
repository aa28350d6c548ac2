"""`ledger init`: make a git repository ready for ledger (DVC, layout, sample data)."""

from __future__ import annotations

import shutil
from pathlib import Path

from . import dvcops, layout

SAMPLES = Path(__file__).parent / "samples"
_DVCIGNORE = "# Byte-code is not code: keep it out of the `ledger` stage dependency's hash.\n__pycache__\n*.pyc\n"


def init(root: Path, samples: bool, remote: str | None = None, cwd: Path | None = None) -> list[str]:
    """Idempotent. Returns what it did, one line per action. `remote`: the default DVC remote
    (directory, relative to `cwd`, or URL); without it a sibling directory when none is set."""
    from . import remote as _remote

    done: list[str] = []
    if not (root / ".dvc").is_dir():
        done.append("dvc init")
    dvcops.init(root)
    configured = _remote.configure_default(root, remote, cwd)
    if configured:
        done.append(configured)
    for sub in ("datasets", "configs", "runs", "baselines", "references/silver", "references/gold"):
        (root / layout.EVAL / sub).mkdir(parents=True, exist_ok=True)
    if not (root / ".dvcignore").exists() or "__pycache__" not in (root / ".dvcignore").read_text():
        with open(root / ".dvcignore", "a") as fh:
            fh.write(_DVCIGNORE)
        done.append("wrote .dvcignore")
    signers = root / layout.ALLOWED_SIGNERS
    if not signers.exists():
        signers.parent.mkdir(parents=True, exist_ok=True)
        signers.write_text("# email namespaces=\"git\" ssh-ed25519 AAAA...  (one line per allowed promoter)\n")
        done.append(f"wrote {layout.ALLOWED_SIGNERS}")
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
