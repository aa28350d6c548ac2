"""DVC stage: `python stages/materialize.py <run_id>` (see dvc.yaml, foreach over params.yaml runs)."""

import sys
from pathlib import Path

from ledger.errors import LedgerError
from ledger.materialize import materialize

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: materialize.py RUN_ID")
    try:
        out = materialize(Path.cwd(), sys.argv[1])
    except LedgerError as exc:
        sys.exit(f"error: {exc}")
    print(f"materialized {out.relative_to(Path.cwd())}")
