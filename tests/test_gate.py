"""`ledger gate RUN --baseline ID --tier T`: exit codes, scorecard shape and persistence,
skipped gates and --strict, --metric, informational references, refusals (exit 2)."""

from __future__ import annotations

import hashlib
import json

import pytest
import yaml

from conftest import copy_repo, declare_run
from ledger import gates

GATE_NAMES = {"compression_ratio", "empty_rate", "token_f1", "token_f1.regression"}


@pytest.fixture(scope="module")
def based_template(tmp_path_factory, template, session_env):
    """lead2-news promoted as baseline `news-lead2`; lead1-news stays a workspace run: one real
    promotion for this file."""
    box = copy_repo(template, tmp_path_factory.mktemp("based"), session_env)
    proc = box.ledger("promote", "lead2-news", "--as", "baseline", "--id", "news-lead2", "--reason", "prod")
    assert proc.returncode == 0, proc.stderr
    return box


@pytest.fixture
def based(tmp_path, based_template, session_env):
    """A copy of based_template for one test."""
    return copy_repo(based_template, tmp_path, session_env)


def gate(repo, *args, code: int | None = None):
    proc = repo.ledger("gate", *args, "--json")
    if code is not None:
        assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    return json.loads(proc.stdout) if proc.stdout.strip() else None


