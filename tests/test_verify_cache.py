"""The verify cache (ledger/audit/cache.py) remembers passes by immutable ids: it may skip work,
never turn a failure into a pass. Each test first makes verify remember b1's pass (and proves
it did: `cached` in the JSON), then changes one thing the pass depended on."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path

import pytest

from conftest import LEDGER_MAIN, bytecode_only_ledger, ledger_copy
from test_verify import DIR, TAG, make_tag, tag_text

ALICE = "alice@example.com"


def run(box, *args, env=None) -> tuple[int, dict]:
    proc = box.ledger("verify", "--json", *args, env=env)
    assert proc.stdout.strip(), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def remembered(box, *args, env=None) -> None:
    """Two verifies: the first checks everything, the second takes b1's pass from the cache."""
    for cached in (0, 1):
        rc, out = run(box, *args, env=env)
        assert rc == 0 and out["cached"] == cached, out
    assert "1 of them passed an earlier verify" in box.ledger("verify", *args, env=env).stdout


def fails(box, needle: str, *args, cached: int = 0, env=None) -> dict:
    rc, out = run(box, *args, env=env)
    (b1,) = [r for r in out["results"] if r["path"] == DIR]
    assert rc == 1 and not b1["ok"] and any(needle in p for p in b1["problems"]), b1["problems"]
    assert out["cached"] == cached
    return out


def cache_file(box) -> Path:
    name = hashlib.sha256(bytes((box.root / ".git").resolve())).hexdigest()[:32]
    return Path(box.env["HOME"]) / ".cache/ledger/verify" / f"{name}.json"


def _signers(box, text: str, message: str) -> None:
    (box.root / ".ledger/allowed_signers").write_text(text)
    box.commit_all(message)


@pytest.mark.parametrize("shape", ["removed", "granted-to-bob", "signers-from", "revoked", "revoked-git-path"])
def test_a_changed_signer_file_invalidates_a_remembered_pass(promoted, shape):
    box = promoted
    line = (box.root / ".ledger/allowed_signers").read_text()
    args: tuple[str, ...] = ()
    env = {"LEDGER_SIGCHECK": "git"} if shape == "revoked-git-path" else None
    if shape.startswith("revoked"):
        revoked = box.root.parent / "revoked_keys"
        revoked.write_text("")
        box.git("config", "gpg.ssh.revocationFile", str(revoked))
    remembered(box, env=env)
    if shape == "removed":
        _signers(box, "", "drop alice")
    elif shape == "granted-to-bob":
        _signers(box, line.replace(ALICE, "bob@example.com"), "alice's key is bob's now")
    elif shape == "signers-from":
        box.git("checkout", "-q", "-b", "nosigners")
        _signers(box, "", "drop alice")
        box.git("checkout", "-q", "main")
        args = ("--signers-from", "nosigners")
    else:  # the same revocation file, now listing alice's key: only its bytes changed
        revoked.write_text((box.root.parent / "alice.key.pub").read_text())
    fails(box, f"signed by bob@example.com but the tagger claims {ALICE}" if shape == "granted-to-bob"
          else "bad or untrusted signature", *args, env=env)


@pytest.mark.parametrize("shape", ["re-pointed", "unsigned-copy", "lightweight"])
def test_a_moved_or_replaced_tag_invalidates_a_remembered_pass(promoted, shape):
    box = promoted
    remembered(box)
    message, commit = tag_text(box, TAG), box.git("rev-parse", f"{TAG}^{{commit}}")
    if shape == "re-pointed":  # same signed record, re-signed by alice on a later commit
        (box.root / "later.txt").write_text("later\n")
        later = box.commit_all("later work")
        make_tag(box, TAG, later, message, key=box.root.parent / "alice.key")
        fails(box, f"tag points at {later[:12]}, not at the commit that promoted {DIR}")
    elif shape == "unsigned-copy":
        make_tag(box, TAG, commit, message)
        fails(box, "tag is not signed")
    else:
        box.git("tag", "-f", TAG, commit)
        fails(box, "lightweight tag")


def test_a_committed_change_to_the_promoted_tree_invalidates_a_remembered_pass(promoted):
    box = promoted
    remembered(box)
    path = box.root / DIR / "metrics.json"
    path.write_text(path.read_text().replace("token_f1", "token_f2"))
    box.commit_all("edit a baseline")
    fails(box, f"{DIR} was modified (metrics.json) after promotion")


def test_reachability_is_judged_again_on_a_remembered_pass(promoted):
    """The same promoted tree (same key) on a history that does not contain the promotion
    commit, as a squash merge leaves it: the pass is taken from the cache, and whether the
    commit is in this history is asked again (never cached) and said."""
    box = promoted
    remembered(box)
    commit = box.git("rev-parse", f"{TAG}^{{commit}}")
    box.git("checkout", "-q", "--orphan", "rewritten")
    box.git("commit", "-q", "-m", "history rewritten, same files")
    rc, out = run(box)
    (b1,) = [r for r in out["results"] if r["path"] == DIR]
    assert rc == 0 and out["cached"] == 1, out
    assert f"promotion commit {commit[:12]} is not in this history (merged by squash or rebase)" in b1["notes"][0]
    box.git("checkout", "-q", "main")
    rc, out = run(box)
    assert rc == 0 and out["cached"] == 1 and not out["results"][0]["notes"], out
    box.git("checkout", "-q", "rewritten")
    box.git("rm", "-rq", DIR)
    box.git("commit", "-q", "-m", "drop it")
    fails(box, f"{DIR} was deleted after promotion")


