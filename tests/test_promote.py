"""`ledger promote` on real repos: one commit, linked outputs, one signed annotated tag;
and every refusal leaves the repository exactly as it was."""

from __future__ import annotations

import hashlib
import json
import os
import shutil

import pytest
import yaml

from conftest import declare_run

RUN1, RUN2 = "lead1-news", "lead2-news"
KEEP_DVC_STATUS = {"envlock": ["always changed"]}  # the env-lock stage is always_changed by design


def promote(box, run, *args, env=None):
    return box.ledger("promote", run, *args, env=env)


def ok(proc):
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def refused(proc, *needles, code=2) -> str:
    assert proc.returncode == code, proc.stdout + proc.stderr
    err = proc.stderr.strip()
    assert err.startswith("error: ") and "\n" not in err, f"not one error line:\n{proc.stderr}"
    for needle in needles:
        assert needle in err, err
    return err


def tag_message(box, tag: str) -> dict:
    raw = box.git("cat-file", "tag", tag)
    body = raw.split("\n\n", 1)[1]
    body = body.split("-----BEGIN SSH SIGNATURE-----", 1)[0]
    return json.loads(body)


def cache_object(box, md5: str):
    return box.root / ".dvc/cache/files/md5" / md5[:2] / md5[2:]


def test_promote_baseline_end_to_end(repo):
    params_before = (repo.root / "params.yaml").read_text()
    ignore_before = (repo.root / "data/eval/runs/.gitignore").read_text()
    run_dir = repo.root / "data/eval/runs" / RUN1
    fp = repo.read_json(f"data/eval/runs/{RUN1}/fingerprint.json")
    metrics = (run_dir / "metrics.json").read_bytes()
    run_baseline = repo.read_json(f"data/eval/runs/{RUN1}/baseline.json")
    old_head = repo.git("rev-parse", "HEAD")

    proc = ok(promote(repo, RUN1, "--as", "baseline", "--id", "news-lead1", "--reason", "first good run"))
    assert "data/eval/baselines/news-lead1" in proc.stdout and "promote/baseline/news-lead1" in proc.stdout
    # no policy: the promoter's signature is all it needs, so no line asks for another signer
    assert proc.stdout.splitlines()[1:] == ["GTO: news-lead1#baseline#1"], proc.stdout

    # Exactly one new commit, with the subject and trailers.
    head = repo.git("rev-parse", "HEAD")
    assert repo.git("rev-list", f"{old_head}..{head}").split() == [head]
    assert repo.git("log", "-1", "--format=%s") == f"promote: {RUN1} -> baseline/news-lead1"
    assert repo.git("log", "-1", "--format=%(trailers:key=Ledger-Run,valueonly)") == RUN1
    assert repo.git("log", "-1", "--format=%(trailers:key=Ledger-Fingerprint,valueonly)") == fp["fingerprint_sha256"]
    assert "first good run" in repo.git("log", "-1", "--format=%b")

    # The promoted dir: small files in git, predictions in DVC, linked from the cache (no copy).
    dest = repo.root / "data/eval/baselines/news-lead1"
    tracked = set(repo.git("ls-files", "data/eval/baselines/news-lead1").split())
    assert tracked == {f"data/eval/baselines/news-lead1/{n}" for n in (
        ".gitignore", "README.md", "baseline.json", "config.yaml", "fingerprint.json", "metrics.json",
        "predictions.jsonl.dvc", "scores.jsonl", "per_case.json")}
    pointer = yaml.safe_load((dest / "predictions.jsonl.dvc").read_text())["outs"][0]
    pred = dest / "predictions.jsonl"
    assert pred.is_file() and pointer["path"] == "predictions.jsonl"
    assert pointer["md5"] == hashlib.md5(pred.read_bytes()).hexdigest()
    assert pointer["size"] == pred.stat().st_size
    assert hashlib.sha256(pred.read_bytes()).hexdigest() == fp["outputs"]["predictions.jsonl"]
    obj = cache_object(repo, pointer["md5"])
    assert pred.stat().st_ino == obj.stat().st_ino and pred.stat().st_nlink >= 2
    assert (dest / "metrics.json").read_bytes() == metrics
    assert repo.read_json("data/eval/baselines/news-lead1/fingerprint.json") == fp

    baseline = repo.read_json("data/eval/baselines/news-lead1/baseline.json")
    for key, value in run_baseline.items():
        assert baseline[key] == value
    assert baseline["promoted_from"] == f"runs/{RUN1}"
    assert baseline["promoted_as"] == "baseline/news-lead1"
    assert baseline["promoted_id"] == "news-lead1"
    assert baseline["reason"] == "first good run"
    assert baseline["promotion_tag"] == "promote/baseline/news-lead1"
    assert baseline["promoted_at"].startswith("20")
    assert "reference_quality" not in baseline
    readme = (dest / "README.md").read_text()
    assert "news-lead1" in readme and "first good run" in readme and fp["code"]["commit"] in readme

    # The run is gone everywhere: its stage directory, its .gitignore line; nothing else changed.
    assert not (repo.root / f"data/eval/pipelines/{RUN1}").exists()
    assert (repo.root / f"data/eval/pipelines/{RUN2}/dvc.lock").is_file()
    assert (repo.root / "params.yaml").read_text() == params_before
    assert set(repo.git("show", "--name-only", "--format=", "HEAD").split()) - set(tracked) == {
        f"data/eval/pipelines/{RUN1}/{n}" for n in ("dvc.yaml", "params.yaml", "dvc.lock")} | {
        "data/eval/runs/.gitignore", "dvc.lock",  # dvc.lock: the `runs` stage's dependency, re-recorded
        "dvc.yaml", ".dvcignore"}  # its artifact declared for DVC (test_dvc_artifacts.py)
    ignore = (repo.root / "data/eval/runs/.gitignore").read_text()
    assert f"/{RUN1}\n" in ignore_before and f"/{RUN2}\n" in ignore  # only its line went, line ends kept
    assert ignore == "".join(ln for ln in ignore_before.splitlines(keepends=True) if ln.strip() != f"/{RUN1}")
    assert not run_dir.exists()
    assert repo.git("status", "--porcelain") == ""
    assert json.loads(repo.dvc("status", "--json").stdout) == KEEP_DVC_STATUS

    # The tag: annotated, signed by an allowed key, on the promotion commit, message = record.
    tag = "promote/baseline/news-lead1"
    assert repo.git("cat-file", "-t", tag) == "tag"
    assert repo.git("rev-parse", f"{tag}^{{commit}}") == head
    repo.git("-c", "gpg.ssh.allowedSignersFile=.ledger/allowed_signers", "verify-tag", tag)
    record = tag_message(repo, tag)
    assert record["promoted_id"] == "news-lead1" and record["role"] == "baseline"
    assert record["run_id"] == RUN1 and record["reason"] == "first good run"
    assert record["path"] == "data/eval/baselines/news-lead1"
    assert record["fingerprint_sha256"] == fp["fingerprint_sha256"]
    assert record["code_commit"] == fp["code"]["commit"]
    assert record["data"] == fp["data"] and record["suite_fingerprint"] == fp["suite_fingerprint"]
    assert record["evaluator_version"] == fp["evaluator_version"]
    assert record["env_lock_sha256"] == fp["env"]["lock_sha256"]
    assert record["metrics"] == json.loads(metrics)["metrics"]
    assert record["dvc"]["predictions.jsonl"]["md5"] == pointer["md5"]
    assert record["signed"] is True

    verify = repo.ledger("verify")
    assert verify.returncode == 0 and "all OK" in verify.stdout, verify.stdout + verify.stderr


