"""`ledger review`: the PR report for promotion commits, on real repos with real signed tags."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

PROJECT = Path(__file__).resolve().parents[1]
BASELINES = "data/eval/baselines"


def _promote(repo, run: str, pid: str, reason: str, *extra: str) -> None:
    proc = repo.ledger("promote", run, "--as", "baseline", "--id", pid, "--reason", reason, *extra)
    assert proc.returncode == 0, proc.stderr


def _review(repo, *args: str):
    proc = repo.ledger("review", "--format", "json", *args)
    assert proc.stdout.strip(), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def _metrics(repo, pid: str) -> dict:
    return repo.read_json(f"{BASELINES}/{pid}/metrics.json")["metrics"]


def test_clean_promotion_pr(repo):
    main_head = repo.git("rev-parse", "HEAD")
    repo.git("checkout", "-q", "-b", "pr")
    _promote(repo, "lead2-news", "news-lead2", "lead-2 | <b>first</b> summarization baseline")
    commit = repo.git("rev-parse", "HEAD")

    md = repo.ledger("review")
    assert md.returncode == 0, md.stdout + md.stderr
    text = md.stdout
    assert text.startswith("## ✅ ledger review: 1 promotion(s), verify passed")
    assert "`baseline/news-lead2`" in text and "news-lead2" in text
    assert "lead-2 \\| &lt;b&gt;first&lt;/b&gt; summarization baseline" in text  # escaped, not raw HTML
    assert "✅ alice@example.com" in text
    assert "| metric | this |" in text and "| token_f1 |" in text
    assert "no comparable baseline" in text
    assert "<details><summary>Provenance</summary>" in text
    assert "Red flags" not in text

    rc, rep = _review(repo)
    assert rc == 0 and rep["ok"] and rep["verify"]["ok"]
    assert rep["range"]["base"] == main_head and rep["range"]["head"] == commit
    assert rep["range"]["spec"] == "merge-base(main, HEAD)..HEAD" and rep["signers_from"] == main_head
    (p,) = rep["promotions"]
    assert p["commit"] == commit and p["promoted_id"] == "news-lead2" and p["role"] == "baseline"
    assert p["run_id"] == "lead2-news" and p["path"] == f"{BASELINES}/news-lead2"
    assert p["reason"] == "lead-2 | <b>first</b> summarization baseline"
    assert p["promoted_by"] == "Alice <alice@example.com>" and p["tag"]["tagger"] == "Alice <alice@example.com>"
    assert p["tag"]["name"] == "promote/baseline/news-lead2" and p["tag"]["commit"] == commit
    assert p["signature"] == {"status": "valid", "signer": "alice@example.com", "detail": None}
    assert p["task"] == "summarization" and p["metrics"] == _metrics(repo, "news-lead2")
    fp = repo.read_json(f"{BASELINES}/news-lead2/fingerprint.json")
    prov = p["provenance"]
    assert prov["code_commit"] == fp["code"]["commit"] and prov["dirty"] is False
    repo.git("merge-base", "--is-ancestor", prov["code_commit"], main_head)
    assert prov["data"] == fp["data"] and prov["data"]
    assert prov["env_lock_sha256"] == fp["env"]["lock_sha256"] and prov["python"] == fp["env"]["python"]
    assert prov["suite_fingerprint"] == fp["suite_fingerprint"]
    assert prov["evaluator_version"] == fp["evaluator_version"]
    assert p["baseline"] is None and p["note"] == "no comparable baseline" and p["deltas"] == []
    card = p["gates"]["scorecard"]
    assert card["tier"] == "base" and card["run_id"] == "news-lead2" and card["baseline_id"] is None
    by_name = {g["name"]: g for g in card["gates"]}
    assert by_name["token_f1"]["passed"] is True and by_name["token_f1"]["value"] == p["metrics"]["token_f1"]
    assert by_name["token_f1.regression"]["passed"] is None and card["not_applicable"] >= 1  # no baseline
    assert p["gates"]["status"] == ("passed" if card["overall_passed"] else "failed")
    assert rep["red_flags"] == [] and p["problems"] == []

    # In CI the PR head is a merge commit on top of the base: a clean merge is not a red flag.
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--no-ff", "pr", "-m", "Merge pr")
    rc, rep = _review(repo, "--range", f"{main_head}..HEAD")
    assert rc == 0 and rep["red_flags"] == [] and [x["promoted_id"] for x in rep["promotions"]] == ["news-lead2"]


def test_second_baseline_shows_deltas_against_first(repo):
    _promote(repo, "lead1-news", "news-lead1", "first baseline")
    repo.git("checkout", "-q", "-b", "pr")
    _promote(repo, "lead2-news", "news-lead2", "lead-2 beats lead-1")
    rc, rep = _review(repo, "--tier", "base")
    assert rc == 0, rep
    (p,) = rep["promotions"]  # the main-branch promotion is not part of the PR
    assert p["baseline"]["promoted_id"] == "news-lead1" and p["note"] is None
    first, second = _metrics(repo, "news-lead1"), _metrics(repo, "news-lead2")
    deltas = {d["metric"]: d for d in p["deltas"]}
    assert set(deltas) == set(first) | set(second)
    for name, d in deltas.items():
        assert d["baseline"] == first[name] and d["value"] == second[name]
        assert abs(d["delta"] - (second[name] - first[name])) < 1e-9
    assert any(d["delta"] != 0 for d in deltas.values())
    # what changed case by case, from the two committed scores.jsonl
    cases = p["cases"]
    a = {json.loads(x)["case_id"]: json.loads(x)["scores"] for x in
         (repo.root / "data/eval/baselines/news-lead1/scores.jsonl").read_text().splitlines()}
    b = {json.loads(x)["case_id"]: json.loads(x)["scores"] for x in
         (repo.root / "data/eval/baselines/news-lead2/scores.jsonl").read_text().splitlines()}
    f1 = cases["metrics"]["token_f1"]
    assert cases["cases"] == len(a) and f1["up"] == sum(b[c]["token_f1"] > a[c]["token_f1"] for c in a)
    assert f1["down"] == sum(b[c]["token_f1"] < a[c]["token_f1"] for c in a) and f1["up"] + f1["down"] > 0
    md = repo.ledger("review", "--tier", "base").stdout
    assert f"#### What changed, case by case ({len(a)} cases in both)" in md
    assert f"| token_f1 | {f1['up']} | {f1['down']} | {f1['same']} |" in md
    assert "Largest changes vs `news-lead1`" in md
    # gates use the thresholds at BASE even when the PR loosens them, and the change is flagged
    card = p["gates"]["scorecard"]
    gates = {g["name"]: g for g in card["gates"]}
    assert card["baseline_id"] == "news-lead1" and rep["gates_from"] == rep["range"]["base"]
    assert gates["token_f1.regression"]["passed"] is True
    assert abs(gates["token_f1.regression"]["value"] - (first["token_f1"] - second["token_f1"])) < 1e-9
    assert second["compression_ratio"] > 0.6 and gates["compression_ratio"]["passed"] is False
    assert p["gates"]["status"] == "failed" and rep["red_flags"] == []
    params = repo.root / "params.yaml"
    params.write_text(params.read_text().replace("thresholds: {base: 0.6,", "thresholds: {base: 0.9,"))
    repo.commit_all("loosen compression gate")
    rc, rep = _review(repo, "--tier", "base")
    assert rc == 0  # gates inform the reviewer; only verify decides the exit code
    assert rep["promotions"][0]["gates"]["status"] == "failed"
    assert [f["kind"] for f in rep["red_flags"]] == ["gates-changed"]

    text = repo.ledger("review", "--tier", "base").stdout
    assert "#### Metrics vs baseline `news-lead1`" in text
    assert "| metric | baseline `news-lead1` | this | Δ |" in text
    f1 = deltas["token_f1"]
    sign = "+" if f1["delta"] > 0 else ""
    assert f"| token_f1 | {f1['baseline']:.4g} | {f1['value']:.4g} | {sign}{f1['delta']:.4g} |" in text
    assert "#### Gates (tier `base`): ❌" in text and "| compression_ratio |" in text


def test_the_baseline_is_found_among_promotions_whose_ids_sort_before_it(repo):
    """review verifies every promotion once and picks the baseline's finding by id: a PR
    promotion whose id sorts before the baseline's must not be taken for it (or refuse it)."""
    _promote(repo, "lead1-news", "news-lead1", "first baseline")
    repo.git("checkout", "-q", "-b", "pr")
    _promote(repo, "lead2-news", "a-news-lead2", "sorts first")
    rc, rep = _review(repo, "--tier", "base")
    (p,) = rep["promotions"]
    assert rc == 0 and p["baseline"]["promoted_id"] == "news-lead1" and p["note"] is None, rep


