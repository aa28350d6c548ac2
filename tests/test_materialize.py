"""Materialization through real `dvc repro`: what fingerprint.json proves about a run."""

from __future__ import annotations

import hashlib
import json
import platform
import re
from importlib import metadata

import yaml
from conftest import BIN, declare_run

RUN = "data/eval/runs/lead1-news"
DATASET = "data/eval/datasets/news_sum.jsonl"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def recompute_seal(fp: dict) -> str:
    body = {k: v for k, v in fp.items() if k not in ("run_id", "fingerprint_sha256")}
    return sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode())


def repro(box) -> str:
    proc = box.dvc("repro")
    return proc.stdout + proc.stderr


def one_line_error(proc) -> str:
    err = proc.stderr.strip()
    assert err.startswith("error: "), proc.stderr
    assert "\n" not in err, f"expected one line, got:\n{proc.stderr}"
    return err


def test_clean_run_fingerprint_records_code_data_env_config_outputs(repo):
    fp = repo.read_json(f"{RUN}/fingerprint.json")
    # The template ran `dvc repro` on its first commit, then committed the results.
    assert fp["code"]["commit"] == repo.git("rev-parse", "HEAD~1")
    assert fp["code"]["branch"] == "main"
    assert fp["code"]["dirty"] is False
    assert "dirty_paths" not in fp["code"] and "diff_sha256" not in fp["code"]
    assert fp["run_id"] == "lead1-news"

    dvcfile = yaml.safe_load((repo.root / f"{DATASET}.dvc").read_text())
    tracked = dvcfile["outs"][0]["md5"]
    assert fp["data"] == {DATASET: tracked}
    assert tracked == hashlib.md5((repo.root / DATASET).read_bytes()).hexdigest()
    assert "data_warnings" not in fp

    env = fp["env"]
    assert env["python"] == platform.python_version()
    assert env["platform"]
    assert isinstance(env["packages"], dict) and len(env["packages"]) > 20
    assert env["packages"]["dvc"] == metadata.version("dvc")
    assert env["packages"]["ruamel-yaml"] and "ruamel.yaml" not in env["packages"]  # names canonicalized
    lock = repo.read_json("data/eval/env.lock.json")
    assert re.fullmatch(r"[0-9a-f]{64}", env["lock_sha256"]) and env["lock_sha256"] == lock["lock_sha256"]

    config = (repo.root / "data/eval/configs/lead1.yaml").read_bytes()
    assert fp["config_sha256"] == sha256(config)
    assert (repo.root / RUN / "config.yaml").read_bytes() == config

    metrics = repo.read_json(f"{RUN}/metrics.json")
    assert fp["evaluator_version"] == metrics["evaluator_version"] and fp["evaluator_version"]
    assert fp["outputs"] == {name: sha256((repo.root / RUN / name).read_bytes())
                             for name in ("predictions.jsonl", "scores.jsonl", "per_case.json", "metrics.json",
                                          "config.yaml")}
    assert fp["fingerprint_sha256"] == recompute_seal(fp)
    baseline = repo.read_json(f"{RUN}/baseline.json")
    assert baseline["fingerprint_ref"] == f"fingerprint.json#sha256:{fp['fingerprint_sha256']}"
    # Provenance, never the environment: no home directory, no variables.
    text = (repo.root / RUN / "fingerprint.json").read_text()
    assert repo.env["HOME"] not in text and "DVC_NO_ANALYTICS" not in text


def test_two_runs_share_data_and_env_but_not_config(repo):
    a = repo.read_json(f"{RUN}/fingerprint.json")
    b = repo.read_json("data/eval/runs/lead2-news/fingerprint.json")
    assert a["data"] == b["data"] and a["suite_fingerprint"] == b["suite_fingerprint"]
    assert a["env"]["lock_sha256"] == b["env"]["lock_sha256"]
    assert a["config_sha256"] != b["config_sha256"]
    assert a["fingerprint_sha256"] != b["fingerprint_sha256"]


def test_modified_code_makes_a_dirty_run_that_cannot_be_promoted(repo):
    head = repo.git("rev-parse", "HEAD")
    code = repo.root / "data/eval/configs/lead1.yaml"  # the run's `code` dependency
    code.write_text(code.read_text() + "# a local experiment\n")
    out = repro(repo)
    assert "Running stage 'data/eval/pipelines/lead1-news/dvc.yaml:materialize'" in out  # its code changed
    assert "Running stage 'data/eval/pipelines/lead2-news/dvc.yaml:materialize'" not in out  # another run's code did not
    fp = repo.read_json(f"{RUN}/fingerprint.json")
    assert fp["code"]["commit"] == head
    assert fp["code"]["dirty"] is True
    assert fp["code"]["dirty_paths"] == ["data/eval/configs/lead1.yaml"]
    assert re.fullmatch(r"[0-9a-f]{64}", fp["code"]["diff_sha256"])
    assert fp["fingerprint_sha256"] == recompute_seal(fp)

    # Committing the change afterwards does not launder the run: it ran on a dirty tree.
    repo.commit_all("commit the experiment")
    before = repo.snapshot()
    proc = repo.ledger("promote", "lead1-news", "--as", "baseline", "--id", "dirty1", "--reason", "try")
    assert proc.returncode == 2
    err = one_line_error(proc)
    assert "dirty" in err and "data/eval/configs/lead1.yaml" in err
    assert repo.snapshot() == before


