"""`ledger reproduce ID`: re-run a promotion at its recorded commit in a scratch worktree,
with the dataset from the DVC cache; REPRODUCED / DIVERGED; the worktree never outlives it."""

from __future__ import annotations

import json
import os

import pytest
import yaml

PROVIDER = "summarizer/lead.py"
LEAD_RETURN = '    return {"summary": summary}\n'
NEWS = "data/eval/datasets/news_sum.jsonl"
LEAD_PY = """def predict(case, params):
    sentences = case["document"].split(". ")
    summary = ". ".join(sentences[: params["sentences"]])
    return {"summary": summary}
"""


@pytest.fixture
def repo(repo):
    """Both runs use the user's own provider, summarizer/lead.py (their `code` dependency)."""
    (repo.root / "summarizer").mkdir()
    (repo.root / PROVIDER).write_text(LEAD_PY)
    for run_id, n in (("lead1-news", 1), ("lead2-news", 2)):
        decl = repo.root / f"data/eval/pipelines/{run_id}/params.yaml"
        entry = yaml.safe_load(decl.read_text())
        (repo.root / entry["config"]).write_text(f"task: summarization\nprovider: python\n"
                                                 f"entrypoint: summarizer.lead:predict\nparams: {{sentences: {n}}}\n")
        decl.write_text(yaml.safe_dump({**entry, "code": "summarizer"}, sort_keys=False))
    repo.commit_all("runs: the user's own summarizer")
    repo.dvc("repro", "-q")
    repo.commit_all("runs: materialize")
    return repo


def promote(box, run_id: str, pid: str) -> None:
    proc = box.ledger("promote", run_id, "--as", "baseline", "--id", pid, "--reason", f"{pid} to reproduce")
    assert proc.returncode == 0, proc.stderr


def change_provider(box, new_return: str, message: str) -> None:
    """Commit a change to the summarizer, re-materialize what depends on it, commit that."""
    path = box.root / PROVIDER
    text = path.read_text()
    assert text.count(LEAD_RETURN) == 1
    path.write_text(text.replace(LEAD_RETURN, new_return))
    box.commit_all(message)
    box.dvc("repro", "-q")
    box.commit_all(f"runs after: {message}")


def assert_clean(box) -> None:
    """Only the main worktree is left, and no scratch directory."""
    assert box.git("worktree", "list", "--porcelain").count("worktree ") == 1
    assert not list((box.root / ".dvc" / "tmp").glob("ledger-reproduce-*"))


def fingerprint(box, pid: str) -> dict:
    return box.read_json(f"data/eval/baselines/{pid}/fingerprint.json")


def dataset_cache_object(box):
    md5 = yaml.safe_load((box.root / f"{NEWS}.dvc").read_text())["outs"][0]["md5"]
    return box.root / ".dvc/cache/files/md5" / md5[:2] / md5[2:]


def test_reproduces_at_the_recorded_commit_not_at_head(repo):
    promote(repo, "lead1-news", "b1")
    # The code changes after b1 was promoted; lead2-news is re-run with it and promoted too.
    change_provider(repo, '    return {"summary": summary.upper()}\n', "lead: upper-case summaries")
    promote(repo, "lead2-news", "b2")
    head = repo.git("rev-parse", "HEAD")
    fp1, fp2 = fingerprint(repo, "b1"), fingerprint(repo, "b2")
    assert fp1["code"]["commit"] != fp2["code"]["commit"]
    assert json.loads((repo.root / "data/eval/baselines/b2/predictions.jsonl").read_text().splitlines()[0])[
        "summary"].isupper()

    for pid, fp in (("b1", fp1), ("b2", fp2)):
        proc = repo.ledger("reproduce", pid)
        assert proc.returncode == 0, (proc.stdout, proc.stderr)
        assert proc.stdout.startswith("REPRODUCED") and "DIVERGED" not in proc.stdout
        assert "warning" not in proc.stderr  # same environment as recorded
        result = repo.ledger_json("reproduce", pid)
        assert result["status"] == "REPRODUCED" and result["code_commit"] == fp["code"]["commit"] != head
        assert result["dataset"] == {"path": NEWS, "md5": fp["data"][NEWS]}
        assert {o["file"]: o["got"] for o in result["outputs"]} == fp["outputs"]
        assert sorted(fp["outputs"]) == ["config.yaml", "metrics.json", "per_case.json", "predictions.jsonl",
                                         "scores.jsonl"]
        assert fp["provider"]["source"]["files"] == {PROVIDER: fp["provider"]["source"]["files"][PROVIDER]}
        assert fp["inputs"] == {PROVIDER: fp["inputs"][PROVIDER]}  # the code dependency's md5
        assert result["env"]["same"] and result["warnings"] == []
    assert_clean(repo)
    assert repo.git("rev-parse", "HEAD") == head and repo.git("status", "--porcelain") == ""


