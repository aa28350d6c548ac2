"""`ledger score RUN --reference ID`: ROUGE (rouge-score) and entity P/R/F1 against promoted
references, on real repos with real DVC runs and signed promotions."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from conftest import declare_run

from test_verify import sorting_both_ways

ROUGE = [f"{t}_{p}" for t in ("rouge1", "rouge2", "rougeL") for p in ("precision", "recall", "fmeasure")]
NEWS = "data/eval/datasets/news_sum.jsonl"


def declare_runs(box, runs: dict[str, tuple[str, str]], message: str) -> None:
    """Declare runs, commit, `dvc repro`, commit (so their code is clean)."""
    for run_id, (config, dataset) in runs.items():
        declare_run(box, run_id, config, dataset)
    box.commit_all(f"declare {message}")
    box.dvc("repro", "-q")
    box.commit_all(f"materialize {message}")


def promote(box, run_id: str, pid: str, *extra: str) -> None:
    proc = box.ledger("promote", run_id, "--id", pid, "--reason", f"{pid} for scoring", *extra)
    assert proc.returncode == 0, proc.stderr


def score(box, run: str, ref: str) -> dict:
    proc = box.ledger("score", run, "--reference", ref, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def refused(box, *args: str) -> str:
    proc = box.ledger(*args)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


def predictions(box, rel_dir: str) -> dict[str, dict]:
    rows = [json.loads(line) for line in (box.root / rel_dir / "predictions.jsonl").read_text().splitlines()]
    return {r["case_id"]: r for r in rows}


def test_rouge_is_one_for_the_same_config_and_lower_for_another(repo):
    n_cases = len((repo.root / NEWS).read_text().splitlines())
    promote(repo, "lead1-news", "lead1-ref", "--as", "reference")  # silver by default
    declare_runs(repo, {"lead1-again": ("data/eval/configs/lead1.yaml", NEWS)}, "lead1 again")

    same = score(repo, "lead1-again", "lead1-ref")
    assert set(same) >= {"run", "reference", "quality", "task", "n_cases", "metrics"}
    assert (same["run"], same["reference"], same["quality"], same["task"]) == \
        ("lead1-again", "lead1-ref", "silver", "summarization")
    assert same["n_cases"] == n_cases == 12
    assert sorted(same["metrics"]) == sorted(ROUGE)
    assert all(same["metrics"][m] == 1.0 for m in ROUGE), same["metrics"]
    assert same["scorer"]["library"].startswith("rouge-score ")

    # lead-2 summaries contain the lead-1 sentence plus one more: every reference n-gram is
    # found (recall 1.0) but half-ish of the predicted ones are extra (precision < 1).
    other = score(repo, "lead2-news", "lead1-ref")["metrics"]
    assert other["rouge1_recall"] == 1.0 and other["rougeL_recall"] == 1.0
    assert 0.3 < other["rouge1_precision"] < 0.9
    assert 0.3 < other["rouge1_fmeasure"] < 1.0
    assert other["rouge2_fmeasure"] <= other["rouge1_fmeasure"]

    # A gold reference, and a promoted id as the scored side (resolved like a run).
    promote(repo, "lead2-news", "lead2-gold", "--as", "reference", "--quality", "gold")
    gold = score(repo, "lead1-again", "lead2-gold")
    assert gold["quality"] == "gold"
    assert gold["metrics"]["rouge1_precision"] == 1.0 and gold["metrics"]["rouge1_recall"] < 1.0
    # Swapping target and prediction swaps precision and recall.
    assert gold["metrics"]["rouge1_recall"] == other["rouge1_precision"]
    promoted_side = score(repo, "lead1-ref", "lead2-gold")
    assert promoted_side["metrics"] == gold["metrics"] and promoted_side["run"] == "lead1-ref"

    text = repo.ledger("score", "lead2-gold", "--reference", "lead1-ref")  # references never fail
    assert text.returncode == 0 and "rouge1_fmeasure" in text.stdout and "lead1-ref (silver)" in text.stdout


def test_ner_entity_scores_against_a_gold_reference(repo):
    (repo.root / "data/eval/configs/ner-loose.yaml").write_text(
        "task: ner_entities\nprovider: keyword_ner\nparams:\n  min_length: 2\n  skip_sentence_start: false\n")
    ner = "data/eval/datasets/ner_news.jsonl"
    declare_runs(repo, {"ner-strict": ("data/eval/configs/ner-keyword.yaml", ner),
                        "ner-loose": ("data/eval/configs/ner-loose.yaml", ner)}, "ner runs")
    promote(repo, "ner-strict", "ner-gold", "--as", "reference", "--quality", "gold")
    gold_dir = "data/eval/references/gold/ner_entities/ner-gold"
    gold = predictions(repo, gold_dir)
    loose = predictions(repo, "data/eval/runs/ner-loose")
    n_gold = sum(len(p["entities"]) for p in gold.values())
    extra = sum(len(set(loose[c]["entities"]) - set(gold[c]["entities"])) for c in gold)
    assert extra > 0 and all(set(gold[c]["entities"]) <= set(loose[c]["entities"]) for c in gold)

    result = score(repo, "ner-loose", "ner-gold")
    m = result["metrics"]
    assert (result["task"], result["quality"], result["n_cases"]) == ("ner_entities", "gold", len(gold))
    assert m["reference_entities"] == m["true_positives"] == n_gold
    assert m["run_entities"] == n_gold + extra
    assert m["entity_recall"] == 1.0  # the loose tagger finds every reference entity
    assert m["entity_precision"] == round(n_gold / (n_gold + extra), 6) < 1.0
    p = n_gold / (n_gold + extra)
    assert m["entity_f1"] == round(2 * p / (p + 1), 6)

    assert score(repo, "ner-gold", "ner-gold")["metrics"]["entity_f1"] == 1.0

    line = refused(repo, "score", "lead1-news", "--reference", "ner-gold")
    assert "task differs" in line and "summarization" in line and "ner_entities" in line


def test_refusals_name_the_reason_and_write_nothing(repo):
    promote(repo, "lead1-news", "b1", "--as", "baseline")
    # A reference evaluated on other cases: the first five news cases only.
    small = "data/eval/datasets/news_small.jsonl"
    lines = (repo.root / NEWS).read_text().splitlines(keepends=True)
    (repo.root / small).write_text("".join(lines[:5]))
    repo.dvc("add", "-q", small)
    declare_runs(repo, {"small-lead1": ("data/eval/configs/lead1.yaml", small)}, "small suite")
    promote(repo, "small-lead1", "small-ref", "--as", "reference")
    before = repo.snapshot()

    line = refused(repo, "score", "lead2-news", "--reference", "small-ref")
    assert "suite_fingerprint differs" in line
    assert "not a reference" in refused(repo, "score", "lead2-news", "--reference", "b1")
    assert "no run or promoted artifact named 'nope'" in refused(repo, "score", "lead2-news", "--reference", "nope")
    assert "no run or promoted artifact named 'nope'" in refused(repo, "score", "nope", "--reference", "small-ref")
    assert "invalid" in refused(repo, "score", "lead2-news", "--reference", "../x")
    assert repo.snapshot() == before


def test_reference_predictions_come_from_the_dvc_cache(repo):
    promote(repo, "lead1-news", "r1", "--as", "reference")
    pred = repo.root / "data/eval/references/silver/r1/predictions.jsonl"
    expected = score(repo, "lead2-news", "r1")["metrics"]
    pred.unlink()  # e.g. a fresh clone: only the .dvc pointer is in git

    assert score(repo, "lead2-news", "r1")["metrics"] == expected
    assert pred.is_file()  # placed from the cache: the object the signed record names

    md5 = yaml.safe_load(Path(f"{pred}.dvc").read_text())["outs"][0]["md5"]
    pred.unlink()
    (repo.root / ".dvc/cache/files/md5" / md5[:2] / md5[2:]).unlink()
    line = refused(repo, "score", "lead2-news", "--reference", "r1")
    assert "`ledger pull r1`" in line and "r1/predictions.jsonl" in line
    assert not pred.exists()


def test_a_replaced_dvc_cache_object_is_refused_not_scored(repo):
    """Content of DVC-tracked outputs: the cache object behind a promoted reference is replaced
    (same md5 path, other bytes); score restores it and must refuse it by its signed sha256."""
    promote(repo, "lead1-news", "r1", "--as", "reference")
    pred = repo.root / "data/eval/references/silver/r1/predictions.jsonl"
    md5 = yaml.safe_load(Path(f"{pred}.dvc").read_text())["outs"][0]["md5"]
    obj = repo.root / ".dvc/cache/files/md5" / md5[:2] / md5[2:]
    forged = pred.read_bytes().replace(b"summary", b"summary ", 1)
    pred.unlink()
    obj.chmod(0o644)
    obj.unlink()
    obj.write_bytes(forged)
    line = refused(repo, "score", "lead2-news", "--reference", "r1")
    assert "does not match the sha256 its signed promotion record holds" in line


def test_verify_data_checks_the_dvc_cache_object_and_names_what_it_could_not_check(repo):
    promote(repo, "lead1-news", "r1", "--as", "reference")
    ok = repo.ledger("verify", "--data")
    assert ok.returncode == 0 and "predictions in the DVC cache match the signed sha256" in ok.stdout
    pred = repo.root / "data/eval/references/silver/r1/predictions.jsonl"
    md5 = yaml.safe_load(Path(f"{pred}.dvc").read_text())["outs"][0]["md5"]
    obj = repo.root / ".dvc/cache/files/md5" / md5[:2] / md5[2:]
    data = pred.read_bytes()
    pred.unlink()  # the working tree no longer holds it: only --data can see the cache
    obj.chmod(0o644)
    obj.unlink()
    for forged in sorting_both_ways(data, lambda raw, n: raw.replace(b"summary", b"summary" + b" " * n, 1)):
        obj.write_bytes(forged)
        assert repo.ledger("verify").returncode == 0  # without --data nothing hashes the cache
        bad = repo.ledger("verify", "--data")
        assert bad.returncode == 1 and f"(md5 {md5[:12]}) does not match the signed sha256: replaced in the cache" \
            in bad.stdout
        obj.unlink()
    obj.write_bytes(data)
    obj.unlink()
    gone = repo.ledger("verify", "--data")
    assert gone.returncode == 0 and "predictions NOT CHECKED: not in the local DVC cache" in gone.stdout