@pytest.mark.parametrize("name", ["metrics.json", "predictions.jsonl"])
def test_a_working_tree_edit_with_the_same_size_and_mtime_is_caught(promoted, name):
    """The working-tree pass is remembered by each file's full stat; an edit that keeps the size
    and puts the mtime back still changes the ctime."""
    box = promoted
    path = box.root / DIR / name
    if path.is_symlink() or path.stat().st_nlink > 1:  # linked from the DVC cache: edit a private copy
        data = path.read_bytes()
        path.unlink()
        path.write_bytes(data)
    time.sleep(2.1)  # older than the racy window: the working-tree pass is remembered too
    remembered(box)
    st = path.stat()
    data = bytearray(path.read_bytes())
    i = next(i for i, c in enumerate(data) if chr(c).isalpha())
    data[i] = ord(chr(data[i]).swapcase())
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns
    fails(box, f"{DIR}/{name} in the working tree differs from the signed record", cached=1)


def test_a_garbled_or_foreign_cache_is_an_empty_one_and_verdicts_match_an_uncached_run(promoted):
    box = promoted
    remembered(box)
    cache = cache_file(box)
    assert cache.is_file()
    for garbage in (b"\xff\xfe not json", b"[]", b'{"context": 1, "passes": []}', b"{" * 100000):
        cache.write_bytes(garbage)
        rc, out = run(box)
        assert rc == 0 and out["cached"] == 0, out
    # a failure elsewhere (an unsigned second promotion) next to a remembered pass: the same
    # results as a run that reads no cache
    assert box.ledger("promote", "lead2-news", "--as", "baseline", "--id", "b2", "--reason", "r",
                      "--unsigned").returncode == 0
    rc, warm = run(box)
    rc0, cold = run(box, env={"LEDGER_VERIFY_CACHE": "0"})
    assert rc == rc0 == 1 and warm["cached"] == 1 and cold["cached"] == 0
    assert warm["results"] == cold["results"]


def test_a_copied_dir_with_a_ref_to_the_same_tag_object_is_not_a_remembered_pass(promoted):
    """b1's dir copied to b2 (the same tree id) and refs/tags/promote/baseline/b2 pointing at
    b1's very tag object: the cache key holds the ref name and the path, so b2 is checked in
    full and fails, while b1 stays a remembered pass."""
    import shutil

    box = promoted
    remembered(box)
    copy = DIR.rsplit("/", 1)[0] + "/b2"
    shutil.copytree(box.root / DIR, box.root / copy, ignore=shutil.ignore_patterns("predictions.jsonl"))
    box.commit_all("a copy of b1 as b2")
    assert box.git("rev-parse", f"HEAD:{copy}") == box.git("rev-parse", f"HEAD:{DIR}")
    box.git("update-ref", "refs/tags/promote/baseline/b2", box.git("rev-parse", f"refs/tags/{TAG}"))
    rc, out = run(box)
    results = {r["path"]: r for r in out["results"]}
    assert rc == 1 and out["cached"] == 1 and results[DIR]["ok"], out
    assert not results[copy]["ok"] and any("not where it belongs" in p for p in results[copy]["problems"]), \
        results[copy]


def test_a_ledger_without_its_source_remembers_nothing(promoted, tmp_path):
    """The key holds a digest of the verifier's source: installed from bytecode alone there is
    none to take, and a key without it would outlive a ledger upgrade (a pass remembered by a
    verifier with a hole, trusted by the one that fixed it). So nothing is remembered then."""
    cache = tmp_path / "cache"
    env = {**bytecode_only_ledger(promoted, tmp_path), "XDG_CACHE_HOME": str(cache)}
    for _ in range(2):
        proc = promoted.sh(sys.executable, "-c", LEDGER_MAIN, "verify", "--json", env=env, check=False)
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout)
        assert out["ok"] and out["checked"] == 1 and out["cached"] == 0, out
    assert not (cache / "ledger" / "verify").exists()
    remembered(promoted, env={"XDG_CACHE_HOME": str(cache)})  # the same ledger from source does remember


def test_a_pass_remembered_by_other_verifier_code_is_not_used(promoted, tmp_path):
    """The key holds a digest of ledger's source: a pass remembered by one ledger is checked
    afresh by another whose code differs by one comment line (as after an upgrade that fixes
    a verify hole)."""
    cache = tmp_path / "cache"
    copies = []
    for name, extra in (("a", ""), ("b", "# another verifier\n")):
        env = ledger_copy(tmp_path / name)
        verify = tmp_path / name / "ledger" / "audit" / "verify.py"
        verify.write_text(verify.read_text() + extra)
        copies.append({**env, "XDG_CACHE_HOME": str(cache)})

    def cached(env) -> int:
        proc = promoted.sh(sys.executable, "-c", LEDGER_MAIN, "verify", "--json", env=env, check=False)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)["cached"]

    assert [cached(copies[0]), cached(copies[0])] == [0, 1]
    assert [cached(copies[1]), cached(copies[1]), cached(copies[0])] == [0, 1, 0]
