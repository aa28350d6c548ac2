"""`ledger list --where`: runs and promotions by provenance, through the installed ledger on a
repository with one promotion (b1, from lead1-news) and one run (lead2-news)."""

from __future__ import annotations

import importlib.metadata

import pytest

DATASET = "data/eval/datasets/news_sum.jsonl"


def ids(box, *wheres: str) -> set[str]:
    args = [a for w in wheres for a in ("--where", w)]
    proc = box.ledger("list", *args, "--json")
    assert proc.returncode == 0, proc.stderr
    import json

    return {i.get("promoted_id") or i["run_id"] for i in json.loads(proc.stdout)}


@pytest.fixture
def mixed(promoted):
    box = promoted
    run = box.read_json("data/eval/runs/lead2-news/fingerprint.json")
    rec = box.ledger_json("show", "b1")
    return box, run, rec


def test_code_data_env_and_metric_queries(mixed):
    box, run, rec = mixed
    assert run["code"]["commit"] == rec["code_commit"]  # both ran at the same commit
    code = run["code"]["commit"]
    assert ids(box, f"code={code}") == {"b1", "lead2-news"}
    assert ids(box, f"code={code[:10]}") == {"b1", "lead2-news"}
    assert ids(box, f"code={code}..HEAD") == set()  # the range after it
    (box.root / "NOTES.md").write_text("later\n")
    later = box.commit_all("a later commit")
    box.dvc("repro", "--force", "data/eval/pipelines/lead2-news/dvc.yaml:materialize")
    assert box.read_json("data/eval/runs/lead2-news/fingerprint.json")["code"]["commit"] == later
    assert ids(box, f"code={code}") == {"b1"}
    assert ids(box, f"code={code}..HEAD") == {"lead2-news"} == ids(box, f"code={code}..")
    assert ids(box, f"code={later}~1..{later}") == {"lead2-news"}
    run = box.read_json("data/eval/runs/lead2-news/fingerprint.json")
    md5 = run["data"][DATASET]
    assert ids(box, f"data={md5}") == {"b1", "lead2-news"}
    assert ids(box, f"data=./{DATASET}") == {"b1", "lead2-news"}
    assert ids(box, "data=" + "0" * 32) == set() and ids(box, "data=data/eval/datasets/other.jsonl") == set()
    yaml_version = importlib.metadata.version("PyYAML")
    assert ids(box, f"env=PyYAML=={yaml_version}") == {"b1", "lead2-news"}  # the promotion's from its committed fingerprint
    assert ids(box, f"env=pyyaml=={yaml_version}.0.1") == set()
    f1 = {"b1": rec["metrics"]["token_f1"],
          "lead2-news": box.read_json("data/eval/runs/lead2-news/metrics.json")["metrics"]["token_f1"]}
    low, high = sorted(f1, key=f1.get)
    mid = (f1[low] + f1[high]) / 2
    assert f1[low] < f1[high]
    assert ids(box, f"metric:token_f1 > {mid}") == {high}
    assert ids(box, f"metric:token_f1<={mid}") == {low}
    assert ids(box, f"metric:token_f1 == {f1[high]}") == {high}
    assert ids(box, f"metric:token_f1 != {f1[high]}") == {low}
    assert ids(box, "metric:no_such_metric > 0") == set()
    assert ids(box, f"metric:token_f1 > {mid}", f"data={md5}") == {high}  # ANDed
    assert ids(box, f"metric:token_f1 >= {f1[low]}", f"code={code}") == {"b1"}
    assert ids(box, f"metric:token_f1 > {mid}", "data=" + "f" * 32) == set()
    assert box.ledger("list", "--where", "data=" + "0" * 32).stdout.strip() == "nothing matches"


@pytest.mark.parametrize("expr, needle", [
    ("foo=bar", "expected code=REV|A..B"), ("metric:token_f1 ~ 3", "expected code="),
    ("metric:token_f1 >= high", "'high' is not a number"), ("code=no-such-rev", "unknown revision"),
    ("code=HEAD..no-such", "unknown revision 'no-such'"), ("env=pyyaml", "env wants PACKAGE==VERSION"),
    ("data=", "expected code="), ("code=\x1b[31mred", "unknown revision"),
])
def test_a_bad_where_is_one_line(promoted, expr, needle):
    proc = promoted.ledger("list", "--where", expr)
    assert proc.returncode == 2 and needle in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "\x1b" not in proc.stderr and not proc.stdout


def test_a_broken_fingerprint_in_the_workspace_matches_nothing_and_breaks_nothing(promoted):
    path = promoted.root / "data/eval/runs/lead2-news/fingerprint.json"
    path.write_text("{not json")
    code = promoted.ledger_json("show", "b1")["code_commit"]
    assert ids(promoted, f"code={code}") == {"b1"}