def test_promote_references_silver_and_gold(repo):
    ok(promote(repo, RUN1, "--as", "reference", "--id", "silver-1", "--reason", "machine reference"))
    silver = repo.root / "data/eval/references/silver/silver-1"
    assert (silver / "predictions.jsonl").is_file() and (silver / "predictions.jsonl.dvc").is_file()
    b = repo.read_json("data/eval/references/silver/silver-1/baseline.json")
    assert b["reference_quality"] == "silver" and b["promoted_as"] == "reference/silver/silver-1"
    assert b["promotion_tag"] == "promote/reference/silver-1"

    ok(promote(repo, RUN2, "--as", "reference", "--quality", "gold", "--id", "gold-1", "--reason", "checked by hand"))
    gold = repo.root / "data/eval/references/gold/summarization/gold-1"
    assert (gold / "metrics.json").is_file() and (gold / "predictions.jsonl").is_file()
    b = repo.read_json("data/eval/references/gold/summarization/gold-1/baseline.json")
    assert b["reference_quality"] == "gold" and b["promoted_as"] == "reference/gold/summarization/gold-1"
    assert repo.git("log", "-1", "--format=%s") == f"promote: {RUN2} -> reference/gold/summarization/gold-1"
    record = tag_message(repo, "promote/reference/gold-1")
    assert record["quality"] == "gold" and record["task"] == "summarization"
    assert record["path"] == "data/eval/references/gold/summarization/gold-1"
    assert repo.git("status", "--porcelain") == ""
    assert (repo.root / "params.yaml").read_text().count("news_sum.jsonl") == 0
    verify = repo.ledger("verify")
    assert verify.returncode == 0 and "2 promoted dir(s) checked: all OK" in verify.stdout, verify.stdout