def test_pr_that_edits_an_existing_baseline_fails(repo):
    _promote(repo, "lead1-news", "news-lead1", "first baseline")
    repo.git("checkout", "-q", "-b", "pr")
    _promote(repo, "lead2-news", "news-lead2", "second baseline")
    path = repo.root / BASELINES / "news-lead1" / "metrics.json"
    data = json.loads(path.read_text())
    data["metrics"]["token_f1"] = 0.99
    path.write_text(json.dumps(data))
    tweak = repo.commit_all("tidy metrics")

    rc, rep = _review(repo)
    assert rc == 1 and not rep["ok"] and not rep["verify"]["ok"]
    (flag,) = rep["red_flags"]
    assert flag["commit"] == tweak and flag["kind"] == "non-promotion-change"
    assert flag["paths"] == [{"status": "M", "path": f"{BASELINES}/news-lead1/metrics.json"}]
    existing = [f for f in rep["other_findings"] if f["path"] == f"{BASELINES}/news-lead1"]
    assert existing and any("existing promoted dir" in x for f in existing for x in f["problems"])
    (p,) = rep["promotions"]
    assert p["promoted_id"] == "news-lead2" and p["signature"]["status"] == "valid"

    md = repo.ledger("review")
    assert md.returncode == 1
    assert md.stdout.startswith("## ❌ ledger review: 1 promotion(s), verify FAILED")
    assert "🚩 Red flags" in md.stdout and "tidy metrics" in md.stdout
    assert f"`{BASELINES}/news-lead1/metrics.json`" in md.stdout


