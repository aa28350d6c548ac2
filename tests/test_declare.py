"""The declarations a promotion commit writes (ledger/declare.py) over dvc.yaml and .dvcignore
shapes a user may have: the result is what DVC will read (the expected document), the user's
own lines stay byte for byte where a text edit can prove it, and review's check accepts exactly
that result (and refuses the same file with anything else changed)."""

from __future__ import annotations

import pytest
import yaml

from ledger import declare
from ledger.layout import Target

B2 = Target("baseline", "b2")
G1 = Target("reference", "g1", "gold", "qa")
PREVIOUS = ("artifacts:\n  b1:\n    path: data/eval/baselines/b1/predictions.jsonl\n    type: predictions\n"
            "    desc: old\n    meta:\n      ledger: promote/baseline/b1\n")

SHAPES = {
    "empty": "",
    "stages only": "stages:\n  train:\n    cmd: python train.py\n",
    "no final newline": "stages:\n  train:\n    cmd: python train.py",
    "the previous promotion's entries": "stages: {}\n" + PREVIOUS + "metrics:\n  - data/eval/baselines/b1/metrics.json\n",
    "the user's own, commented, 4-space lists": (
        "stages:\n  train:\n    cmd: python train.py\n\nmetrics:\n    - m.json  # mine\n\n"
        "artifacts:\n  # my model\n  model:\n    path: model.pkl\n\nplots:\n  - p.csv\n"),
    "ours in the middle of the user's": (
        "artifacts:\n  model:\n    path: model.pkl\n" + PREVIOUS[len("artifacts:\n"):] + "  other:\n    path: o.pkl\n"
        "metrics:\n- m.json\n- data/eval/references/silver/r1/metrics.json\n- n.json\n"),
    "flow style": "stages: {}\nartifacts: {model: {path: model.pkl}}\nmetrics: [m.json]\n",
    "quoted keys": '"artifacts":\n  model:\n    path: model.pkl\n"metrics":\n  - m.json\n',
}


@pytest.mark.parametrize("target", [B2, G1], ids=["baseline", "gold"])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_dvc_yaml_declaration(shape, target):
    before = SHAPES[shape]
    after = declare.dvc_yaml_text(before, target)
    doc = yaml.safe_load(after)
    assert doc == declare.expected_dvc_yaml(yaml.safe_load(before), target)
    assert doc["artifacts"][target.promoted_id]["path"] == f"{target.path}/predictions.jsonl"
    assert [m for m in doc["metrics"] if m.startswith("data/eval/")] == [f"{target.path}/metrics.json"]
    assert not any(isinstance(v, dict) and "ledger" in (v.get("meta") or {}) and k != target.promoted_id
                   for k, v in doc["artifacts"].items())
    if shape in ("empty", "stages only", "the user's own, commented, 4-space lists"):
        kept = [ln for ln in before.splitlines() if ln.strip()]  # a text edit: every line of the user's stays
        assert all(ln in after.splitlines() for ln in kept), after
    assert declare.changed_as_promoted(before.encode(), after.encode(), "dvc.yaml", target)
    for tampered in (after + "stages:\n  x:\n    cmd: evil\n", after.replace("predictions.jsonl", "x"),
                     after + "params:\n  - p.yaml\n"):
        assert not declare.changed_as_promoted(before.encode(), tampered.encode(), "dvc.yaml", target)
    assert declare.dvc_yaml_text(after, target) == after  # idempotent


IGNORES = {
    "init's": "__pycache__\n/data/eval/baselines/*\n/data/eval/references/*/*\n",
    "older init's": "/data/eval/baselines/\n/data/eval/references/\n*.pyc\n",
    "after a promotion": ("/data/eval/baselines/*\n/data/eval/references/*/*\n!/data/eval/references/gold/t/\n"
                          "/data/eval/references/gold/t/*\n!/data/eval/references/gold/t/x/\n"
                          "!/data/eval/references/gold/t/x/**\n# the user's\n/tmp/\n"),
    "none": "",
}


@pytest.mark.parametrize("target", [B2, G1], ids=["baseline", "gold"])
@pytest.mark.parametrize("shape", list(IGNORES))
def test_dvcignore_declaration(shape, target):
    before = IGNORES[shape]
    after = declare.dvcignore(before, target)
    lines = after.splitlines()
    assert f"!/{target.path}/" in lines and f"!/{target.path}/**" in lines
    assert [ln for ln in lines if ln.startswith("!")] == [ln for ln in lines if ln.startswith("!") and target.path in ln
                                                          or ln == f"!/{target.path.rsplit('/', 1)[0]}/"]
    for user in ("__pycache__", "*.pyc", "# the user's", "/tmp/"):
        assert (user in before.splitlines()) == (user in lines)
    assert declare.changed_as_promoted(before.encode(), after.encode(), ".dvcignore", target)
    assert not declare.changed_as_promoted(before.encode(), (after + "/data/\n").encode(), ".dvcignore", target)
    assert declare.dvcignore(after, target) == after


def test_review_reads_dvc_yaml_as_dvc_does():
    """YAML 1.1 (`no` is false) and 1.2 (`no` is a string, as DVC reads it) disagree; a duplicate
    key is an error to DVC. Review's comparison uses DVC's reading, so neither passes as "the
    same document"."""
    before = "stages:\n  train:\n    cmd: python train.py\n    frozen: false\n"
    after = declare.dvc_yaml_text(before, B2)
    assert declare.changed_as_promoted(before.encode(), after.encode(), "dvc.yaml", B2)
    for tampered in (after.replace("frozen: false", "frozen: no"),
                     after + "stages:\n  train:\n    cmd: python evil.py\n    frozen: false\n"):
        assert not declare.changed_as_promoted(before.encode(), tampered.encode(), "dvc.yaml", B2), tampered
