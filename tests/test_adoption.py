"""A user adopts ledger in their own repository: `git init`, `ledger init`, their own python
provider, command provider and scorers, `dvc repro`, gate (pass and fail), promote, compare,
reproduce, verify -- with the installed `ledger` and no file copied from this checkout. (The command provider lives in
the same package directory as the scorers: a run's `code` dependency is one path.)"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import yaml

from conftest import EMAIL

CASES = [
    {"case_id": "r1", "text": "a good film", "label": "pos", "split": "regression"},
    {"case_id": "r2", "text": "a bad film", "label": "neg", "split": "regression"},
    {"case_id": "r3", "text": "great acting and a good plot", "label": "pos", "split": "regression"},
    {"case_id": "h1", "text": "dull and bad", "label": "neg", "split": "holdout"},
    {"case_id": "h2", "text": "great fun", "label": "pos", "split": "holdout"},
    {"case_id": "h3", "text": "not good at all", "label": "neg", "split": "holdout"},
]
MODEL = '''import json
from pathlib import Path


class Model:
    """Loads its weights once, predicts a batch."""

    def __init__(self, weights):
        self.weights = json.loads(Path(weights).read_text())

    def predict(self, cases):
        out = []
        for case in cases:
            hits = sum(word in case["text"].split() for word in self.weights["positive"])
            label = "pos" if hits >= self.weights["threshold"] else "neg"
            out.append({"label": label, "confidence": min(1.0, 0.5 + 0.25 * hits)})
        return out
'''
SCORERS = '''def confident_correct(case, prediction):
    return prediction["label"] == case["label"] and prediction["confidence"] >= 0.75


def calibration_gap(cases, predictions):
    confidence = sum(p["confidence"] for p in predictions) / len(predictions)
    accuracy = sum(p["label"] == c["label"] for c, p in zip(cases, predictions)) / len(cases)
    return {"calibration_gap": abs(confidence - accuracy)}
'''
COMMAND = '''import json
import sys

for line in sys.stdin:
    case = json.loads(line)
    label = "pos" if "good" in case["text"] else "neg"
    print(json.dumps({"case_id": case["case_id"], "label": label, "confidence": 0.5}))
'''
METRICS = """metrics:
  - {scorer: accuracy, field: label}
  - {name: confident_correct, entrypoint: "sentiment.scorers:confident_correct", version: "1"}
  - {entrypoint: "sentiment.scorers:calibration_gap", per_case: false, version: "1"}
slices: [split]
"""
GATES = """
tiers: [smoke, release]
gates:
  accuracy:
    direction: min
    thresholds: {smoke: 0.5, release: 0.9}
    max_regression: 0.05