def test_a_different_modification_gives_a_different_diff_digest(repo):
    path = repo.root / "data/eval/configs/lead1.yaml"
    original = path.read_text()
    path.write_text(original + "# one\n")
    repro(repo)
    first = repo.read_json(f"{RUN}/fingerprint.json")["code"]["diff_sha256"]
    path.write_text(original + "# two\n")
    repro(repo)
    second = repo.read_json(f"{RUN}/fingerprint.json")["code"]["diff_sha256"]
    assert first != second


def _add_run(box, run_id: str, config: str, dataset: str) -> None:
    declare_run(box, run_id, config, dataset)


def _stat_run(box, run_id: str) -> dict:
    d = box.root / "data/eval/runs" / run_id
    return {p.name: (p.stat().st_mtime_ns, p.stat().st_ino, p.read_bytes()) for p in sorted(d.iterdir())}


def test_shuffled_dataset_same_suite_other_md5_and_a_new_run_reruns_only_itself(repo):
    lines = (repo.root / DATASET).read_bytes().splitlines(keepends=True)
    shuffled = b"".join(reversed(lines))
    assert shuffled != b"".join(lines)
    shuf = "data/eval/datasets/news_shuf.jsonl"
    (repo.root / shuf).write_bytes(shuffled)
    repo.dvc("add", shuf)
    _add_run(repo, "lead1-shuf", "data/eval/configs/lead1.yaml", shuf)
    repo.commit_all("add a shuffled copy of the news dataset and a run over it")
    before = {r: _stat_run(repo, r) for r in ("lead1-news", "lead2-news")}

    out = repro(repo)
    assert "Running stage 'data/eval/pipelines/lead1-shuf/dvc.yaml:materialize'" in out
    assert "Running stage 'data/eval/pipelines/lead1-news/dvc.yaml:materialize'" not in out
    assert "Running stage 'data/eval/pipelines/lead2-news/dvc.yaml:materialize'" not in out
    assert {r: _stat_run(repo, r) for r in ("lead1-news", "lead2-news")} == before

    a = repo.read_json(f"{RUN}/fingerprint.json")
    b = repo.read_json("data/eval/runs/lead1-shuf/fingerprint.json")
    assert b["code"]["dirty"] is False
    assert a["suite_fingerprint"] == b["suite_fingerprint"]
    assert a["data"][DATASET] != b["data"][shuf]
    assert b["data"][shuf] == hashlib.md5(shuffled).hexdigest()
    assert a["outputs"]["predictions.jsonl"] == b["outputs"]["predictions.jsonl"]  # sorted by case_id
    for run in ("lead1-news", "lead2-news", "lead1-shuf"):  # each run: its own lock file
        lock = yaml.safe_load((repo.root / f"data/eval/pipelines/{run}/dvc.lock").read_text())["stages"]
        assert lock["materialize"]["outs"][0]["path"] == f"data/eval/runs/{run}"
    assert "materialize" not in str(yaml.safe_load((repo.root / "dvc.lock").read_text())["stages"])


def test_run_cache_restore_keeps_the_original_provenance(repo):
    """Decision: a run that DVC restores from its run-cache WITHOUT executing keeps the
    provenance of the execution that produced it. fingerprint.json is byte-identical to the
    original, so `code.commit` names the commit at which the run really executed, not the
    HEAD at restore time. That is truthful: the run-cache key covers every dep (the ledger
    package, the stage script, the config, the dataset, the env lock), so the restored outputs
    are exactly what that execution produced. Such a run stays promotable while that commit
    is in the branch's history, and its record names the original commit."""
    config = repo.root / "data/eval/configs/lead1.yaml"
    original_fp = (repo.root / RUN / "fingerprint.json").read_bytes()
    original_commit = json.loads(original_fp)["code"]["commit"]
    original_text = config.read_text()
    assert "sentences: 1" in original_text

    config.write_text(original_text.replace("sentences: 1", "sentences: 3"))
    repo.commit_all("try three sentences")
    out = repro(repo)
    assert "Running stage 'data/eval/pipelines/lead1-news/dvc.yaml:materialize'" in out
    changed = repo.read_json(f"{RUN}/fingerprint.json")
    assert changed["code"]["commit"] == repo.git("rev-parse", "HEAD")
    assert changed["config_sha256"] != json.loads(original_fp)["config_sha256"]
    repo.commit_all("runs: three sentences")

    config.write_text(original_text)
    repo.commit_all("back to one sentence")
    out = repro(repo)
    assert "Running stage 'data/eval/pipelines/lead1-news/dvc.yaml:materialize'" not in out
    assert re.search(r"Stage 'data/eval/pipelines/lead1-news/dvc.yaml:materialize' is cached - skipping run", out), out
    assert (repo.root / RUN / "fingerprint.json").read_bytes() == original_fp
    assert original_commit != repo.git("rev-parse", "HEAD")
    repo.commit_all("runs: restored")

    proc = repo.ledger("promote", "lead1-news", "--as", "baseline", "--id", "restored", "--reason", "cached",
                       "--json")
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)
    assert record["code_commit"] == original_commit
    assert record["fingerprint_sha256"] == json.loads(original_fp)["fingerprint_sha256"]



