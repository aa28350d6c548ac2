"""The incident: production summaries are too long (the promoted baseline breaks the
compression_ratio gate). A candidate that "fixes" it by emitting one-word or empty summaries
passes the incident gate but fails the usefulness guardrails (token_f1, empty_rate, token_f1
regression vs the baseline): `ledger gate` exits 1, the run is rejected and stays visible as
FAILED in `ledger list --all`. A sensible fix (lead-1) passes."""

from __future__ import annotations

import json

import yaml

from conftest import declare_run, stage
GATE = ("--baseline", "news-lead2", "--tier", "base")


def declare(repo, run_id: str, params: dict) -> None:
    (repo.root / f"data/eval/configs/{run_id}.yaml").write_text(
        yaml.safe_dump({"task": "summarization", "provider": "lead", "params": params}))
    declare_run(repo, run_id, f"data/eval/configs/{run_id}.yaml")


def scorecard(repo, run: str, code: int) -> dict:
    proc = repo.ledger("gate", run, *GATE, "--json")
    assert proc.returncode == code, (run, proc.returncode, proc.stdout, proc.stderr)
    card = json.loads(proc.stdout)
    card["by"] = {g["name"]: g for g in card["gates"]}
    return card


def test_incident_fix_that_fails_a_usefulness_guardrail_is_rejected(repo):
    # Production baseline: lead-2 summaries.
    assert repo.ledger("promote", "lead2-news", "--as", "baseline", "--id", "news-lead2",
                       "--reason", "production summarizer").returncode == 0

    # The incident, made a gate: the current baseline breaks the compression_ratio gate.
    incident = scorecard(repo, "news-lead2", 1)
    assert incident["failed"] == ["compression_ratio"]
    assert incident["by"]["compression_ratio"]["value"] > incident["by"]["compression_ratio"]["threshold"]

    # Two lazy "fixes" and a sensible one already in the workspace (lead1-news).
    declare(repo, "lead-oneword", {"sentences": 2, "max_words": 1})
    declare(repo, "lead-empty", {"sentences": 0})
    repo.commit_all("candidates for the long-summary incident")
    repo.dvc("repro", "-q")
    for run in ("lead-oneword", "lead-empty"):
        # gating wrote data/eval/scorecards/news-lead2.json (untracked): not code, so not dirt
        assert repo.read_json(f"data/eval/runs/{run}/fingerprint.json")["code"]["dirty"] is False

    oneword = scorecard(repo, "lead-oneword", 1)
    assert oneword["by"]["compression_ratio"]["passed"] is True  # the incident is "fixed"...
    assert oneword["by"]["empty_rate"]["passed"] is True
    assert sorted(oneword["failed"]) == ["token_f1", "token_f1.regression"]  # ...by useless summaries
    assert oneword["overall_passed"] is False

    empty = scorecard(repo, "lead-empty", 1)
    assert empty["by"]["compression_ratio"]["passed"] is True
    assert sorted(empty["failed"]) == ["empty_rate", "token_f1", "token_f1.regression"]
    assert empty["by"]["empty_rate"]["value"] == 1.0

    good = scorecard(repo, "lead1-news", 0)
    assert good["overall_passed"] is True and good["failed"] == []
    assert good["by"]["compression_ratio"]["value"] < incident["by"]["compression_ratio"]["value"]
    assert good["by"]["token_f1.regression"]["value"] <= 0.05

    # Rejected runs stay visible, with why.
    rows = {r.split()[1]: r for r in repo.ledger("list", "--all").stdout.splitlines()}
    assert "gate FAILED (token_f1, token_f1.regression) at base vs news-lead2" in rows["lead-oneword"]
    assert "gate FAILED (empty_rate, token_f1, token_f1.regression) at base vs news-lead2" in rows["lead-empty"]
    assert rows["lead1-news"].endswith("gate passed at base vs news-lead2")
    items = {i.get("run_id"): i for i in json.loads(repo.ledger("list", "--all", "--json").stdout)
             if i["role"] == "run"}
    assert items["lead-oneword"]["gate"]["status"] == "failed"
    assert items["lead-empty"]["gate"]["failed"] == ["empty_rate", "token_f1", "token_f1.regression"]
    assert items["lead1-news"]["gate"]["status"] == "passed" and items["lead1-news"]["gate"]["stale"] is False

    # The scorecards are plain files for the PR: commit them with the decision.
    repo.git("add", "data/eval/scorecards")
    repo.git("commit", "-q", "-m", "gate results for the incident candidates")
    assert set(repo.git("ls-files", "data/eval/scorecards").split()) == {
        f"data/eval/scorecards/{r}.json" for r in ("news-lead2", "lead-oneword", "lead-empty", "lead1-news")}
    assert repo.git("status", "--porcelain", "data/eval/scorecards") == ""


def test_list_all_gate_status_not_gated_and_stale(repo):
    assert repo.ledger("promote", "lead2-news", "--as", "baseline", "--id", "news-lead2",
                       "--reason", "prod").returncode == 0
    items = [i for i in json.loads(repo.ledger("list", "--all", "--json").stdout) if i["role"] == "run"]
    assert [i["gate"] for i in items] == [{"status": "not gated"}]
    row = repo.ledger("list", "--all").stdout.splitlines()[-1]
    assert row.split() == ["run", "lead1-news", "data/eval/runs/lead1-news"]  # ungated: unchanged row
    assert repo.ledger("gate", "lead1-news", *GATE).returncode == 0
    # Re-executing the run (new code commit) makes the recorded gate result stale.
    repo.git("commit", "-q", "--allow-empty", "-m", "new code")
    repo.dvc("repro", "-q", "--force", stage("lead1-news"))
    (item,) = [i for i in json.loads(repo.ledger("list", "--all", "--json").stdout) if i["role"] == "run"]
    assert item["gate"]["status"] == "passed" and item["gate"]["stale"] is True
    assert repo.ledger("list", "--all").stdout.splitlines()[-1].endswith("(stale: run re-executed since)")
