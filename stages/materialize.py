"""DVC stage: `python stages/materialize.py <run_id>` (see dvc.yaml, foreach over params.yaml runs)."""

import sys
from pathlib import Path

from ledger.errors import LedgerError
from ledger.run.materialize import materialize

if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: materialize.py RUN_ID", file=sys.stderr)
        sys.exit(2)
    try:
        out = materialize(Path.cwd(), sys.argv[1])
    except LedgerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    print(f"materialized {out.relative_to(Path.cwd())}")
