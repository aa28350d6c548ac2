"""`ledger compare` says what changed case by case (from each side's scores.jsonl): per metric
how many cases went up, down or stayed, which 0/1 scores flipped, the largest changes, and the
counts per slice when cases carry slices."""

from __future__ import annotations

import json

from ledger import casediff


def scores(box, rel: str) -> dict[str, dict[str, float]]:
    out = {}
    for line in (box.root / rel / "scores.jsonl").read_text().splitlines():
        rec = json.loads(line)
        out[rec["case_id"]] = rec["scores"]
    return out


def test_compare_counts_every_case_against_the_score_files(promoted):
    box = promoted
    proc = box.ledger("compare", "b1", "lead2-news", "--json")  # a promotion against a run
    assert proc.returncode == 0, proc.stderr
    cases = json.loads(proc.stdout)["cases"]
    a, b = scores(box, "data/eval/baselines/b1"), scores(box, "data/eval/runs/lead2-news")
    assert cases["cases"] == len(a) == len(b) and cases["only_a"] == cases["only_b"] == 0
    assert set(cases["metrics"]) == set(next(iter(a.values())))
    moved = 0
    for metric, row in cases["metrics"].items():
        up = sum(b[c][metric] > a[c][metric] for c in a)
        down = sum(b[c][metric] < a[c][metric] for c in a)
        assert (row["up"], row["down"], row["same"]) == (up, down, len(a) - up - down), metric
        moved += up + down
    assert moved > 0  # lead1 and lead2 summarise differently
    largest = cases["largest"]
    assert largest and [abs(x["delta"]) for x in largest] == sorted((abs(x["delta"]) for x in largest), reverse=True)
    top = largest[0]
    assert top["a"] == a[top["case_id"]][top["metric"]] and top["b"] == b[top["case_id"]][top["metric"]]
    text = box.ledger("compare", "b1", "lead2-news").stdout
    assert f"cases: {len(a)} in both" in text and "largest changes:" in text
    assert f"{top['case_id']} {top['metric']}:" in text


def test_a_broken_score_file_is_one_line(promoted):
    path = promoted.root / "data/eval/runs/lead2-news/scores.jsonl"
    path.write_text(path.read_text() + "{not json\n")
    proc = promoted.ledger("compare", "b1", "lead2-news")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "data/eval/runs/lead2-news/scores.jsonl line 13 is not a per-case score record" in proc.stderr


def test_flips_and_slices():
    a = {"r1": {"acc": 1.0, "f1": 0.5}, "r2": {"acc": 0.0, "f1": 0.5}, "h1": {"acc": 1.0, "f1": 0.2}, "x": {"acc": 1.0}}
    b = {"r1": {"acc": 0.0, "f1": 0.7}, "r2": {"acc": 1.0, "f1": 0.5}, "h1": {"acc": 1.0, "f1": 0.1}, "y": {"acc": 0.0}}
    slices = {"r1": {"split": "regression"}, "r2": {"split": "regression"}, "h1": {"split": "holdout"}}
    d = casediff.diff(a, b, slices)
    assert d["cases"] == 3 and d["only_a"] == 1 and d["only_b"] == 1
    acc, f1 = d["metrics"]["acc"], d["metrics"]["f1"]
    assert acc["binary"] and acc["flipped_down"] == ["r1"] and acc["flipped_up"] == ["r2"]
    assert (acc["up"], acc["down"], acc["same"]) == (1, 1, 1)
    assert acc["slices"] == {"split=holdout": {"up": 0, "down": 0, "same": 1},
                             "split=regression": {"up": 1, "down": 1, "same": 0}}
    assert not f1["binary"] and "flipped_up" not in f1 and (f1["up"], f1["down"], f1["same"]) == (1, 1, 1)
    assert [(x["case_id"], x["metric"]) for x in d["largest"]] == [("r1", "acc"), ("r2", "acc"), ("r1", "f1"), ("h1", "f1")]
    assert "slices" not in casediff.diff(a, b)["metrics"]["acc"]


def test_review_reads_committed_score_files_and_never_crashes_on_a_broken_one():
    good = b'{"case_id": "c1", "scores": {"acc": 1.0}}\n'
    assert casediff.between(None, good, "a", "b") is None
    assert casediff.between(good, b"[1, 2]\n", "a", "b/scores.jsonl") == {
        "error": "b/scores.jsonl line 1 is not a per-case score record"}
    assert casediff.between(good, b'{"case_id": "c1", "scores": {"acc": 0.0}}\n', "a", "b")["metrics"]["acc"][
        "flipped_down"] == ["c1"]
