"""`ledger log`: the promotion audit trail from the tags, newest first."""

from __future__ import annotations

import json
import time

RUN1, RUN2 = "lead1-news", "lead2-news"


def ok(proc):
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_log_empty_repo(repo):
    proc = ok(repo.ledger("log"))
    assert proc.stdout.strip() == "no promotions yet"
    assert json.loads(ok(repo.ledger("log", "--json")).stdout) == []


def test_log_newest_first_with_audit_fields(repo):
    ok(repo.ledger("promote", RUN1, "--as", "baseline", "--id", "b1", "--reason", "first baseline"))
    # promoted_at has one-second resolution: make the order observable.
    repo.git("config", "user.name", "Bob")
    time.sleep(1.1)
    ok(repo.ledger("promote", RUN2, "--as", "reference", "--id", "r2", "--reason", "silver ref", "--unsigned"))

    entries = repo.ledger_json("log")
    assert [e["id"] for e in entries] == ["r2", "b1"]
    newest, oldest = entries
    assert newest["role"] == "reference" and newest["quality"] == "silver" and newest["run"] == RUN2
    assert newest["tag"] == "promote/reference/r2" and newest["signed"] is False
    assert newest["promoted_by"] == "Bob <alice@example.com>" and newest["reason"] == "silver ref"
    assert oldest["signed"] is True and oldest["run"] == RUN1 and oldest["reason"] == "first baseline"
    assert oldest["commit"] == repo.git("rev-parse", "promote/baseline/b1^{commit}")
    assert newest["commit"] == repo.git("rev-parse", "HEAD")
    assert newest["promoted_at"] > oldest["promoted_at"]

    assert [e["id"] for e in repo.ledger_json("log", "--limit", "1")] == ["r2"]

    text = ok(repo.ledger("log")).stdout.splitlines()
    assert len(text) == 2
    assert "reference/silver" in text[0] and "r2" in text[0] and "UNSIGNED" in text[0] and '"silver ref"' in text[0]
    assert "baseline" in text[1] and "b1" in text[1] and "signed" in text[1] and oldest["commit"][:12] in text[1]


def test_log_reports_foreign_tag_as_invalid(repo):
    repo.git("tag", "-a", "-m", "not a record", "promote/baseline/junk")
    entries = repo.ledger_json("log")
    assert len(entries) == 1 and entries[0]["id"] == "junk" and entries[0]["invalid"] is True
    assert "INVALID RECORD" in ok(repo.ledger("log")).stdout


def test_log_rejects_bad_limit(repo):
    proc = repo.ledger("log", "--limit", "0")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: --limit must be a positive number, not 0"
    proc = repo.ledger("log", "--limit", "many")
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and proc.stdout == ""


def test_log_limit_is_the_newest_n_by_tag_date(repo):
    """log lists by the tag's own date (git sorts; --limit N then parses only N tags): the order
    is the date's, not the name's, ties by id descending, and --limit N is the first N of log."""
    dates = {"m-mid": "2024-01-02T00:00:00", "z-old": "2024-01-01T00:00:00", "a-new": "2024-01-03T00:00:00",
             "b-tie": "2024-01-03T00:00:00"}
    for pid, date in dates.items():
        repo.sh("git", "tag", "-a", "-m", "not a record", f"promote/baseline/{pid}",
                env={"GIT_COMMITTER_DATE": date})
    ids = [e["id"] for e in repo.ledger_json("log")]
    assert ids == ["b-tie", "a-new", "m-mid", "z-old"]
    for n in (1, 2, 3, 4, 9):
        assert [e["id"] for e in repo.ledger_json("log", "--limit", str(n))] == ids[:n]
        text = ok(repo.ledger("log", "--limit", str(n))).stdout.splitlines()
        assert [line.split()[2] for line in text] == ids[:n]