BAD_IDS = ["../x", "a/b", "UPPER", "a..b", "x.lock", "-x", "", "a" * 101, "a b", "a~b", "a^b", "a:b", "a\nb"]


def test_refusals_leave_the_repo_untouched(repo):
    ok(promote(repo, RUN1, "--as", "baseline", "--id", "taken", "--reason", "first"))
    before = repo.snapshot()

    def check(args, *needles):
        refused(promote(repo, *args), *needles)
        assert repo.snapshot() == before, f"repository changed by refused promote {args!r}"

    check([RUN2, "--as", "baseline", "--id", "taken", "--reason", "r"], "already exists")
    check([RUN2, "--as", "reference", "--id", "taken", "--reason", "r"], "already promoted")
    check([RUN2, "--as", "reference", "--quality", "gold", "--id", "taken", "--reason", "r"], "already")
    check(["nope", "--as", "baseline", "--id", "n1", "--reason", "r"], "unknown run 'nope'")
    check([RUN1, "--as", "baseline", "--id", "n1", "--reason", "r"], "unknown run")  # promoted already
    for bad in BAD_IDS:
        check([RUN2, "--as", "baseline", f"--id={bad}", "--reason", "r"], "invalid promoted id")
    check([RUN2, "--as", "baseline", "--id", "n1", "--reason", ""], "--reason is required")
    check([RUN2, "--as", "baseline", "--id", "n1", "--reason", "   "], "--reason is required")
    check([RUN2, "--as", "baseline", "--id", "n1", "--reason", "two\nlines"], "one line")
    check([RUN2, "--as", "boss", "--id", "n1", "--reason", "r"], "--as must be one of")
    check([RUN2, "--as", "baseline", "--quality", "gold", "--id", "n1", "--reason", "r"], "references only")
    check([RUN2, "--as", "reference", "--quality", "bronze", "--id", "n1", "--reason", "r"], "silver or gold")


@pytest.mark.parametrize("where", ["data/eval/references/silver/squatted",
                                   "data/eval/references/gold/summarization/squatted",
                                   "data/eval/references/gold/some-task/squatted",
                                   "data/eval/baselines/squatted"])
