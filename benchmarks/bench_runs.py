"""(f) The run pipeline at 10 and 200 declared runs (each its own stage file): first `dvc repro`,
no-op `dvc repro`, `dvc repro` after adding one run, and `ledger promote` of one run.
Targets (issue "scale"): first(200)/first(10) <= 25, no-op(200) <= 3x no-op(10),
add-one(200) <= 2x add-one(10), promote(200) <= 1.2x promote(10).
Each run is the built-in `lead` provider over the 12-case news sample, as `ledger run add` declares it."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from common import make_repo, spread

from ledger.run import pipeline

CONFIG = "data/eval/configs/lead1.yaml"
DATASET = "data/eval/datasets/news_sum.jsonl"


def declare(box, names: list[str]) -> None:
    for name in names:
        pipeline.write(box.root, name, {"config": CONFIG, "dataset": DATASET, "code": CONFIG})


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def repro(box) -> str:
    return box.dvc("repro").stdout


def measure(work: Path, n: int, repeat: int) -> dict:
    box = make_repo(work, f"runs-{n}")
    box.git("rm", "-q", "-r", "data/eval/pipelines")  # exactly n runs, none of the example's
    box.dvc("repro", "-q")  # the example project's own stages, once
    box.commit_all("no runs")
    declare(box, [f"r{i:03d}" for i in range(n)])
    box.commit_all(f"declare {n} runs")
    first = timed(lambda: box.dvc("repro", "-q"))
    done = [p for p in (box.root / "data/eval/runs").iterdir() if (p / "fingerprint.json").is_file()]
    assert len(done) == n, f"{len(done)} of {n} runs materialized"
    box.commit_all(f"materialize {n} runs")
    noop, add_one, promote = [], [], []
    for i in range(repeat):
        t = timed(lambda: repro(box))
        noop.append(t)
    for i in range(repeat):
        declare(box, [f"extra{i}"])
        box.commit_all(f"declare extra{i}")
        out: list[str] = []
        add_one.append(timed(lambda: out.append(repro(box))))
        ran = [ln for ln in out[0].splitlines() if ln.startswith("Running stage") and "materialize" in ln]
        assert ran == [f"Running stage '{pipeline.Stage(f'extra{i}', False).address}':"], ran
        box.commit_all(f"materialize extra{i}")
    for i in range(repeat):
        proc = []
        promote.append(timed(lambda: proc.append(box.ledger("promote", f"r{i:03d}", "--as", "baseline",
                                                            "--id", f"p{i}", "--reason", "benchmark", "--json"))))
        assert json.loads(proc[0].stdout)["tag"] == f"promote/baseline/p{i}"
    status = json.loads(box.dvc("status", "--json").stdout)
    assert status == {"envlock": ["always changed"]}, status
    return {"first": first, "noop": noop, "add_one": add_one, "promote": promote}


def run(work: Path, sizes=(10, 200), repeat: int = 3) -> list[dict]:
    small, big = sizes
    a, b = measure(work, small, repeat), measure(work, big, repeat)
    med = statistics.median
    rows = [
        {"bench": "f", "what": f"first dvc repro, {small} runs", "seconds": a["first"]},
        {"bench": "f", "what": f"first dvc repro, {big} runs", "seconds": b["first"],
         "ratio": b["first"] / a["first"], "target": f"<= 25 x {small} runs", "ok": b["first"] / a["first"] <= 25},
    ]
    for key, what, target in (("noop", "no-op dvc repro", 3), ("add_one", "dvc repro after adding one run", 2),
                              ("promote", "ledger promote of one run", 1.2)):
        rows.append({"bench": "f", "what": f"{what}, {small} runs", "seconds": med(a[key]), "note": spread(a[key])})
        ratio = med(b[key]) / med(a[key])
        rows.append({"bench": "f", "what": f"{what}, {big} runs", "seconds": med(b[key]), "ratio": ratio,
                     "target": f"<= {target} x {small} runs", "ok": ratio <= target, "note": spread(b[key])})
    return rows