"""


def write(box, rel: str, text: str) -> None:
    path = box.root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def ok(proc) -> str:
    assert proc.returncode == 0, (proc.returncode, proc.stdout, proc.stderr)
    return proc.stdout


def test_a_user_adopts_ledger_in_their_own_repository(fresh):
    box = fresh
    init = ok(box.ledger("init"))
    assert "wrote dvc.yaml (stages envlock, runs)" in init and "wrote data/eval/runs/.gitignore" in init and "next:" in init
    assert "wrote params.yaml (gates: a commented example)" in init
    assert yaml.safe_load((box.root / "params.yaml").read_text()) is None  # comments only: no gate until you write one
    assert "Initialized DVC" not in init + box.ledger("init").stderr  # DVC's own hints stay out
    assert not (box.root / "ledger").exists() and not (box.root / "stages").exists()
    dvc_yaml = yaml.safe_load((box.root / "dvc.yaml").read_text())
    assert dvc_yaml["stages"]["runs"] == {"cmd": "ledger stage runs", "deps": ["data/eval/runs"]}
    pub = (box.root.parent / "alice.key.pub").read_text().split()
    assert (box.root / ".ledger/allowed_signers").read_text() == f'{EMAIL} namespaces="git" {pub[0]} {pub[1]}\n'
    assert (box.root / ".github/workflows/ledger.yml").is_file()
    assert ok(box.ledger("init")).strip() == "already initialised"  # idempotent

    # The user's own data, model, scorers, and a second system driven as a command.
    write(box, "data/reviews.jsonl", "".join(json.dumps(c) + "\n" for c in CASES))
    box.dvc("add", "-q", "data/reviews.jsonl")
    write(box, "sentiment/__init__.py", "")
    write(box, "sentiment/model.py", MODEL)
    write(box, "sentiment/scorers.py", SCORERS)
    write(box, "sentiment/weights.json", json.dumps({"positive": ["good", "great"], "threshold": 1}))
    write(box, "sentiment/keyword_rule.py", COMMAND)
    write(box, "evals/v1.yaml", "task: sentiment\nprovider: python\nentrypoint: sentiment.model:Model\n"
                                "params: {weights: sentiment/weights.json}\n" + METRICS)
    write(box, "evals/keyword.yaml", "task: sentiment\nprovider: command\ncommand: python sentiment/keyword_rule.py\n" + METRICS)
    with open(box.root / "params.yaml", "a") as fh:
        fh.write(GATES)
    added = json.loads(ok(box.ledger("run", "add", "v1", "--config", "evals/v1.yaml", "--dataset",
                                     "data/reviews.jsonl", "--json")))
    assert added == {"config": "evals/v1.yaml", "dataset": "data/reviews.jsonl", "code": "sentiment"}
    box.commit_all("evaluate the sentiment model")
    ok(box.dvc("repro"))
    box.commit_all("runs: v1")

    run = box.root / "data/eval/runs/v1"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["metrics"] == {"accuracy": 0.833333, "calibration_gap": 0.125, "confident_correct": 0.5}
    assert set(metrics["slices"]["split"]) == {"holdout", "regression"}
    assert metrics["slices"]["split"]["regression"]["metrics"]["accuracy"] == 1.0
    assert metrics["slices"]["split"]["holdout"]["suite_fingerprint"] != \
        metrics["slices"]["split"]["regression"]["suite_fingerprint"]
    scores = [json.loads(line) for line in (run / "scores.jsonl").read_text().splitlines()]
    assert [s["case_id"] for s in scores] == sorted(c["case_id"] for c in CASES)
    assert scores[2] == {"case_id": "h3", "scores": {"accuracy": 0.0, "confident_correct": 0.0},
                         "slice": {"split": "holdout"}}  # "not good at all": the case that fails
    fp = json.loads((run / "fingerprint.json").read_text())
    md5 = hashlib.md5((box.root / "sentiment/weights.json").read_bytes()).hexdigest()
    assert fp["inputs"]["sentiment/weights.json"] == md5  # the model file is provenance
    assert set(fp["provider"]["source"]["files"]) == {"sentiment/__init__.py", "sentiment/model.py",
                                                      "sentiment/scorers.py", "sentiment/keyword_rule.py"}
    assert fp["provider"]["kind"] == "python" and fp["provider"]["name"] == "sentiment.model:Model"
    assert fp["evaluator_version"].startswith("accuracy/1+confident_correct/1+calibration_gap/1#")
    assert fp["ledger"]["version"] and fp["code"]["dirty"] is False

    # Absolute thresholds decide without a baseline; then v1 becomes the baseline.
    gate = json.loads(box.ledger("gate", "v1", "--tier", "smoke", "--json").stdout)
    assert gate["overall_passed"] is True and gate["not_applicable"] == 1
    ok(box.ledger("promote", "v1", "--as", "baseline", "--id", "sentiment-v1", "--reason", "first model"))

    # A second system, as a command: worse on the same cases, so the regression gate fails it.
    ok(box.ledger("run", "add", "keyword", "--config", "evals/keyword.yaml", "--dataset", "data/reviews.jsonl"))
    box.commit_all("evaluate the keyword rule")
    out = ok(box.dvc("repro"))
    assert "data/eval/pipelines/keyword/dvc.yaml:materialize" in out
    box.commit_all("runs: keyword")
    failed = box.ledger("gate", "keyword", "--baseline", "sentiment-v1", "--tier", "smoke")
    assert failed.returncode == 1 and "FAIL  accuracy.regression" in failed.stdout, failed.stdout
    compared = json.loads(ok(box.ledger("compare", "sentiment-v1", "keyword", "--json")))
    deltas = {m["metric"]: m["delta"] for m in compared["metrics"]}
    assert compared["comparable"] is True and abs(deltas["accuracy"] + 1 / 6) < 1e-5

    reproduced = box.ledger("reproduce", "sentiment-v1")
    assert reproduced.returncode == 0 and reproduced.stdout.startswith("REPRODUCED"), reproduced
    verified = box.ledger("verify")
    assert verified.returncode == 0 and "all OK" in verified.stdout, verified
    assert box.git("status", "--porcelain") == "?? data/eval/scorecards/keyword.json"  # the gate result to commit
    assert not any(Path(p).parts[0] == "ledger" for p in box.git("ls-files").splitlines())