def test_nondeterministic_code_diverges(repo):
    change_provider(repo, '    import random\n    return {"summary": f"{summary} {random.random()}"}\n',
                    "lead: nondeterministic summaries")
    promote(repo, "lead1-news", "flaky")
    recorded = fingerprint(repo, "flaky")["outputs"]["predictions.jsonl"]

    proc = repo.ledger("reproduce", "flaky")
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    lines = proc.stdout.strip().splitlines()
    assert lines and all(line.startswith("DIVERGED: ") for line in lines)
    assert "REPRODUCED" not in proc.stdout
    pred = [line for line in lines if line.startswith("DIVERGED: predictions.jsonl ")]
    assert len(pred) == 1
    _, _, expected, _, got = pred[0][len("DIVERGED: "):].split()
    assert expected == recorded and len(got) == 64 and got != recorded
    assert "config.yaml" not in proc.stdout  # the config did not change: only what differs is named
    assert_clean(repo)


def test_environment_change_is_a_warning_not_a_failure(repo, tmp_path):
    promote(repo, "lead1-news", "b1")
    # A package the recorded environment did not have, visible to this Python.
    site = tmp_path / "site"
    dist = site / "zz_extra_pkg-9.9.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: zz-extra-pkg\nVersion: 9.9\n")
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}

    proc = repo.ledger("reproduce", "b1", env=env)
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert proc.stdout.startswith("REPRODUCED")
    assert "warning: environment differs from the recorded lock" in proc.stderr
    assert "zz-extra-pkg (absent) -> 9.9" in proc.stderr
    result = json.loads(repo.ledger("reproduce", "b1", "--json", env=env).stdout)
    assert not result["env"]["same"] and result["env"]["changed_packages"] == 1
    assert result["env"]["recorded_lock_sha256"] == fingerprint(repo, "b1")["env"]["lock_sha256"]
    assert_clean(repo)


def test_missing_or_corrupt_dataset_in_the_cache(repo):
    promote(repo, "lead1-news", "b1")
    obj = dataset_cache_object(repo)
    original = obj.read_bytes()

    os.chmod(obj, 0o644)
    obj.unlink()  # the workspace copy is a separate hardlink and stays
    proc = repo.ledger("reproduce", "b1")
    assert proc.returncode == 2 and proc.stdout == ""
    assert "run `dvc pull`" in proc.stderr and NEWS in proc.stderr
    assert_clean(repo)

    # A corrupt cache object is found inside the worktree: the error path removes it too.
    obj.write_bytes(original.replace(b"a", b"b", 1))
    proc = repo.ledger("reproduce", "b1")
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "corrupt" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert_clean(repo)

    obj.write_bytes(original)
    assert repo.ledger("reproduce", "b1").returncode == 0
    assert_clean(repo)


def test_unknown_or_unpromoted_ids_are_refused(repo):
    for name, message in (("nope", "no promotion with id 'nope'"),
                          ("lead1-news", "no promotion with id 'lead1-news'"),  # a run, not a promotion
                          ("Bad/Id", "invalid promoted id")):
        proc = repo.ledger("reproduce", name)
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert_clean(repo)
