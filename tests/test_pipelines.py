"""Each run is its own DVC stage file (data/eval/pipelines/<run_id>/): a plain `dvc repro` runs
it, DVC's own tools see its metrics, adding a run touches only its own files, a promotion removes
exactly its stage directory (anything else is a red flag), and projects made by an older ledger
(runs under `runs:` in params.yaml, one foreach stage) keep working."""

from __future__ import annotations

import json

import pytest
import yaml

from conftest import stage
from test_verify import make_tag, tag_text

RUN1, RUN2 = "lead1-news", "lead2-news"
CLEAN = {"envlock": ["always changed"]}  # the env-lock stage is always_changed by design


def status(box) -> dict:
    return json.loads(box.dvc("status", "--json").stdout)


def changed(box) -> set[str]:
    return {line[2:].strip() for line in box.git("status", "--porcelain", "--untracked-files=all").splitlines()}


def test_dvc_metrics_see_every_run_and_a_change_to_one_run_reruns_only_it(repo):
    assert status(repo) == CLEAN
    shown = json.loads(repo.dvc("metrics", "show", "--json").stdout)
    files = next(iter(shown.values()))["data"]
    for run in (RUN1, RUN2):
        metrics = files[f"data/eval/runs/{run}/metrics.json"]["data"]
        assert metrics == repo.read_json(f"data/eval/runs/{run}/metrics.json")

    config = repo.root / "data/eval/configs/lead1.yaml"
    config.write_text(config.read_text().replace("sentences: 1", "sentences: 3"))
    out = repo.dvc("repro").stdout
    assert f"Running stage '{stage(RUN1)}'" in out and f"Running stage '{stage(RUN2)}'" not in out
    diff = json.loads(repo.dvc("metrics", "diff", "--json").stdout)
    assert set(diff) == {f"data/eval/runs/{RUN1}/metrics.json"}  # the other run did not change
    token_f1 = diff[f"data/eval/runs/{RUN1}/metrics.json"]["metrics.token_f1"]
    assert token_f1["new"] == repo.read_json(f"data/eval/runs/{RUN1}/metrics.json")["metrics"]["token_f1"]
    assert token_f1["old"] != token_f1["new"]


def test_adding_a_run_writes_only_its_own_stage_directory(repo):
    add = repo.ledger("run", "add", "lead1-copy", "--config", "data/eval/configs/lead1.yaml",
                      "--dataset", "data/eval/datasets/news_sum.jsonl", "--json")
    assert add.returncode == 0, add.stderr
    assert changed(repo) == {"data/eval/pipelines/lead1-copy/dvc.yaml", "data/eval/pipelines/lead1-copy/params.yaml"}
    repo.commit_all("declare lead1-copy")
    out = repo.dvc("repro").stdout
    assert f"Running stage '{stage('lead1-copy')}'" in out
    assert f"Running stage '{stage(RUN1)}'" not in out and f"Running stage '{stage(RUN2)}'" not in out
    # Its own lock file, the line DVC adds to data/eval/runs/.gitignore, and the root `runs`
    # stage's record of data/eval/runs: no other run's files, no shared params.yaml.
    assert changed(repo) == {"data/eval/pipelines/lead1-copy/dvc.lock", "data/eval/runs/.gitignore", "dvc.lock"}
    repo.commit_all("materialize lead1-copy")
    assert status(repo) == CLEAN
    proc = repo.ledger("promote", "lead1-copy", "--as", "baseline", "--id", "copy", "--reason", "r")
    assert proc.returncode == 0, proc.stderr
    assert status(repo) == CLEAN and repo.git("status", "--porcelain") == ""
    assert not (repo.root / "data/eval/pipelines/lead1-copy").exists()


LEGACY_STAGE = """  materialize:
    foreach: ${runs}
    do:
      cmd: ledger stage materialize ${key}
      deps:
        - ${item.config}
        - ${item.dataset}
        - ${item.code}
        - data/eval/env.lock.json
      params:
        - runs.${key}
      outs:
        - data/eval/runs/${key}
"""


