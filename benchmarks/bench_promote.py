"""(b) `ledger promote` of a ~500 MB run vs a ~1 KB run (target ratio <= 2: no copy, no rehash).

Both runs go through the same DVC stage; the stage registers a benchmark-only provider
(`bench_blob`: each prediction is a long deterministic string) before materializing, so the
only difference between the runs is the size of predictions.jsonl."""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

from common import make_repo

from ledger.run import pipeline

PROVIDER = '''"""Benchmark provider (the user's own code, `provider: python`): outputs of a set size."""


def predict(case, params):
    n = params["bytes_per_case"]
    seed = case["case_id"]
    return {"summary": (seed * (n // len(seed) + 1))[:n]}
'''


def setup(box, big_mb: int) -> dict[str, int]:
    root = box.root
    (root / "stages/bench_blob.py").write_text(PROVIDER)
    cases = "".join(json.dumps({"case_id": f"c{i:05d}", "document": f"doc {i}.", "reference": "ref"}) + "\n"
                    for i in range(big_mb))
    (root / "data/eval/datasets/bench.jsonl").write_text(cases)
    box.dvc("add", "-q", "data/eval/datasets/bench.jsonl")
    for name, per_case in (("big", 1 << 20), ("small", 100)):
        (root / f"data/eval/configs/{name}.yaml").write_text(
            f"task: summarization\nprovider: python\nentrypoint: stages.bench_blob:predict\n"
            f"params:\n  bytes_per_case: {per_case}\n")
    small_cases = "".join(json.dumps({"case_id": f"s{i}", "document": "d.", "reference": "r"}) + "\n"
                          for i in range(8))
    (root / "data/eval/datasets/bench_small.jsonl").write_text(small_cases)
    box.dvc("add", "-q", "data/eval/datasets/bench_small.jsonl")
    runs = {"big-1": ("big", "bench.jsonl"), "small-1": ("small", "bench_small.jsonl"),
            "small-2": ("small", "bench_small.jsonl")}
    shutil.rmtree(root / "data/eval/pipelines")  # only the benchmark's runs
    for r, (c, d) in runs.items():
        pipeline.write(root, r, {"config": f"data/eval/configs/{c}.yaml", "dataset": f"data/eval/datasets/{d}",
                                 "code": "stages"})
    box.commit_all("benchmark runs")
    t = time.perf_counter()
    box.dvc("repro", "-q")
    repro = time.perf_counter() - t
    box.commit_all("materialize benchmark runs")
    sizes = {r: (root / f"data/eval/runs/{r}/predictions.jsonl").stat().st_size for r in runs}
    return {"repro_s": repro, **sizes}


def promote(box, run: str, pid: str) -> float:
    t = time.perf_counter()
    box.ledger("promote", run, "--as", "baseline", "--id", pid, "--reason", "benchmark")
    return time.perf_counter() - t


def run(work: Path, big_mb: int = 500) -> list[dict]:
    box = make_repo(work)
    info = setup(box, big_mb)
    small1 = promote(box, "small-1", "s1")
    big = promote(box, "big-1", "b1")
    small2 = promote(box, "small-2", "s2")
    small = min(small1, small2)
    dest = box.root / "data/eval/baselines/b1/predictions.jsonl"
    cached = box.root / ".dvc/cache/files/md5"
    linked = dest.stat().st_nlink > 1 or dest.is_symlink()
    ratio = big / small
    return [
        {"bench": "b", "what": f"dvc repro of the 3 benchmark runs (big = {info['big-1'] / 1e6:.0f} MB)",
         "seconds": info["repro_s"]},
        {"bench": "b", "what": f"ledger promote, small run ({info['small-1']} B predictions)", "seconds": small,
         "note": f"two small promotions: {small1:.3f} s, {small2:.3f} s; the faster one is the reference"},
        {"bench": "b", "what": f"ledger promote, big run ({info['big-1'] / 1e6:.0f} MB predictions)",
         "seconds": big, "ratio": ratio, "target": "<= 2x small", "ok": ratio <= 2,
         "note": f"promoted predictions.jsonl {'is linked to' if linked else 'was COPIED from'} the DVC cache"
                 f" ({cached.relative_to(box.root)})"},
    ]


if __name__ == "__main__":
    import tempfile

    from run import print_table

    with tempfile.TemporaryDirectory(prefix="ledger-bench-") as tmp:
        print_table(run(Path(tmp), int(sys.argv[1]) if len(sys.argv) > 1 else 500))