def edit_gates(repo, change) -> None:
    params = yaml.safe_load((repo.root / "params.yaml").read_text())
    change(params["gates"])
    (repo.root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def refused(proc) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    err = proc.stderr.strip()
    assert err.startswith("error: ") and "\n" not in err and proc.stdout == "", err
    return err


def test_gate_passes_with_the_documented_shape(based, tmp_path):
    out = tmp_path / "card.json"
    card = gate(based, "lead1-news", "--baseline", "news-lead2", "--tier", "base", "--output", str(out), code=0)
    assert {"tier", "overall_passed", "run_id", "baseline_id", "inputs_sha256", "skipped", "gates"} <= set(card)
    assert card["tier"] == "base" and card["overall_passed"] is True and card["skipped"] == 0
    assert card["run_id"] == "lead1-news" and card["baseline_id"] == "news-lead2" and card["failed"] == []
    assert len(card["inputs_sha256"]) == 64 and int(card["inputs_sha256"], 16) >= 0
    by = {g["name"]: g for g in card["gates"]}
    assert set(by) == GATE_NAMES
    for g in card["gates"]:
        assert set(g) >= {"name", "value", "threshold", "direction", "passed", "note"} and g["passed"] is True
    run = based.read_json("data/eval/runs/lead1-news/metrics.json")["metrics"]
    base = based.read_json("data/eval/baselines/news-lead2/metrics.json")["metrics"]
    assert by["token_f1"] == {**by["token_f1"], "value": run["token_f1"], "threshold": 0.2, "direction": "min"}
    assert by["compression_ratio"]["value"] == run["compression_ratio"] and by["compression_ratio"]["direction"] == "max"
    reg = by["token_f1.regression"]
    assert reg["kind"] == "regression" and reg["threshold"] == 0.05 and reg["direction"] == "max"
    assert abs(reg["value"] - (base["token_f1"] - run["token_f1"])) < 1e-9 and "dropped" in reg["note"]
    assert card["run_fingerprint_sha256"] == based.read_json("data/eval/runs/lead1-news/fingerprint.json")["fingerprint_sha256"]
    # persisted twice: the reviewable copy in the repo, and --output
    saved = based.read_json("data/eval/scorecards/lead1-news.json")
    assert saved["inputs_sha256"] == card["inputs_sha256"] and saved["gates"] == card["gates"]
    assert json.loads(out.read_text())["gates"] == card["gates"]
    text = based.ledger("gate", "lead1-news", "--baseline", "news-lead2", "--tier", "base")
    assert text.returncode == 0
    head, *rows = text.stdout.splitlines()
    assert head == "gate lead1-news vs baseline news-lead2 (tier base): PASSED -- 4 passed, 0 failed, 0 skipped"
    assert sorted(r.split()[:2] for r in rows if r.startswith("  ")) == sorted(["PASS", n] for n in GATE_NAMES)


def test_inputs_sha256_is_stable_and_covers_the_inputs(based):
    args = ("lead1-news", "--baseline", "news-lead2")
    h = gate(based, *args, "--tier", "base")["inputs_sha256"]
    assert gate(based, *args, "--tier", "base")["inputs_sha256"] == h
    assert gate(based, *args, "--tier", "first_sft")["inputs_sha256"] != h
    assert gate(based, *args, "--tier", "base", "--metric", "empty_rate=0", "--override")["inputs_sha256"] != h
    edit_gates(based, lambda g: g["token_f1"].update(max_regression=0.04))
    assert gate(based, *args, "--tier", "base")["inputs_sha256"] != h


def test_a_failed_gate_exits_1_and_is_persisted(based):
    card = gate(based, "lead1-news", "--baseline", "news-lead2", "--tier", "future", code=1)
    assert card["overall_passed"] is False and card["failed"] == ["token_f1"]
    bad = next(g for g in card["gates"] if g["name"] == "token_f1")
    assert bad["passed"] is False and bad["threshold"] == 0.45 and "below the future threshold" in bad["note"]
    assert based.read_json("data/eval/scorecards/lead1-news.json")["overall_passed"] is False
    text = based.ledger("gate", "lead1-news", "--baseline", "news-lead2", "--tier", "future")
    assert text.returncode == 1 and "): FAILED -- 3 passed, 1 failed, 0 skipped" in text.stdout
    assert any(r.split()[:2] == ["FAIL", "token_f1"] for r in text.stdout.splitlines())


def test_metric_overrides_a_value_and_can_fail_it(based):
    args = ("lead1-news", "--baseline", "news-lead2", "--tier", "base", "--metric", "token_f1=0.1")
    # Replacing a value the run measured is refused unless asked for explicitly...
    err = refused(based.ledger("gate", *args))
    assert "token_f1: the run measured" in err and "needs --override" in err
    assert not (based.root / "data/eval/scorecards").exists()
    # ...and then it is shown as an override, in JSON and in the text.
    card = gate(based, *args, "--override", code=1)
    assert card["overrides"] == {"token_f1": 0.1} and card["sources"] == {"token_f1": "override"}
    assert sorted(card["failed"]) == ["token_f1", "token_f1.regression"]
    assert all("(OVERRIDE of the measured value)" in g["note"] and g["source"] == "override"
               for g in card["gates"] if g["metric"] == "token_f1")
    text = based.ledger("gate", *args, "--override").stdout
    assert sum("OVERRIDE" in r for r in text.splitlines()) == 2


def test_skipped_gate_is_reported_and_strict_fails_it(based):
    edit_gates(based, lambda g: g.update(human_pref={"direction": "min", "thresholds": {"base": 0.6}}))
    args = ("lead1-news", "--baseline", "news-lead2", "--tier", "base")
    card = gate(based, *args, code=0)
    assert card["overall_passed"] is True and card["skipped"] == 1
    skip = next(g for g in card["gates"] if g["name"] == "human_pref")
    assert skip["passed"] is None and skip["value"] is None and "--metric human_pref=VALUE" in skip["note"]
    assert "1 skipped" in card["summary"]
    text = based.ledger("gate", *args).stdout
    assert "PASSED -- 4 passed, 0 failed, 1 skipped" in text and any(
        r.split()[:2] == ["SKIP", "human_pref"] for r in text.splitlines())

    strict = gate(based, *args, "--strict", code=1)
    assert strict["overall_passed"] is False and strict["failed"] == ["human_pref"] and strict["skipped"] == 1
    assert strict["inputs_sha256"] != card["inputs_sha256"]

    supplied = gate(based, *args, "--strict", "--metric", "human_pref=0.7", code=0)
    assert supplied["skipped"] == 0 and next(g for g in supplied["gates"] if g["name"] == "human_pref")["value"] == 0.7
    assert gate(based, *args, "--metric", "human_pref=0.5", code=1)["failed"] == ["human_pref"]


@pytest.mark.parametrize("extra, needle", [
    (("--tier", "bogus"), "unknown tier 'bogus': use one of base, first_sft, future"),
    (("--tier", "base", "--metric", "bleu=0.3"), "--metric bleu: no gate defines 'bleu'"),
    (("--tier", "base", "--metric", "token_f1=high"), "--metric token_f1: 'high' is not a number"),
    (("--tier", "base", "--metric", "token_f1"), "use NAME=VALUE"),
    (("--tier", "base", "--output", "/nonexistent/dir/card.json"), "directory /nonexistent/dir does not exist"),
])
def test_bad_input_exits_2_and_writes_nothing(based, extra, needle):
    err = refused(based.ledger("gate", "lead1-news", "--baseline", "news-lead2", *extra))
    assert needle in err, err
    assert not (based.root / "data/eval/scorecards").exists()


@pytest.mark.parametrize("baseline, needle", [
    ("nope", "--baseline nope: no promoted baseline with this id"),
    ("lead1-news", "'lead1-news' is a run, not a promoted baseline"),
])
def test_missing_or_wrong_baseline_exits_2(based, baseline, needle):
    assert needle in refused(based.ledger("gate", "lead1-news", "--baseline", baseline, "--tier", "base"))
    assert not (based.root / "data/eval/scorecards").exists()


def test_without_a_baseline_absolute_thresholds_decide_and_regression_is_not_applicable(based):
    card = gate(based, "lead1-news", "--tier", "base", code=0)
    assert card["baseline_id"] is None and card["overall_passed"] is True
    reg = next(g for g in card["gates"] if g["kind"] == "regression")
    assert reg["passed"] is None and reg["applicable"] is False and "not applicable" in reg["note"]
    assert card["skipped"] == 0 and card["not_applicable"] == 1
    text = based.ledger("gate", "lead1-news", "--tier", "base").stdout
    assert text.startswith("gate lead1-news (no baseline: absolute thresholds) (tier base): PASSED")
    assert any(r.split()[:2] == ["N/A", "token_f1.regression"] for r in text.splitlines())
    assert gate(based, "lead1-news", "--tier", "future", code=1)["failed"] == ["token_f1"]


def test_a_scorecard_that_checked_nothing_fails(based):
    """Every gate skipped (no value) is not a pass, with or without a baseline."""
    edit_gates(based, lambda g: (g.clear(), g.update(human_pref={"direction": "min", "thresholds": {"base": 0.6}})))
    card = gate(based, "lead1-news", "--tier", "base", code=1)
    assert card["overall_passed"] is False and card["failed"] == [] and card["skipped"] == 1
    assert "nothing was checked" in card["summary"]
    assert "nothing was checked" in based.ledger("gate", "lead1-news", "--tier", "base").stdout


def test_a_required_gate_without_a_value_fails(based):
    edit_gates(based, lambda g: g.update(human_pref={"direction": "min", "thresholds": {"base": 0.6},
                                                     "required": True}))
    card = gate(based, "lead1-news", "--baseline", "news-lead2", "--tier", "base", code=1)
    assert card["failed"] == ["human_pref"]
    assert "fails: required gate" in next(g for g in card["gates"] if g["name"] == "human_pref")["note"]
    assert gate(based, "lead1-news", "--baseline", "news-lead2", "--tier", "base",
                "--metric", "human_pref=0.9", code=0)["sources"] == {"human_pref": "supplied"}


def test_metrics_from_files_supply_values_and_their_digests_are_inputs(based, tmp_path):
    edit_gates(based, lambda g: g.update(**{"shadow.agreement": {"direction": "min", "thresholds": {"base": 0.8}}}))
    shadow = tmp_path / "shadow.json"
    shadow.write_text(json.dumps({"shadow": {"agreement": 0.9, "note": "text is ignored"}}))
    card = gate(based, "lead1-news", "--tier", "base", "--metrics-from", str(shadow), code=0)
    row = next(g for g in card["gates"] if g["name"] == "shadow.agreement")
    assert row["passed"] is True and row["value"] == 0.9 and row["source"] == "supplied"
    assert list(card["metrics_from"].values()) == [hashlib.sha256(shadow.read_bytes()).hexdigest()]
    before = card["inputs_sha256"]
    shadow.write_text(json.dumps({"shadow": {"agreement": 0.7}}))
    card = gate(based, "lead1-news", "--tier", "base", "--metrics-from", str(shadow), code=1)
    assert card["failed"] == ["shadow.agreement"] and card["inputs_sha256"] != before
    for bad, needle in (("[1, 2]", "must be a JSON object"), ("{nope", "not a JSON file")):
        shadow.write_text(bad)
        assert needle in refused(based.ledger("gate", "lead1-news", "--tier", "base", "--metrics-from", str(shadow)))
    assert "no such file" in refused(based.ledger("gate", "lead1-news", "--tier", "base",
                                                  "--metrics-from", str(tmp_path / "nope.json")))


def test_non_comparable_baseline_exits_2(based):
    declare_run(based, "ner-kw", "data/eval/configs/ner-keyword.yaml", "data/eval/datasets/ner_news.jsonl")
    based.commit_all("declare ner run")
    based.dvc("repro", "-q")
    err = refused(based.ledger("gate", "ner-kw", "--baseline", "news-lead2", "--tier", "base"))
    assert "not comparable: run ner-kw vs baseline news-lead2" in err
    assert "suite_fingerprint differs" in err and "data differs" in err and "evaluator_version differs" in err


@pytest.mark.parametrize("change, needle", [
    (lambda g: g["token_f1"].update(direction="up"), "gates.token_f1.direction must be min or max, not 'up'"),
    (lambda g: g["token_f1"]["thresholds"].update(prod=0.9), "gates.token_f1.thresholds: unknown tier 'prod'"),
    (lambda g: g["empty_rate"].update(treshold=1), "gates.empty_rate: unknown key(s) treshold"),
    (lambda g: g["token_f1"].update(max_regression=-1), "max_regression.base must be a non-negative number"),
    (lambda g: g["token_f1"]["thresholds"].update(base="high"), "thresholds.base must be a number"),
])
def test_invalid_gate_definitions_exit_2(based, change, needle):
    edit_gates(based, change)
    assert needle in refused(based.ledger("gate", "lead1-news", "--baseline", "news-lead2", "--tier", "base"))


def test_reference_is_informational(based):
    assert based.ledger("promote", "lead1-news", "--as", "reference", "--quality", "gold", "--id", "gold1",
                        "--reason", "checked").returncode == 0
    args = ("news-lead2", "--baseline", "news-lead2")
    # The baseline itself breaks compression_ratio at every tier: exit 1 with or without a reference.
    plain = gate(based, *args, "--tier", "base", code=1)
    with_ref = gate(based, *args, "--tier", "base", "--reference", "gold1", code=1)
    assert with_ref["failed"] == plain["failed"] == ["compression_ratio"]
    assert with_ref["inputs_sha256"] == plain["inputs_sha256"]
    ref = with_ref["reference"]
    assert ref["id"] == "gold1" and ref["quality"] == "gold" and ref["comparable"] is True and ref["informational"]
    base_m = based.read_json("data/eval/baselines/news-lead2/metrics.json")["metrics"]
    gold_m = based.read_json("data/eval/references/gold/summarization/gold1/metrics.json")["metrics"]
    d = {x["metric"]: x for x in ref["deltas"]}
    assert d["token_f1"]["value"] == base_m["token_f1"] and d["token_f1"]["reference"] == gold_m["token_f1"]
    assert abs(d["token_f1"]["delta"] - (base_m["token_f1"] - gold_m["token_f1"])) < 1e-9
    text = based.ledger("gate", *args, "--tier", "base", "--reference", "gold1").stdout
    assert "reference gold1 (gold, informational, does not change the result):" in text
    # passing stays passing with a reference
    edit_gates(based, lambda g: g["compression_ratio"]["thresholds"].update(base=0.9))
    assert gate(based, *args, "--tier", "base", "--reference", "gold1", code=0)["overall_passed"] is True
    # the id must be a reference
    assert "'news-lead2' is a baseline, not a reference" in refused(
        based.ledger("gate", *args, "--tier", "base", "--reference", "news-lead2"))


def test_scorecard_function_for_other_callers(based):
    card = gates.scorecard(based.root, {"token_f1": 0.3, "compression_ratio": 0.2, "empty_rate": 0.0}, "base",
                           {"token_f1": 0.4}, run_id="x", baseline_id="b", task="summarization")
    assert card["run_id"] == "x" and card["baseline_id"] == "b" and card["overall_passed"] is False
    assert card["failed"] == ["token_f1.regression"]  # dropped 0.1 > 0.05
    no_base = gates.scorecard(based.root, {"token_f1": 0.3, "compression_ratio": 0.2, "empty_rate": 0.0}, "base", None,
                              task="summarization")  # params.yaml also gates the example classifier
    assert no_base["overall_passed"] is True and no_base["skipped"] == 0 and no_base["not_applicable"] == 1
    assert "no baseline" in next(g for g in no_base["gates"] if g["name"] == "token_f1.regression")["note"]
    nan = gates.scorecard(based.root, {"token_f1": float("nan"), "compression_ratio": 0.2, "empty_rate": 0.0},
                          "base", None, task="summarization")
    assert "token_f1" in nan["failed"]  # present but unusable: a failure, never a skip