def test_an_id_used_by_a_committed_dir_is_refused(repo, where):
    """A directory for the id already committed under a protected root (no tag, so no tag check
    sees it; the baseline one is gone from the working tree): promote refuses, changing nothing."""
    other = repo.root / where
    other.mkdir(parents=True)
    (other / "metrics.json").write_text("{}\n")
    repo.commit_all("a dir nobody promoted")
    if where.startswith("data/eval/baselines/"):
        shutil.rmtree(other)
    before = repo.snapshot()
    refused(promote(repo, RUN2, "--as", "baseline", "--id", "squatted", "--reason", "r"), f"already used by {where}")
    assert repo.snapshot() == before


def test_refused_without_a_signing_key_then_unsigned_is_reported_by_verify(repo):
    repo.git("config", "--unset", "user.signingkey")
    before = repo.snapshot()
    refused(promote(repo, RUN1, "--as", "baseline", "--id", "b1", "--reason", "r"), "no signing key")
    assert repo.snapshot() == before

    proc = ok(promote(repo, RUN1, "--as", "baseline", "--id", "b1", "--reason", "r", "--unsigned"))
    assert "UNSIGNED" in proc.stdout
    assert repo.git("cat-file", "-t", "promote/baseline/b1") == "tag"
    assert "SIGNATURE" not in repo.git("cat-file", "tag", "promote/baseline/b1")
    verify = repo.ledger("verify")
    assert verify.returncode == 1
    assert "FAIL  data/eval/baselines/b1: tag is not signed" in verify.stdout, verify.stdout
    allowed = repo.ledger("verify", "--allow-unsigned")
    assert allowed.returncode == 0, allowed.stdout
    assert "UNSIGNED tag (allowed by --allow-unsigned)" in allowed.stdout


def test_refused_with_a_missing_signing_key_file(repo):
    repo.git("config", "user.signingkey", str(repo.root.parent / "no-such.key"))
    before = repo.snapshot()
    refused(promote(repo, RUN1, "--as", "baseline", "--id", "b1", "--reason", "r"), "signing key file not found")
    assert repo.snapshot() == before


@pytest.mark.parametrize("change", ["staged", "params", "run-lock", "dvc.lock", "runs-gitignore"])
def test_refused_when_the_promotion_commit_would_carry_other_changes(repo, change):
    stage_dir = f"data/eval/pipelines/{RUN1}"
    if change == "staged":
        (repo.root / "notes.txt").write_text("unrelated\n")
        repo.git("add", "notes.txt")
    elif change in ("params", "run-lock", "dvc.lock"):
        name = {"params": f"{stage_dir}/params.yaml", "run-lock": f"{stage_dir}/dvc.lock", "dvc.lock": "dvc.lock"}[change]
        with open(repo.root / name, "a") as fh:
            fh.write("# an uncommitted edit\n")
    else:
        with open(repo.root / "data/eval/runs/.gitignore", "a") as fh:
            fh.write("/other\n")
    before = repo.snapshot()
    err = refused(promote(repo, RUN1, "--as", "baseline", "--id", "b1", "--reason", "r"), "commit or stash")
    assert {"staged": "notes.txt", "params": f"{stage_dir}/params.yaml", "dvc.lock": "dvc.lock",
            "run-lock": f"{stage_dir}/dvc.lock",
            "runs-gitignore": "data/eval/runs/.gitignore"}[change] in err
    assert repo.snapshot() == before


def test_a_project_without_the_root_runs_stage_keeps_its_own_dvc_lock_edits(repo):
    """The root `runs` stage is the project's choice: without it (nor its dvc.lock entry) a
    promotion leaves dvc.lock alone, so an uncommitted change there (the user's own stages)
    neither blocks the promotion nor goes into its commit."""
    for name in ("dvc.yaml", "dvc.lock"):
        doc = yaml.safe_load((repo.root / name).read_text())
        del doc["stages"]["runs"]
        (repo.root / name).write_text(yaml.safe_dump(doc, sort_keys=False))
    repo.commit_all("no root runs stage")
    with open(repo.root / "dvc.lock", "a") as fh:
        fh.write("# the user's own stage, re-run and not yet committed\n")
    edited = (repo.root / "dvc.lock").read_text()
    ok(promote(repo, RUN1, "--as", "baseline", "--id", "b1", "--reason", "r"))
    assert "dvc.lock" not in repo.git("show", "--name-only", "--format=", "HEAD").split()
    assert (repo.root / "dvc.lock").read_text() == edited
    assert repo.git("status", "--porcelain", "--", "dvc.lock") == "M dvc.lock"


