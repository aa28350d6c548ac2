"""Promoted directories are .dvcignore'd, so promotions never slow `dvc status`/`dvc repro`;
`ledger pull [ID...]` fetches their predictions from the DVC remote instead of `dvc pull`, and
places only objects that match the sha256 their signed record holds, of promotions that verify."""

from __future__ import annotations

import json

import pytest

from conftest import Sandbox
from test_remote import bare_origin, clone, pointer_md5, promote, store_object

DEST = "data/eval/baselines/b1"
PRED = f"{DEST}/predictions.jsonl"


@pytest.fixture
def origin(repo):
    return bare_origin(repo)


def pushed_clone(repo: Sandbox, origin, name: str = "fresh") -> Sandbox:
    proc = promote(repo, "lead1-news", "b1", "--push")
    assert proc.returncode == 0, proc.stderr
    box = clone(repo, origin, name)
    assert not (box.root / PRED).exists()
    return box


def test_dvc_walks_only_the_newest_promoted_dir(promoted):
    """Every promoted dir but the newest is out of DVC's walk (the newest is DVC's to find at its
    GTO tag: `dvc artifacts get`)."""
    ignore = (promoted.root / ".dvcignore").read_text().splitlines()
    assert "/data/eval/baselines/*" in ignore and "/data/eval/references/*/*" in ignore
    assert (promoted.root / PRED).is_file()  # the promotion placed it itself (hard-linked from the cache)
    proc = promoted.ledger("promote", "lead2-news", "--as", "baseline", "--id", "b2", "--reason", "newer")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(promoted.dvc("status", "--json").stdout) == {"envlock": ["always changed"]}
    listed = promoted.dvc("ls", ".", "--dvc-only", "-R").stdout
    assert "data/eval/baselines/b2/predictions.jsonl" in listed and "b1" not in listed, listed


def test_a_fresh_clone_pulls_what_verifies_and_pulling_again_does_nothing(repo, origin):
    fresh = pushed_clone(repo, origin)
    verify = fresh.ledger("verify", check=True).stdout
    assert "predictions.jsonl not in the working tree" in verify
    out = fresh.ledger("pull", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"pulled": ["b1"], "present": [], "failed": [], "ok": True}
    assert (fresh.root / PRED).read_bytes() == (repo.root / PRED).read_bytes()
    assert "not in the working tree" not in fresh.ledger("verify", check=True).stdout
    again = fresh.ledger("pull", "b1")
    assert again.returncode == 0 and again.stdout.strip() == "0 pulled, 1 already present, 0 failed"
    assert fresh.git("status", "--porcelain") == ""


def test_a_replaced_object_is_never_placed(repo, origin):
    """On the remote (DVC itself refuses an object whose md5 is not its name) and in the
    local cache (ledger refuses one whose sha256 is not the signed one)."""
    fresh = pushed_clone(repo, origin)
    md5 = pointer_md5(repo, DEST)
    obj = store_object(repo.root.parent / "repo.dvc-store", md5)
    good = obj.read_bytes()
    obj.chmod(0o644)
    obj.write_text('{"case_id": "news-001", "summary": "forged"}\n')
    for args in ((), ("b1",)):
        out = fresh.ledger("pull", *args)
        assert out.returncode == 1 and f"FAILED b1: the DVC remote does not have {PRED} (md5 {md5})" in out.stdout, out
        assert out.stderr == "" and not (fresh.root / PRED).exists()
    obj.write_bytes(good)
    assert fresh.ledger("pull").returncode == 0
    (fresh.root / PRED).unlink()
    cached = fresh.root / ".dvc/cache/files/md5" / md5[:2] / md5[2:]
    cached.chmod(0o644)
    cached.write_text('{"case_id": "news-001", "summary": "forged"}\n')
    out = fresh.ledger("pull", "b1")
    assert out.returncode == 1 and "does not match the sha256 its signed record holds" in out.stdout, out
    assert not (fresh.root / PRED).exists()


def test_unknown_ids_and_promotions_that_do_not_verify_are_refused(repo, origin):
    fresh = pushed_clone(repo, origin)
    for bad, needle in (("nope", "no promotion with id 'nope'"), ("../x", "invalid promoted id")):
        out = fresh.ledger("pull", bad)
        assert out.returncode == 2 and len(out.stderr.splitlines()) == 1 and needle in out.stderr, out.stderr
    signers = fresh.root / ".ledger/allowed_signers"
    signers.write_text("")  # nobody may sign any more: b1 no longer verifies
    fresh.commit_all("revoke every signer")
    one = fresh.ledger("pull", "b1")
    assert one.returncode == 2 and "does not verify, refusing to use it" in one.stderr, one.stderr
    every = fresh.ledger("pull")
    assert every.returncode == 1 and "FAILED b1: promotion 'b1' does not verify" in every.stdout, every.stdout
    assert not (fresh.root / PRED).exists()
