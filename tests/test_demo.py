"""`make demo` end to end (python -m ledger.demo in a scratch directory): a real classifier trained
in a DVC stage, evaluated through the python provider, promoted, a second version gated against
it; and what the scratch repository then proves."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import yaml


def test_demo_trains_evaluates_promotes_and_gates_a_real_model(tmp_path, session_env):
    env = {**session_env, "LEDGER_DEMO_DIR": str(tmp_path),
           "PYTEST_CURRENT_TEST": os.environ.get("PYTEST_CURRENT_TEST", "")}
    proc = subprocess.run([sys.executable, "-m", "ledger.demo"], env=env, capture_output=True, text=True,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    out = proc.stdout
    assert out.rstrip().endswith(f"demo OK: scratch repository left at {tmp_path / 'repo'}")
    assert "gate iris-v2 vs baseline iris-v1 (tier first_sft): FAILED" in out  # the regression gate
    assert "FAIL  data/eval/baselines/iris-v1: data/eval/baselines/iris-v1/metrics.json in the working tree" in out
    assert "REPRODUCED: iris-v1" in out
    init = next(block for block in out.split("\n$ ") if block.startswith("ledger init"))
    assert "Initialized DVC" not in init  # ledger's own output carries no DVC CLI hints
    assert "To track the changes" not in out and "To enable auto staging" not in out  # autostage: none

    repo = tmp_path / "repo"
    assert not (repo / "ledger").exists()  # the stages ran the installed ledger
    fp = json.loads((repo / "data/eval/baselines/iris-v1/fingerprint.json").read_text())
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    trained_now = lock["train"]["outs"][0]["md5"]  # the C=0.05 model
    assert fp["inputs"]["stages/iris/model.pkl"] != trained_now  # iris-v1 recorded the C=1.0 model
    v2 = json.loads((repo / "data/eval/runs/iris-v2/fingerprint.json").read_text())
    assert v2["inputs"]["stages/iris/model.pkl"] == trained_now
    assert fp["data"] == {"data/eval/datasets/iris.jsonl": lock["prepare"]["outs"][0]["md5"]}
    assert "data_warnings" not in fp  # the dataset is a DVC stage output: tracked
    compare = subprocess.run([str(os.path.join(os.path.dirname(sys.executable), "ledger")), "compare",
                              "iris-v1", "iris-v2", "--json"], cwd=repo, env=env, capture_output=True, text=True)
    report = json.loads(compare.stdout)
    assert [i["path"] for i in report["inputs"]] == ["stages/iris/model.pkl"]
