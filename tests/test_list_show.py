"""`ledger list [--all] [--json]` and `ledger show ID [--json]` on real promotions."""

from __future__ import annotations


import pytest

from conftest import copy_repo


@pytest.fixture(scope="module")
def two_template(tmp_path_factory, template, session_env):
    """lead1-news promoted as a baseline, lead2-news as a gold reference (once for this file)."""
    repo = copy_repo(template, tmp_path_factory.mktemp("two"), session_env)
    for args in (("lead1-news", "--as", "baseline", "--id", "news-b1", "--reason", "first baseline"),
                 ("lead2-news", "--as", "reference", "--quality", "gold", "--id", "news-gold",
                  "--reason", "checked by hand")):
        proc = repo.ledger("promote", *args)
        assert proc.returncode == 0, proc.stderr
    return repo


@pytest.fixture
def two(tmp_path, two_template, session_env):
    """A copy of two_template for one test."""
    return copy_repo(two_template, tmp_path, session_env)


def lines(proc) -> list[str]:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.strip().splitlines()


def test_list_before_any_promotion(repo):
    assert lines(repo.ledger("list")) == ["no promotions yet"]
    assert repo.ledger_json("list") == []
    rows = lines(repo.ledger("list", "--all"))
    assert [r.split() for r in rows] == [["run", "lead1-news", "data/eval/runs/lead1-news"],
                                         ["run", "lead2-news", "data/eval/runs/lead2-news"]]


def test_list_shows_every_promotion_from_its_tag(two):
    rows = lines(two.ledger("list"))
    assert len(rows) == 2
    b, g = (r.split() for r in rows)
    assert b[:3] == ["baseline", "news-b1", "data/eval/baselines/news-b1"]
    assert b[3:5] == ["from", "lead1-news"] and b[5] == "at" and b[6].startswith("20")
    assert g[:3] == ["reference/gold", "news-gold", "data/eval/references/gold/summarization/news-gold"]
    assert g[3:5] == ["from", "lead2-news"]
    assert "UNSIGNED" not in two.ledger("list").stdout

    items = {i["promoted_id"]: i for i in two.ledger_json("list")}
    assert set(items) == {"news-b1", "news-gold"}
    b1 = items["news-b1"]
    assert b1["role"] == "baseline" and b1["quality"] is None and b1["run_id"] == "lead1-news"
    assert b1["tag"] == "promote/baseline/news-b1" and b1["signed"] is True
    assert b1["commit"] == two.git("rev-parse", "promote/baseline/news-b1^{commit}")
    assert b1["reason"] == "first baseline"
    assert b1["metrics"] == two.read_json("data/eval/baselines/news-b1/metrics.json")["metrics"]
    gold = items["news-gold"]
    assert gold["role"] == "reference" and gold["quality"] == "gold" and gold["task"] == "summarization"
    assert gold["commit"] == two.git("rev-parse", "HEAD")


def test_list_all_adds_the_runs_still_in_the_workspace(repo):
    assert repo.ledger("promote", "lead1-news", "--as", "baseline", "--id", "news-b1", "--reason", "r").returncode == 0
    rows = lines(repo.ledger("list", "--all"))
    assert len(rows) == 2
    assert rows[0].split()[:2] == ["baseline", "news-b1"]
    assert rows[1].split() == ["run", "lead2-news", "data/eval/runs/lead2-news"]
    items = repo.ledger_json("list", "--all")
    run = [i for i in items if i["role"] == "run"]
    assert len(run) == 1 and run[0]["run_id"] == "lead2-news" and run[0]["materialized"] is True
    assert run[0]["config"] == "data/eval/configs/lead2.yaml" and run[0]["task"] == "summarization"
    assert run[0]["metrics"] == repo.read_json("data/eval/runs/lead2-news/metrics.json")["metrics"]


def test_list_all_marks_declared_but_unmaterialized_runs(project):
    rows = lines(project.ledger("list", "--all"))
    assert rows == [r for r in rows if r.endswith("(not materialized)")] and len(rows) == 2


def test_list_marks_unsigned_promotions(repo):
    repo.git("config", "--unset", "user.signingkey")
    proc = repo.ledger("promote", "lead1-news", "--as", "baseline", "--id", "u1", "--reason", "r", "--unsigned")
    assert proc.returncode == 0, proc.stderr
    (row,) = lines(repo.ledger("list"))
    assert row.split()[1] == "u1" and row.endswith("UNSIGNED")
    assert repo.ledger_json("list")[0]["signed"] is False
    shown = repo.ledger("show", "u1").stdout
    assert "by UNVERIFIED (the tag claims Alice <alice@example.com>)" in shown and "verify       FAIL" in shown
    assert repo.ledger_json("show", "u1")["promoted_by"] is None