def test_an_older_project_with_runs_in_params_yaml_still_runs_promotes_and_verifies(project):
    """Made by an older `ledger init`: `runs:` in params.yaml, a `materialize` foreach stage."""
    box = project
    box.git("rm", "-q", "-r", "data/eval/pipelines")
    dvc_yaml = (box.root / "dvc.yaml").read_text()
    dvc_yaml = dvc_yaml[:dvc_yaml.index("  runs:\n")] + LEGACY_STAGE
    (box.root / "dvc.yaml").write_text(dvc_yaml)
    with open(box.root / "params.yaml", "a") as fh:
        fh.write("runs:\n  old-run:\n    config: data/eval/configs/lead1.yaml\n"
                 "    dataset: data/eval/datasets/news_sum.jsonl\n    code: data/eval/configs/lead1.yaml\n")
    box.commit_all("a project of an older ledger")
    box.dvc("repro", "-q")
    box.commit_all("materialize old-run")
    assert "materialize@old-run" in yaml.safe_load((box.root / "dvc.lock").read_text())["stages"]
    listed = json.loads(box.ledger("list", "--all", "--json").stdout)
    assert "old-run" in json.dumps(listed)
    proc = box.ledger("promote", "old-run", "--as", "baseline", "--id", "old", "--reason", "still works")
    assert proc.returncode == 0, proc.stderr
    assert "old-run" not in (box.root / "params.yaml").read_text()
    assert "materialize@old-run" not in (box.root / "dvc.lock").read_text()
    assert box.git("status", "--porcelain") == "" and status(box) == CLEAN
    verify = box.ledger("verify")
    assert verify.returncode == 0 and "all OK" in verify.stdout, verify.stdout + verify.stderr

    # A new run needs the `runs` stage (what makes `dvc repro` reach it): `ledger init` adds it.
    add = ("run", "add", "new-run", "--config", "data/eval/configs/lead2.yaml", "--dataset",
           "data/eval/datasets/news_sum.jsonl")
    refused = box.ledger(*add)
    assert refused.returncode == 2 and "run `ledger init` once to add it" in refused.stderr, refused.stderr
    assert not (box.root / "data/eval/pipelines").exists()
    assert box.ledger("init").returncode == 0 and "  runs:\n" in (box.root / "dvc.yaml").read_text()
    assert box.ledger(*add).returncode == 0
    box.commit_all("a new run in the older project")
    assert f"Running stage '{stage('new-run')}'" in box.dvc("repro").stdout


@pytest.mark.parametrize("shape", ["another run's stage deleted", "its own declaration edited"])
def test_a_promotion_commit_that_touches_a_stage_directory_otherwise_is_a_red_flag(repo, shape):
    """A promotion commit deletes exactly its own run's stage directory. Re-made by hand (same
    message, re-signed tag) to also delete another run's declaration, or to keep and edit its
    own, it is flagged by review (a red flag for the reviewer: no promoted data was touched, so
    verify has nothing to fail)."""
    repo.git("checkout", "-q", "-b", "pr")
    proc = repo.ledger("promote", RUN1, "--as", "baseline", "--id", "b1", "--reason", "r")
    assert proc.returncode == 0, proc.stderr
    rc, clean = review(repo)
    assert rc == 0 and clean["red_flags"] == []
    original = repo.git("rev-parse", "HEAD")
    record = tag_text(repo, "promote/baseline/b1")
    repo.git("reset", "-q", "--soft", "HEAD~1")
    if shape == "another run's stage deleted":
        repo.git("rm", "-q", "-r", f"data/eval/pipelines/{RUN2}")
        touched = f"data/eval/pipelines/{RUN2}/params.yaml"
    else:
        touched = f"data/eval/pipelines/{RUN1}/params.yaml"
        repo.git("checkout", "HEAD", "--", touched)
        (repo.root / touched).write_text((repo.root / touched).read_text() + "# kept\n")
        repo.git("add", touched)
    repo.git("commit", "-q", "-C", original)
    make_tag(repo, "promote/baseline/b1", repo.git("rev-parse", "HEAD"), record + "\n",
             key=repo.root.parent / "alice.key")
    rc, rep = review(repo)
    flags = [f for f in rep["red_flags"] if f["kind"] == "promotion-touches-code"]
    assert flags and touched in [p["path"] for p in flags[0]["paths"]], rep["red_flags"]
    assert "promotion commit also changes files a promotion never touches" in repo.ledger("review").stdout


def review(box):
    proc = box.ledger("review", "--format", "json")
    assert proc.stdout.strip(), proc.stderr
    return proc.returncode, json.loads(proc.stdout)