def _edit_dataset(box) -> bytes:
    data = box.root / DATASET
    content = data.read_bytes() + b'{"case_id": "news-extra", "document": "One more. Story here."}\n'
    data.unlink()  # DVC links the workspace copy to its cache: replace it, never write through it
    data.write_bytes(content)
    return content


def test_edited_dataset_is_recorded_and_the_run_is_dirty_until_committed_and_rerun(repo):
    old_md5 = hashlib.md5((repo.root / DATASET).read_bytes()).hexdigest()
    new_md5 = hashlib.md5(_edit_dataset(repo)).hexdigest()
    out = repro(repo)  # DVC re-records the dataset's .dvc file before running the stages
    assert "Running stage 'data/eval/pipelines/lead1-news/dvc.yaml:materialize'" in out
    fp = repo.read_json(f"{RUN}/fingerprint.json")
    assert fp["data"] == fp["data_tracked"] == {DATASET: new_md5} and new_md5 != old_md5
    assert fp["code"]["dirty"] is True and fp["code"]["dirty_paths"] == [f"{DATASET}.dvc"]
    repo.commit_all("edited dataset")
    proc = repo.ledger("promote", "lead1-news", "--as", "baseline", "--id", "d1", "--reason", "r")
    assert proc.returncode == 2 and "dirty" in one_line_error(proc)
    assert "--force" in proc.stderr  # a plain `dvc repro` would not rerun: nothing changed for DVC

    assert "Running stage" not in repro(repo).replace("Running stage 'envlock'", "")
    repo.dvc("repro", "--force", "data/eval/pipelines/lead1-news/dvc.yaml:materialize")
    fp = repo.read_json(f"{RUN}/fingerprint.json")
    assert fp["code"] == {"branch": "main", "commit": repo.git("rev-parse", "HEAD"), "dirty": False}
    repo.commit_all("runs: rerun on the committed dataset")
    proc = repo.ledger("promote", "lead1-news", "--as", "baseline", "--id", "d1", "--reason", "r", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["data"] == {DATASET: new_md5}


def test_stage_run_outside_dvc_on_an_unrecorded_dataset_warns_and_blocks_promotion(repo):
    _edit_dataset(repo)
    repo.sh(str(BIN / "ledger"), "stage", "materialize", "lead1-news")
    fp = repo.read_json(f"{RUN}/fingerprint.json")
    assert fp["data"][DATASET] != fp["data_tracked"][DATASET]
    assert fp["data_warnings"] == [f"{DATASET} differs from its .dvc record (dvc add it)"]
    assert fp["fingerprint_sha256"] == recompute_seal(fp)
    before = repo.snapshot()
    proc = repo.ledger("promote", "lead1-news", "--as", "baseline", "--id", "d1", "--reason", "r")
    assert proc.returncode == 2 and "differs from its .dvc record" in one_line_error(proc)
    assert repo.snapshot() == before


def test_a_dataset_moved_from_git_to_dvc_says_how_to_get_out(repo):
    plain = "data/eval/datasets/plain.jsonl"
    (repo.root / plain).write_bytes((repo.root / DATASET).read_bytes())
    _add_run(repo, "plain-run", "data/eval/configs/lead1.yaml", plain)
    repo.commit_all("a run on a dataset kept in git")
    repro(repo)
    repo.commit_all("runs: plain-run")
    assert "not tracked by DVC" in repo.read_json("data/eval/runs/plain-run/fingerprint.json")["data_warnings"][0]
    repo.git("rm", "-q", "--cached", plain)
    repo.dvc("add", "-q", plain)
    repo.commit_all("the dataset moves to DVC")
    assert "Running stage 'data/eval/pipelines/plain-run/dvc.yaml:materialize'" not in repro(repo)  # same bytes: DVC has nothing to rerun
    proc = repo.ledger("promote", "plain-run", "--as", "baseline", "--id", "p1", "--reason", "r")
    err = one_line_error(proc)
    assert proc.returncode == 2 and "`dvc repro -f data/eval/pipelines/plain-run/dvc.yaml:materialize`" in err, err
    repo.dvc("repro", "-f", "data/eval/pipelines/plain-run/dvc.yaml:materialize")
    repo.commit_all("re-run with the dataset tracked")
    assert repo.ledger("promote", "plain-run", "--as", "baseline", "--id", "p1", "--reason", "r").returncode == 0