def test_show_text(two):
    out = lines(two.ledger("show", "news-b1"))
    fp = two.read_json("data/eval/baselines/news-b1/fingerprint.json")
    commit = two.git("rev-parse", "promote/baseline/news-b1^{commit}")
    assert out[0] == "news-b1: baseline at data/eval/baselines/news-b1"
    assert out[1].split() == ["from", "run", "lead1-news", "(reason:", "first", "baseline)"]
    assert out[2].split()[3:] == ["alice@example.com", "(verified", "signer)"]  # not the tag's own claim
    assert out[3].split() == ["tag", "promote/baseline/news-b1", "->", commit[:12], "(signed)"]
    assert out[4].split() == ["code", "commit", fp["code"]["commit"]]
    (dataset, md5), = fp["data"].items()
    assert out[5].split() == ["data", dataset, "md5", md5]
    metrics = two.read_json("data/eval/baselines/news-b1/metrics.json")["metrics"]
    assert out[6].split(None, 1) == ["metrics", ", ".join(f"{k}={v}" for k, v in sorted(metrics.items()))]
    assert out[7].split() == ["verify", "OK"]

    gold = lines(two.ledger("show", "news-gold"))
    assert gold[0] == "news-gold: reference/gold at data/eval/references/gold/summarization/news-gold"


def test_show_json(two):
    r = two.ledger_json("show", "news-gold")
    fp = two.read_json("data/eval/references/gold/summarization/news-gold/fingerprint.json")
    assert r["promoted_id"] == "news-gold" and r["role"] == "reference" and r["quality"] == "gold"
    assert r["path"] == "data/eval/references/gold/summarization/news-gold"
    assert r["tag"] == "promote/reference/news-gold" and r["commit"] == two.git("rev-parse", "HEAD")
    assert r["fingerprint_sha256"] == fp["fingerprint_sha256"]
    assert r["code_commit"] == fp["code"]["commit"] and r["data"] == fp["data"]
    assert r["verify"]["ok"] is True and r["verify"]["signer"] == "alice@example.com"
    assert r["verify"]["problems"] == []
    assert r["baseline_json"]["promoted_id"] == "news-gold"
    assert r["baseline_json"]["reference_quality"] == "gold"
    assert r["baseline_json"]["promotion_tag"] == "promote/reference/news-gold"


def test_show_reports_a_failed_verification(two):
    path = two.root / "data/eval/baselines/news-b1/metrics.json"
    path.write_text(path.read_text() + " ")
    out = lines(two.ledger("show", "news-b1"))
    assert out[-1].strip().startswith("verify       FAIL: ") and "metrics.json in the working tree differs" in out[-1]
    r = two.ledger_json("show", "news-b1")
    assert r["verify"]["ok"] is False
    assert two.ledger_json("show", "news-gold")["verify"]["ok"] is True


@pytest.mark.parametrize("claim", ["promote/news-b1", "promote/a/news-b1", "promote/x/y/z/news-b1"])
def test_show_reads_every_tag_claiming_the_id_at_any_depth(two, claim):
    """show reads only the tags that can claim its id, at any depth under promote/: a second
    claim, even a copy of the signed record, makes the id fail to verify, signer unshown."""
    body = two.sh("git", "tag", "-l", "--format=%(contents:body)", "promote/baseline/news-b1").stdout
    two.git("-c", "tag.gpgSign=false", "tag", "-a", claim, "-m", body, "HEAD")
    r = two.ledger_json("show", "news-b1")
    assert r["verified"] is False and r["promoted_by"] is None and r["verify"]["ok"] is False
    assert any("2 tags claim this id" in p for p in r["verify"]["problems"]), r["verify"]
    assert two.ledger_json("show", "news-gold")["verified"] is True


@pytest.mark.parametrize("ident, needle", [("nope", "no promotion with id 'nope'"),
                                           ("../x", "invalid promoted id")])
def test_show_unknown_or_invalid_id(two, ident, needle):
    proc = two.ledger("show", ident)
    assert proc.returncode == 2 and proc.stdout == ""
    err = proc.stderr.strip()
    assert err.startswith("error: ") and "\n" not in err and needle in err, err


def test_list_and_log_never_claim_a_signature_they_did_not_check(repo):
    """A tag with a signature block that nobody checked: list/log say "signed (unverified)" and
    `verified: false`; show verifies it (and a forged one is shown as FAIL, never as signed)."""
    assert repo.ledger("promote", "lead1-news", "--as", "baseline", "--id", "b1", "--reason", "r").returncode == 0
    (row,) = lines(repo.ledger("list"))
    assert row.endswith("signed (unverified)")
    assert repo.ledger_json("list")[0]["verified"] is False and repo.ledger_json("log")[0]["verified"] is False
    assert "signed (unverified)" in lines(repo.ledger("log"))[0]
    assert repo.ledger_json("show", "b1")["verified"] is True
    mallory = repo.keygen("mallory")  # re-sign the same record with a key nobody allowed
    message = repo.sh("git", "cat-file", "tag", "promote/baseline/b1").stdout.split("\n\n", 1)[1]
    (repo.root.parent / "msg").write_text(message.split("-----BEGIN SSH SIGNATURE-----", 1)[0])
    repo.git("-c", f"user.signingkey={mallory}", "tag", "-f", "-s", "--cleanup=verbatim", "-F",
             str(repo.root.parent / "msg"), "promote/baseline/b1", "promote/baseline/b1^{commit}")
    assert lines(repo.ledger("list"))[0].endswith("signed (unverified)")  # still no claim of validity
    shown = repo.ledger_json("show", "b1")
    assert shown["verified"] is False and shown["promoted_by"] is None