def test_refused_when_outputs_no_longer_match_the_fingerprint(repo):
    pred = repo.root / "data/eval/runs" / RUN1 / "predictions.jsonl"
    data = pred.read_bytes()
    pred.unlink()  # a hardlink into the cache: replace the file, never write through it
    pred.write_bytes(data + b'{"case_id": "extra"}\n')
    before = repo.snapshot()
    refused(promote(repo, RUN1, "--as", "baseline", "--id", "b1", "--reason", "r"), "does not match")
    assert repo.snapshot() == before
    assert not os.path.exists(repo.root / "data/eval/baselines/b1")


def test_refused_when_the_workspace_run_is_not_the_one_dvc_lock_records(repo):
    """Outputs from one execution (workspace) and a dvc.lock from another (e.g. after
    `git revert` of a repro commit without `dvc checkout`) must not be mixed into one promotion:
    predictions come from the cache object dvc.lock names, the rest from the workspace."""
    config = repo.root / "data/eval/configs/lead1.yaml"
    config.write_text(config.read_text().replace("sentences: 1", "sentences: 3"))
    repo.commit_all("three sentences")
    repo.dvc("repro")
    repo.commit_all("runs: three sentences")
    repo.git("revert", "--no-edit", "HEAD")  # dvc.lock back to the 1-sentence outputs; workspace keeps 3
    assert repo.git("status", "--porcelain") == ""
    before = repo.snapshot()
    err = refused(promote(repo, RUN1, "--as", "baseline", "--id", "b1", "--reason", "r"), "dvc.lock")
    assert "predictions.jsonl" in err or "metrics.json" in err, err
    assert repo.snapshot() == before
    repo.dvc("checkout", "--force", f"data/eval/pipelines/{RUN1}/dvc.yaml:materialize")  # the outputs dvc.lock names: now they agree
    assert repo.git("status", "--porcelain") == ""
    ok(promote(repo, RUN1, "--as", "baseline", "--id", "b1", "--reason", "r"))
    assert repo.ledger("verify").returncode == 0


def test_gold_reference_path_uses_the_detected_task(repo):
    declare_run(repo, "ner-news", "data/eval/configs/ner-keyword.yaml", "data/eval/datasets/ner_news.jsonl")
    repo.commit_all("declare an NER run")
    repo.dvc("repro")
    repo.commit_all("runs: ner-news")
    assert repo.read_json("data/eval/runs/ner-news/metrics.json")["task"] == "ner_entities"
    ok(promote(repo, "ner-news", "--as", "reference", "--quality", "gold", "--id", "ner-gold", "--reason", "r"))
    dest = repo.root / "data/eval/references/gold/ner_entities/ner-gold"
    assert (dest / "predictions.jsonl").is_file() and (dest / "metrics.json").is_file()
    assert tag_message(repo, "promote/reference/ner-gold")["task"] == "ner_entities"
    assert repo.ledger("verify").returncode == 0


def test_refused_for_a_run_executed_on_another_branch(repo):
    repo.git("checkout", "-q", "-b", "exp")
    code = repo.root / "data/eval/configs/lead1.yaml"
    code.write_text(code.read_text() + "# experiment\n")
    exp = repo.commit_all("experiment")
    repo.dvc("repro")
    repo.commit_all("runs on exp")
    repo.git("checkout", "-q", "main")  # run dirs are git-ignored: the exp outputs stay
    assert repo.read_json(f"data/eval/runs/{RUN1}/fingerprint.json")["code"]["commit"] == exp
    before = repo.snapshot()
    refused(promote(repo, RUN1, "--as", "baseline", "--id", "b1", "--reason", "r"),
            f"was executed at {exp}", "not in this branch's history")
    assert repo.snapshot() == before