def test_promotion_without_its_tag_fails(repo):
    repo.git("checkout", "-q", "-b", "pr")
    _promote(repo, "lead2-news", "news-lead2", "second baseline")
    repo.git("tag", "-d", "promote/baseline/news-lead2")
    rc, rep = _review(repo)
    assert rc == 1 and not rep["ok"]
    (p,) = rep["promotions"]
    assert not p["ok"] and p["tag"]["present"] is False and p["signature"]["status"] == "missing"
    assert "promotion commit has no tag promote/baseline/news-lead2" in p["problems"]
    assert p["record_source"] == "commit" and p["reason"] == "second baseline"  # from baseline.json at the commit
    assert p["metrics"] == _metrics(repo, "news-lead2")
    text = repo.ledger("review").stdout
    assert "❌ **missing**" in text and "❌ missing" in text


def test_signer_added_only_in_the_pr_head_is_not_trusted(repo):
    repo.git("checkout", "-q", "-b", "pr")
    bob = repo.keygen("bob")
    repo.allow(bob, "bob@example.com")
    repo.commit_all("allow bob")
    repo.use_key(bob, "bob@example.com")
    _promote(repo, "lead2-news", "news-lead2", "bob's baseline")
    assert repo.ledger("verify").returncode == 0  # trusts the head's allowed_signers: not what CI does

    rc, rep = _review(repo)
    assert rc == 1 and not rep["verify"]["ok"]
    (p,) = rep["promotions"]
    assert p["tag"]["present"] and p["signature"]["status"] == "invalid"
    assert "signature" in p["signature"]["detail"]
    assert any(f["kind"] == "signers-changed" for f in rep["red_flags"])
    text = repo.ledger("review").stdout
    assert "❌ invalid" in text and "allowed_signers" in text


@pytest.mark.parametrize("params", ["runs: [unclosed\n", "- a list\n", "deep: " + "[" * 40000 + "]" * 40000 + "\n",
                                    "\udcff-not-utf8\n"])
def test_a_pr_that_breaks_params_yaml_is_a_red_flag_not_a_crash(repo, params):
    base = repo.git("rev-parse", "HEAD")
    repo.git("checkout", "-q", "-b", "pr")
    (repo.root / "params.yaml").write_bytes(params.encode("utf-8", "surrogateescape"))
    repo.commit_all("PR: break params.yaml")
    proc = repo.ledger("review", "--range", f"{base}..HEAD", "--format", "json")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    flags = json.loads(proc.stdout)["red_flags"]
    assert [f["kind"] for f in flags] == ["gates-changed"], flags


