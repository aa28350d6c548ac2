"""`ledger init` in repositories that already have things: merges, never overwrites, refuses a
conflict before writing anything; a run's stage directory written by hand; packaged providers
registered in the `ledger.providers` entry-point group."""

from __future__ import annotations

import json

import pytest

USER_DVC = """stages:
  train:  # the user's own stage, with a comment to keep
    cmd: python train.py
    outs:
      - model.bin
"""


def tree(box) -> dict:
    return {p.relative_to(box.root).as_posix(): p.read_bytes() for p in sorted(box.root.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(box.root).parts}


def test_init_merges_into_an_existing_pipeline_and_params(fresh):
    (fresh.root / "dvc.yaml").write_text(USER_DVC)
    (fresh.root / "params.yaml").write_text("# training\nlr: 0.1\n")
    proc = fresh.ledger("init")
    assert proc.returncode == 0, proc.stderr
    dvc_yaml = (fresh.root / "dvc.yaml").read_text()
    assert dvc_yaml.startswith(USER_DVC.rstrip("\n")) and "  runs:\n" in dvc_yaml and "  envlock:\n" in dvc_yaml
    assert "# the user's own stage, with a comment to keep" in dvc_yaml
    assert (fresh.root / "params.yaml").read_text() == "# training\nlr: 0.1\n"  # runs are declared elsewhere
    again = tree(fresh)
    assert fresh.ledger("init").stdout.strip() == "already initialised" and tree(fresh) == again


def test_init_refuses_a_namesake_stage_or_a_non_mapping_runs_and_writes_nothing(fresh):
    for rel, text, needle in (
            ("dvc.yaml", "stages:\n  runs:\n    cmd: make all\n", "stage 'runs' that is not ledger's"),
            ("dvc.yaml", "stages: [\n", "dvc.yaml is not valid YAML")):
        (fresh.root / rel).write_text(text)
        before = tree(fresh)
        proc = fresh.ledger("init")
        assert proc.returncode == 2 and needle in proc.stderr and len(proc.stderr.splitlines()) == 1, proc.stderr
        assert tree(fresh) == before and not (fresh.root / ".dvc").exists()
        (fresh.root / rel).unlink()


def test_a_run_declared_by_hand_runs_with_dvc_repro(fresh):
    """A run's stage directory written by hand (as in the stage file's own comment: params.yaml
    declares it, dvc.yaml is the stage) runs with a plain `dvc repro`."""
    assert fresh.ledger("init").returncode == 0
    (fresh.root / "cases.jsonl").write_text('{"case_id": "a", "label": "x"}\n')
    (fresh.root / "preds.jsonl").write_text('{"case_id": "a", "label": "x"}\n')
    (fresh.root / "run.yaml").write_text("task: t\nprovider: precomputed\npredictions: preds.jsonl\n"
                                         "metrics: [{scorer: accuracy, field: label}]\n")
    assert fresh.ledger("run", "add", "template", "--config", "run.yaml", "--dataset", "cases.jsonl").returncode == 0
    stage_file = (fresh.root / "data/eval/pipelines/template/dvc.yaml").read_text()
    by_hand = fresh.root / "data/eval/pipelines/by-hand"
    by_hand.mkdir()
    (by_hand / "dvc.yaml").write_text(stage_file.replace("template", "by-hand"))
    (by_hand / "params.yaml").write_text("config: run.yaml\ndataset: cases.jsonl\ncode: preds.jsonl\n")
    assert fresh.ledger("run", "rm", "template").returncode == 0
    fresh.dvc("add", "-q", "cases.jsonl")
    fresh.commit_all("a run written by hand")
    fresh.dvc("repro")
    metrics = json.loads((fresh.root / "data/eval/runs/by-hand/metrics.json").read_text())
    assert metrics["metrics"] == {"accuracy": 1.0}


def test_a_packaged_provider_is_found_through_its_entry_point(fresh, tmp_path):
    site = tmp_path / "site"
    (site / "acme_models").mkdir(parents=True)
    (site / "acme_models/__init__.py").write_text("def predict(case, params):\n    return {'label': 'x'}\n")
    dist = site / "acme_models-2.3.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-models\nVersion: 2.3\n")
    (dist / "top_level.txt").write_text("acme_models\n")
    (dist / "entry_points.txt").write_text("[ledger.providers]\nacme = acme_models:predict\n")
    env = {"PYTHONPATH": str(site)}
    assert fresh.ledger("init").returncode == 0
    (fresh.root / "cases.jsonl").write_text('{"case_id": "a", "label": "x"}\n')
    (fresh.root / "run.yaml").write_text("task: t\nprovider: acme\nmetrics: [{scorer: accuracy, field: label}]\n")
    add = fresh.ledger("run", "add", "r1", "--config", "run.yaml", "--dataset", "cases.jsonl", env=env)
    assert add.returncode == 0 and "code run.yaml" in add.stdout, add.stderr  # installed: nothing in the repo
    proc = fresh.ledger("stage", "materialize", "r1", env=env)
    assert proc.returncode == 0, proc.stderr
    fp = json.loads((fresh.root / "data/eval/runs/r1/fingerprint.json").read_text())
    assert fp["provider"]["name"] == "acme_models:predict" and fp["provider"]["version"] == "2.3"
    assert fp["provider"]["source"] == {"module": "acme_models", "package": "acme-models", "version": "2.3"}
    missing = fresh.ledger("stage", "materialize", "r1")  # without the package installed
    assert missing.returncode == 2 and "unknown provider 'acme'" in missing.stderr


def test_init_in_an_existing_dvc_repository_keeps_its_remote(fresh, tmp_path):
    fresh.dvc("init", "-q")
    fresh.dvc("remote", "add", "-d", "team", str(tmp_path / "team-store"))
    fresh.commit_all("a DVC project")
    proc = fresh.ledger("init")
    assert proc.returncode == 0 and "dvc init" not in proc.stdout, proc.stdout + proc.stderr
    assert "team" in fresh.dvc("remote", "default").stdout  # the user's default remote stays
    assert (fresh.root / "dvc.yaml").is_file() and (fresh.root / "data/eval/runs/.gitignore").is_file()


@pytest.mark.parametrize("remote", ["s3://", "s3:///path", "  "])
def test_init_refuses_a_remote_that_names_nothing_before_writing(fresh, remote):
    proc = fresh.ledger("init", "--remote", remote)
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1 and "--remote" in proc.stderr, proc.stderr
    assert sorted(p.name for p in fresh.root.iterdir()) == [".git"]
