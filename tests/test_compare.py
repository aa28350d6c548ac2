"""`ledger compare A B [--json]` on real runs: deltas, params/env diff, commits between, and the
refusals (exit 2, naming the differing field) for another dataset or another task."""

from __future__ import annotations

import json
import random

import yaml

from conftest import declare_run
from ledger import compare
from ledger.gitops import Git


def add_run(repo, run_id: str, config: dict | None = None, config_path: str | None = None,
            dataset: str = "data/eval/datasets/news_sum.jsonl", commit: bool = True) -> dict:
    """Declare a run (+ its config), commit, `dvc repro` it; returns its metrics.json."""
    if config is not None:
        config_path = f"data/eval/configs/{run_id}.yaml"
        (repo.root / config_path).write_text(yaml.safe_dump(config))
    declare_run(repo, run_id, config_path, dataset)
    if commit:
        repo.commit_all(f"declare run {run_id}")
    repo.dvc("repro", "-q")
    return repo.read_json(f"data/eval/runs/{run_id}/metrics.json")


def error_line(proc, code: int = 2) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    err = proc.stderr.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    assert proc.stdout == ""
    return err


def test_compare_two_runs_json(repo):
    r = repo.ledger_json("compare", "lead1-news", "lead2-news")
    m1 = repo.read_json("data/eval/runs/lead1-news/metrics.json")["metrics"]
    m2 = repo.read_json("data/eval/runs/lead2-news/metrics.json")["metrics"]
    assert r["comparable"] is True and r["task"] == "summarization"
    assert r["a"]["id"] == "lead1-news" and r["b"]["id"] == "lead2-news" and r["a"]["kind"] == "run"
    assert {m["metric"] for m in r["metrics"]} == set(m1) == set(m2)
    for m in r["metrics"]:
        assert m["a"] == m1[m["metric"]] and m["b"] == m2[m["metric"]]
        assert abs(m["delta"] - (m2[m["metric"]] - m1[m["metric"]])) < 1e-9
    params = {p["param"]: (p["a"], p["b"]) for p in r["params"]}
    assert params == {"config.params.sentences": (1, 2),
                      "run.config": ("data/eval/configs/lead1.yaml", "data/eval/configs/lead2.yaml"),
                      "run.code": ("data/eval/configs/lead1.yaml", "data/eval/configs/lead2.yaml")}
    assert r["env"]["identical"] is True and r["env"]["added"] == r["env"]["removed"] == {}
    fp = repo.read_json("data/eval/runs/lead1-news/fingerprint.json")
    assert r["code"]["relation"] == "same" and r["code"]["a"] == fp["code"]["commit"] and r["code"]["count"] == 0


def test_compare_text_table(repo):
    proc = repo.ledger("compare", "lead1-news", "lead2-news")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert out[0].startswith("compare lead1-news (run) -> lead2-news (run): comparable (task summarization")
    assert out[2].split() == ["metric", "a", "b", "delta"]
    row = next(line.split() for line in out if line.split()[:1] == ["token_f1"])
    m1 = repo.read_json("data/eval/runs/lead1-news/metrics.json")["metrics"]["token_f1"]
    m2 = repo.read_json("data/eval/runs/lead2-news/metrics.json")["metrics"]["token_f1"]
    assert float(row[1]) == round(m1, 6) and float(row[2]) == round(m2, 6)
    assert row[3].startswith("+") and abs(float(row[3]) - (m2 - m1)) < 1e-5
    assert "  config.params.sentences: 1 -> 2" in out
    assert "env: identical" in out and any(line.startswith("code: ") and "same commit" in line for line in out)


def test_compare_promoted_baseline_with_a_later_run_lists_commits_between(repo):
    assert repo.ledger("promote", "lead1-news", "--as", "baseline", "--id", "b1", "--reason", "r").returncode == 0
    add_run(repo, "lead3-news", {"task": "summarization", "provider": "lead", "params": {"sentences": 3}})
    old = repo.read_json("data/eval/baselines/b1/fingerprint.json")["code"]["commit"]
    new = repo.read_json("data/eval/runs/lead3-news/fingerprint.json")["code"]["commit"]
    r = repo.ledger_json("compare", "b1", "lead3-news")
    assert r["a"]["kind"] == "baseline" and r["b"]["kind"] == "run"
    count = int(repo.git("rev-list", "--count", f"{old}..{new}"))
    assert count >= 3  # materialize commit, promotion commit, run declaration
    assert r["code"]["relation"] == "forward" and r["code"]["count"] == count
    assert r["code"]["commits"][0] == {"sha": new[:12], "subject": "declare run lead3-news"}
    assert any(c["subject"].startswith("promote: lead1-news -> baseline/b1") for c in r["code"]["commits"])
    back = repo.ledger_json("compare", "lead3-news", "b1")
    assert back["code"]["relation"] == "backward" and back["code"]["count"] == count
    assert {m["metric"]: m["delta"] for m in back["metrics"]} == \
        {m["metric"]: -m["delta"] for m in r["metrics"]}
    text = repo.ledger("compare", "b1", "lead3-news").stdout
    assert f"{count} commit(s) from a to b" in text and f"  {new[:12]} declare run lead3-news" in text


