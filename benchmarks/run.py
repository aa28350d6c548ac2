"""Runs every benchmark in one go and prints a table of timings and ratios.

    /tmp/v/bin/python benchmarks/run.py [--only a,b,c,d] [--quick] [--keep DIR]

(a) list/log over 1,000 and 10,000 promotions (each with its GTO tag) vs `git for-each-ref refs/tags/promote/`
(b) `ledger promote` of a ~500 MB run vs a ~1 KB run
(c) provenance capture overhead per run vs the stage alone
(d) `ledger verify` of 1,000 signed tags vs one `git verify-tag` per tag
(e) 10,000 signed promotions: verify cold/warm, show ID, verify --range, log, promote vs fresh
(f) the run pipeline at 10 and 200 runs: first/no-op/add-one `dvc repro`, promote
Not tests: nothing here asserts timings; the table says which targets are met."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def print_table(rows: list[dict]) -> None:
    print(f"{'':2} {'measure':<62} {'seconds':>9} {'ratio':>8} {'ratio2':>8}  target")
    for r in rows:
        ratio = f"{r['ratio']:.2f}" if "ratio" in r else ""
        ratio2 = f"{r['ratio2']:.2f}" if "ratio2" in r else ""
        verdict = "" if "ok" not in r else ("  ok" if r["ok"] else "  MISSED")
        print(f"{r['bench']:2} {r['what']:<62} {r['seconds']:>9.3f} {ratio:>8} {ratio2:>8}  "
              f"{r.get('target', '')}{verdict}")
        if r.get("note"):
            print(f"{'':3}  ({r['note']})")
    sys.stdout.flush()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="a,b,c,d,e,f")
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke-run the scripts)")
    ap.add_argument("--keep", help="work in this directory and keep it")
    args = ap.parse_args()
    wanted = set(args.only.split(","))
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="ledger-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"work dir {work}; cores {os.cpu_count()}; python {sys.version.split()[0]}")
    rows: list[dict] = []
    try:
        if "a" in wanted:
            import bench_list_log
            rows += bench_list_log.run(work / "a", (100, 300) if args.quick else (1000, 10000))
        if "b" in wanted:
            import bench_promote
            rows += bench_promote.run(work / "b", 5 if args.quick else 500)
        if "c" in wanted:
            import bench_capture
            rows += bench_capture.run(work / "c")
        if "d" in wanted:
            import bench_verify
            rows += bench_verify.run(work / "d", 50 if args.quick else 1000)
        if "e" in wanted:
            import bench_scale
            rows += bench_scale.run(work / "e", 50 if args.quick else 10000)
        if "f" in wanted:
            import bench_runs
            rows += bench_runs.run(work / "f", (3, 12) if args.quick else (10, 200))
    finally:
        print()
        print_table(rows)
        if not args.keep:
            import shutil
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
