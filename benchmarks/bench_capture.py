"""(c) Provenance capture overhead per run: the materialize stage as DVC runs it (provider,
evaluator, fingerprint capture, baseline.json) vs the stage alone (provider + evaluator +
writing predictions/metrics), each as a fresh process like `dvc repro` starts it.
Target: overhead <= 0.3 s per run."""

from __future__ import annotations

from pathlib import Path

from common import make_repo, time_cmd, user_bin

ALONE = '''import json, sys
from pathlib import Path
from ledger import runs, scorers
from ledger.run.dataset import load_cases
from ledger.providers import get_provider

root, run_id = Path.cwd(), sys.argv[1]
entry = runs.run_entry(root, run_id)
config, raw = runs.load_config(root / entry["config"])
provider = get_provider(root, config, entry["config"])
cases = load_cases(root / entry["dataset"])
preds = provider.predict_all(cases)
metrics, _ = scorers.evaluate(scorers.build(root, config, entry["config"]), config["task"], cases, preds)
out = Path(sys.argv[2])
with open(out / "predictions.jsonl", "w") as fh:
    for cid, p in preds.items():
        fh.write(json.dumps({"case_id": cid, **p}, sort_keys=True) + "\\n")
(out / "metrics.json").write_text(json.dumps(metrics))
'''

CAPTURE_ONLY = '''import sys, time
from pathlib import Path
from ledger import runs
from ledger.run import fingerprint
from ledger.run.dataset import load_cases, suite_fingerprint
root, run_id = Path.cwd(), sys.argv[1]
entry = runs.run_entry(root, run_id)
config, raw = runs.load_config(root / entry["config"])
cases = load_cases(root / entry["dataset"])
run = root / "data/eval/runs" / run_id
t = time.perf_counter()
fingerprint.capture(root, run_id=run_id, run_entry=entry, config=config, config_bytes=raw,
                    evaluator_version="x", provider={}, suite=suite_fingerprint(cases),
                    outputs={n: run / n for n in ("predictions.jsonl", "metrics.json", "config.yaml")})
print(time.perf_counter() - t)
'''


def run(work: Path) -> list[dict]:
    box = make_repo(work)
    box.dvc("repro", "-q")
    box.commit_all("runs")
    (work / "alone.py").write_text(ALONE)
    (work / "capture_only.py").write_text(CAPTURE_ONLY)
    scratch = work / "scratch"
    scratch.mkdir()
    py = str(user_bin() / "python")
    run_id = "lead1-news"
    full = time_cmd(box, str(user_bin() / "ledger"), "stage", "materialize", run_id, repeat=7)
    alone = time_cmd(box, py, str(work / "alone.py"), run_id, str(scratch), repeat=7)
    inproc = sorted(float(box.sh(py, str(work / "capture_only.py"), run_id).stdout) for _ in range(5))[2]
    status = box.git("status", "--porcelain")
    overhead = full - alone
    return [
        {"bench": "c", "what": "stage alone: provider + evaluator + write (fresh process)", "seconds": alone},
        {"bench": "c", "what": "materialize stage with provenance capture (fresh process)", "seconds": full},
        {"bench": "c", "what": "provenance capture overhead per run (difference)", "seconds": overhead,
         "target": "<= 0.3 s", "ok": overhead <= 0.3,
         "note": f"fingerprint.capture() alone, imports warm: {inproc:.3f} s; the rest is importing "
                 "ledger (and what it imports) in the stage process" + ("" if not status else f"; repo status: {status}")},
    ]


if __name__ == "__main__":
    import tempfile

    from run import print_table

    with tempfile.TemporaryDirectory(prefix="ledger-bench-") as tmp:
        print_table(run(Path(tmp)))
