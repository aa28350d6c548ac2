"""`ledger stage ...`: what the DVC stages `ledger init` writes run, with the INSTALLED ledger.

    ledger stage envlock [PATH]        the environment lockfile run stages depend on
    ledger stage materialize RUN_ID    one run: provider over dataset, scored, with provenance
    ledger stage runs                  the root stage every run stage is upstream of: says which
                                       runs are materialized
"""

from __future__ import annotations

import sys

USAGE = "usage: ledger stage envlock [PATH] | ledger stage materialize RUN_ID | ledger stage runs"


def main(argv: list[str]) -> int:
    from .. import progress
    from ..errors import LedgerError
    from ..gitops import find_root
    from ..layout import ENV_LOCK

    if argv[:1] == ["envlock"] and len(argv) <= 2:
        from . import envlock

        try:
            root = find_root()
            lock = envlock.write(root / (argv[1] if len(argv) == 2 else ENV_LOCK))
        except LedgerError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return exc.exit_code
        print(f"env lock: {len(lock['packages'])} packages, sha256 {lock['lock_sha256'][:12]}")
        return 0
    if argv[:1] == ["materialize"] and len(argv) == 2:
        from .materialize import materialize

        progress.enable(progress.should_enable(sys.stderr, argv))
        try:
            root = find_root()
            out = materialize(root, argv[1])
        except LedgerError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return exc.exit_code
        print(f"materialized {out.relative_to(root)}")
        return 0
    if argv == ["runs"]:
        from ..layout import RUNS

        try:
            root = find_root()
        except LedgerError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return exc.exit_code
        base = root / RUNS
        done = sorted(p.name for p in base.iterdir() if (p / "fingerprint.json").is_file()) if base.is_dir() else []
        print(f"{len(done)} run(s) materialized in {RUNS}" + (f": {', '.join(done[:10])}" if done else "")
              + (f" (+{len(done) - 10} more)" if len(done) > 10 else ""))
        return 0
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