def test_compare_refuses_a_shuffled_dataset_naming_data(repo):
    lines = (repo.root / "data/eval/datasets/news_sum.jsonl").read_text().splitlines(keepends=True)
    random.Random(7).shuffle(lines)
    (repo.root / "data/eval/datasets/news_shuffled.jsonl").write_text("".join(lines))
    repo.dvc("add", "-q", "data/eval/datasets/news_shuffled.jsonl")
    add_run(repo, "lead1-shuffled", config_path="data/eval/configs/lead1.yaml",
            dataset="data/eval/datasets/news_shuffled.jsonl")
    fa = repo.read_json("data/eval/runs/lead1-news/fingerprint.json")
    fb = repo.read_json("data/eval/runs/lead1-shuffled/fingerprint.json")
    assert fa["suite_fingerprint"] == fb["suite_fingerprint"]  # same cases, other order: other bytes
    err = error_line(repo.ledger("compare", "lead1-news", "lead1-shuffled"))
    assert "not comparable: lead1-news vs lead1-shuffled: data differs" in err
    assert "suite_fingerprint" not in err and "evaluator_version" not in err
    assert fa["data"]["data/eval/datasets/news_sum.jsonl"][:12] in err
    assert compare.comparability(fa, fb) == [err.split(": ", 3)[3]]


def test_compare_refuses_another_task_naming_every_field(repo):
    add_run(repo, "ner-kw", config_path="data/eval/configs/ner-keyword.yaml",
            dataset="data/eval/datasets/ner_news.jsonl")
    err = error_line(repo.ledger("compare", "ner-kw", "lead2-news", "--json"))
    for field in ("suite_fingerprint differs", "data differs",
                  "evaluator_version differs (ner-eval/1 vs summarization-eval/1)"):
        assert field in err, err


def test_comparability_function():
    fp = {"suite_fingerprint": "s" * 64, "data": {"a.jsonl": "m" * 32}, "evaluator_version": "e/1"}
    assert compare.comparability(fp, dict(fp)) == []
    assert compare.comparability(fp, {**fp, "data": {"renamed.jsonl": "m" * 32}}) == []  # same bytes
    assert [d.split()[0] for d in compare.comparability(fp, {**fp, "evaluator_version": "e/2"})] == ["evaluator_version"]
    missing = compare.comparability({}, {})  # nothing recorded: cannot be shown comparable
    assert [d.split()[0] for d in missing] == ["suite_fingerprint", "data", "evaluator_version"]


def test_env_diff_added_removed_changed():
    a = {"python": "3.11.2", "platform": "linux", "packages": {"dvc": "3.67.0", "numpy": "1.0", "old": "1"}}
    b = {"python": "3.12.1", "platform": "linux", "packages": {"dvc": "3.67.1", "numpy": "1.0", "new": "2"}}
    d = compare.env_diff(a, b)
    assert d == {"added": {"new": "2"}, "removed": {"old": "1"}, "identical": False,
                 "changed": {"dvc": {"a": "3.67.0", "b": "3.67.1"}, "python": {"a": "3.11.2", "b": "3.12.1"}}}
    assert compare.env_diff(a, a)["identical"] is True


def test_code_between_unrelated_and_unknown_commits(repo):
    git = Git(repo.root)
    head = repo.git("rev-parse", "HEAD")
    tree = repo.git("rev-parse", "HEAD^{tree}")
    orphan = repo.git("commit-tree", tree, "-m", "orphan history")
    assert compare.code_between(git, head, orphan)["relation"] == "unrelated"
    assert compare.code_between(git, head, "0" * 40)["relation"] == "unknown"
    assert compare.code_between(git, head, None)["relation"] == "unknown"
    first = repo.git("rev-list", "--max-parents=0", "HEAD")
    fwd = compare.code_between(git, first, head)
    assert fwd["relation"] == "forward" and fwd["count"] == int(repo.git("rev-list", "--count", f"{first}..HEAD"))


def test_compare_unknown_or_tampered(repo):
    assert "no run or promoted artifact named 'nope'" in error_line(repo.ledger("compare", "lead1-news", "nope"))
    assert "invalid run or promoted id" in error_line(repo.ledger("compare", "../x", "lead1-news"))
    path = repo.root / "data/eval/runs/lead2-news/metrics.json"
    data = json.loads(path.read_text())
    data["metrics"]["token_f1"] = 0.99
    path.write_text(json.dumps(data))
    assert "metrics.json does not match its fingerprint digest" in error_line(
        repo.ledger("compare", "lead1-news", "lead2-news"))


def test_one_added_param_is_one_line():
    from ledger import compare

    a = {"config": {"task": "t", "params": {}}}
    b = {"config": {"task": "t", "params": {"bias": 1}}}
    assert compare.params_diff(a, b) == [{"param": "config.params.bias", "a": None, "b": 1}]