def test_bad_input_exits_2(repo):
    for args in (["--range", "nope..HEAD"], ["--range", "main"], ["--range", "..HEAD"], ["--format", "html"],
                 ["--tier", "nope"]):
        proc = repo.ledger("review", *args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert proc.stderr.startswith("error: ") and len(proc.stderr.strip().splitlines()) == 1
        assert proc.stdout == ""
    repo.git("branch", "-m", "main", "trunk")
    proc = repo.ledger("review")
    assert proc.returncode == 2 and "neither origin/main nor main" in proc.stderr


def test_review_with_no_promotions_in_range(repo):
    repo.git("checkout", "-q", "-b", "pr")
    (repo.root / "notes.txt").write_text("docs\n")
    repo.commit_all("docs only")
    rc, rep = _review(repo)
    assert rc == 0 and rep["promotions"] == [] and rep["range"]["commits"] == 1
    rc, sym = _review(repo, "--range", "main...pr")  # three dots: from the merge-base
    assert rc == 0 and sym["range"]["base"] == rep["range"]["base"] and sym["range"]["head"] == rep["range"]["head"]
    assert "No promotion commits in this range." in repo.ledger("review").stdout


def test_workflow_runs_verify_and_review_on_pull_requests():
    wf = yaml.safe_load((PROJECT / ".github/workflows/ledger.yml").read_text())
    triggers = wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` key as True
    assert "pull_request" in triggers
    (job,) = wf["jobs"].values()
    steps = job["steps"]
    checkout = next(s for s in steps if str(s.get("uses", "")).startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0
    python = next(s for s in steps if str(s.get("uses", "")).startswith("actions/setup-python@"))
    assert str(python["with"]["python-version"]) == "3.11"
    runs = [(s, s.get("run", "")) for s in steps]
    idx = {name: next(i for i, (_, r) in enumerate(runs) if needle in r)
           for name, needle in (("tags", "git fetch --force origin 'refs/tags/promote/*:refs/tags/promote/*'"),
                                ("install", "pip install ."), ("verify", "ledger verify"),
                                ("review", "ledger review"))}
    assert steps.index(checkout) < idx["tags"] < idx["verify"] and idx["install"] < idx["verify"] < idx["review"]
    verify_step, verify_cmd = runs[idx["verify"]]
    assert '--range "origin/${{ github.base_ref }}..HEAD"' in verify_cmd
    assert '--signers-from "origin/${{ github.base_ref }}"' in verify_cmd
    review_step, review_cmd = runs[idx["review"]]
    assert '--range "origin/${{ github.base_ref }}..HEAD"' in review_cmd
    assert "--format markdown" in review_cmd and '>> "$GITHUB_STEP_SUMMARY"' in review_cmd
    # review runs even when verify failed, and the job still fails when verify failed
    assert verify_step.get("continue-on-error") is True and "always()" in review_step.get("if", "")
    final = steps[-1]
    assert "steps.verify.outcome == 'failure'" in final["if"] and "exit 1" in final["run"]
    assert verify_step["id"] == "verify"


def test_reference_compares_with_a_baseline_promoted_earlier_in_the_same_pr(repo):
    repo.git("checkout", "-q", "-b", "pr")
    _promote(repo, "lead1-news", "news-lead1", "baseline")
    proc = repo.ledger("promote", "lead2-news", "--as", "reference", "--quality", "silver", "--id", "news-ref",
                       "--reason", "machine reference")
    assert proc.returncode == 0, proc.stderr
    rc, rep = _review(repo)
    assert rc == 0, rep
    first, ref = rep["promotions"]
    assert first["promoted_id"] == "news-lead1" and first["baseline"] is None
    assert ref["label"] == "reference/silver/news-ref" and ref["role"] == "reference" and ref["quality"] == "silver"
    assert ref["path"] == "data/eval/references/silver/news-ref" and ref["signature"]["status"] == "valid"
    assert ref["baseline"]["promoted_id"] == "news-lead1" and ref["baseline"]["commit"] == first["commit"]
    assert rep["red_flags"] == []
    assert "`reference/silver/news-ref` (silver)" in repo.ledger("review").stdout