@pytest.mark.parametrize("sign", ["true", "false"])
def test_the_promotion_commit_is_signed_when_the_repository_signs_commits(repo, sign):
    """The promotion commit is made by plumbing (write-tree, commit-tree, update-ref), not `git
    commit`: it still honours commit.gpgSign, leaves the index and working tree clean, and
    writes the reflog line `git commit` would."""
    repo.git("config", "commit.gpgSign", sign)
    before = repo.git("rev-parse", "HEAD")
    proc = promote(repo, RUN1, "--as", "baseline", "--id", "b1", "--reason", "r")
    assert proc.returncode == 0, proc.stderr
    body = repo.git("cat-file", "commit", "HEAD")
    assert repo.git("rev-parse", "HEAD^") == before
    assert ("gpgsig -----BEGIN SSH SIGNATURE-----" in body) == (sign == "true")
    if sign == "true":
        repo.git("config", "gpg.ssh.allowedSignersFile", str(repo.root / ".ledger/allowed_signers"))
        assert "Good \"git\" signature for alice@example.com" in repo.sh("git", "verify-commit", "HEAD").stderr
    assert repo.git("status", "--porcelain") == ""
    assert repo.git("reflog", "-1", "--format=%gs") == "commit: promote: lead1-news -> baseline/b1"
    assert repo.ledger("verify").returncode == 0



@pytest.mark.parametrize("auto", ["true", "false"])
def test_git_housekeeping_runs_after_the_promotion_as_after_a_commit(repo, auto):
    """`git commit` runs `git maintenance run --auto` after committing (unless maintenance.auto is
    false); the plumbing commit does not, so promote runs it once the promotion is complete.
    Here the commit-graph task is set to run as soon as one commit lacks a graph: it writes one
    exactly when maintenance is on, and the promotion still verifies."""
    repo.git("config", "maintenance.commit-graph.enabled", "true")
    repo.git("config", "maintenance.commit-graph.auto", "1")
    repo.git("config", "maintenance.auto", auto)
    graphs = repo.root / ".git/objects/info/commit-graphs"
    assert not graphs.exists()
    proc = promote(repo, RUN1, "--as", "baseline", "--id", "b1", "--reason", "r")
    assert proc.returncode == 0, proc.stderr
    assert graphs.is_dir() == (auto == "true")
    assert repo.git("status", "--porcelain") == ""
    assert repo.ledger("verify").returncode == 0


@pytest.mark.parametrize("off", [None, "core.commitGraph", "gc.writeCommitGraph", "maintenance.auto"])
def test_a_repository_git_never_gcd_gets_its_commit_graph_once(repo, off):
    """A fresh clone has no commit-graph until git gc runs, and every merge-base walk parses each
    commit it passes: the first promotion writes one, as gc would; later ones leave it to gc
    (git's own config turns it off)."""
    info = repo.root / ".git/objects/info"
    assert not (info / "commit-graph").exists() and not (info / "commit-graphs").exists()
    if off:
        repo.git("config", off, "false")
    proc = promote(repo, RUN1, "--as", "baseline", "--id", "b1", "--reason", "r")
    assert proc.returncode == 0, proc.stderr
    assert (info / "commit-graph").is_file() == (off is None)
    if off is None:
        repo.git("commit-graph", "verify")
        written = (info / "commit-graph").stat().st_mtime_ns
        proc = promote(repo, RUN2, "--as", "baseline", "--id", "b2", "--reason", "r")
        assert proc.returncode == 0, proc.stderr
        assert (info / "commit-graph").stat().st_mtime_ns == written
    assert repo.git("status", "--porcelain") == ""
    assert repo.ledger("verify").returncode == 0
