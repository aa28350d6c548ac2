"""`ledger promote` refusals that the mutation run of promote.py found untested: each is one
line, exit 2, and the repository exactly as before (a failed roll-back: as before once recovered)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time

import pytest

from conftest import BIN
from test_promote import RUN1, RUN2, cache_object, ok, promote, refused

JOURNAL = ".git/ledger/txn/journal.json"


def unchanged(box, proc, *needles) -> None:
    before = box.snapshot()
    refused(proc(), *needles)
    assert box.snapshot() == before


@pytest.mark.parametrize("length, accepted", [(500, True), (501, False)])
def test_a_reason_may_have_500_characters_not_more(repo, length, accepted):
    proc = promote(repo, RUN1, "--as", "baseline", "--id", "b1", "--reason", "r" * length)
    if accepted:
        ok(proc)
    else:
        refused(proc, "at most 500 characters")


@pytest.mark.parametrize("claim", ["promote/x/b1", "promote/a/b/c/b1", "promote/b1"])
def test_an_id_claimed_by_a_tag_under_any_name_is_refused(repo, claim):
    repo.git("tag", "-a", "-m", "someone's claim", claim)
    unchanged(repo, lambda: promote(repo, RUN1, "--as", "baseline", "--id", "b1", "--reason", "r"),
              f"id 'b1' is already claimed by tag {claim}")


@pytest.mark.parametrize("fmt", ["openpgp", "x509"])
def test_a_signing_format_other_than_ssh_is_refused(repo, fmt):
    repo.git("config", "gpg.format", fmt)
    unchanged(repo, lambda: promote(repo, RUN1, "--as", "baseline", "--id", "b1", "--reason", "r"), fmt)


def test_a_run_whose_predictions_are_not_in_the_dvc_cache_is_refused(repo):
    pred = repo.root / f"data/eval/runs/{RUN1}/predictions.jsonl"
    obj = cache_object(repo, hashlib.md5(pred.read_bytes()).hexdigest())
    obj.chmod(0o644)
    obj.unlink()
    unchanged(repo, lambda: promote(repo, RUN1, "--as", "baseline", "--id", "b1", "--reason", "r"),
              f"DVC cache lacks predictions.jsonl of run '{RUN1}'")


def test_a_workspace_output_that_is_not_what_dvc_lock_records_is_refused_whichever_way_it_sorts(repo):
    """baseline.json is a run output dvc.lock records but the fingerprint does not cover: an
    edit of it is caught by comparing md5s, which must be compared for equality, not order."""
    path = repo.root / f"data/eval/runs/{RUN1}/baseline.json"
    original = path.read_bytes()
    recorded = hashlib.md5(original).hexdigest()
    found = {}
    for n in range(1, 1_000_000):  # until one edit sorts each way (an md5 near ff.. needs many tries)
        edit = original + b" " * (n % 64) + b"\n" * (n // 64)
        found.setdefault(hashlib.md5(edit).hexdigest() > recorded, edit)
        if len(found) == 2:
            break
    assert set(found) == {True, False}
    for edit in found.values():
        path.write_bytes(edit)
        unchanged(repo, lambda: promote(repo, RUN1, "--as", "baseline", "--id", "b1", "--reason", "r"),
                  f"run '{RUN1}': baseline.json in the workspace is not the output dvc.lock records")


def test_a_failed_roll_back_keeps_the_journal_and_says_what_to_do(repo):
    """The promotion fails at the tag step; its roll-back then fails too (a backup it restores
    from is gone): one line naming the journal and `ledger recover`; with the backup back,
    recover undoes everything."""
    before = repo.snapshot()
    env = {**repo.env, "LEDGER_SLOW_AT": "committed:3", "LEDGER_FAULT_AT": "tagged"}
    proc = subprocess.Popen([str(BIN / "ledger"), "promote", RUN2, "--as", "baseline", "--id", "b2", "--reason", "r"],
                            cwd=repo.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    journal, deadline = repo.root / JOURNAL, time.monotonic() + 60
    while not (journal.is_file() and "committed" in journal.read_text()):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.02)
    backup = repo.root / ".git/ledger/txn/backup/dvc.lock"
    saved = repo.root.parent / "dvc.lock.saved"
    shutil.move(backup, saved)
    out, err = proc.communicate(timeout=120)
    err = err.strip()
    assert proc.returncode == 2 and err.startswith("error: ") and "\n" not in err, (proc.returncode, err)
    assert "the promotion failed and so did its roll-back (FileNotFoundError" in err, err
    assert f"the journal is kept in {journal.parent}" in err and "`ledger recover`" in err, err
    assert json.loads(journal.read_text())["run_id"] == RUN2
    shutil.move(saved, backup)
    done = repo.ledger("recover")
    assert done.returncode == 0 and "rolled back" in done.stdout, done.stdout + done.stderr
    assert repo.snapshot() == before
