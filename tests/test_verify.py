"""`ledger verify` on real repos: each tampering is detected with exit 1 and a specific line."""

from __future__ import annotations

import json

import shutil

import pytest

DIR = "data/eval/baselines/b1"
TAG = "promote/baseline/b1"


def verify_fails(box, *needles, args=()):
    proc = box.ledger("verify", *args)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAILED" in proc.stdout
    for needle in needles:
        assert needle in proc.stdout, proc.stdout
    return proc.stdout


def verify_passes(box, args=()):
    proc = box.ledger("verify", *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "all OK" in proc.stdout
    return proc.stdout


def git_verify_tag(box, tag: str, env: dict | None = None):
    """Plain `git verify-tag --raw` against the committed allowed_signers (what verify's git path asks)."""
    return box.sh("git", "-c", "gpg.ssh.allowedSignersFile=.ledger/allowed_signers", "verify-tag", "--raw", tag,
                  env=env, check=False)


def tag_text(box, tag: str) -> str:
    """The exact message of an annotated tag (header and signature stripped)."""
    raw = box.sh("git", "cat-file", "tag", tag).stdout
    return raw.split("\n\n", 1)[1].split("-----BEGIN SSH SIGNATURE-----", 1)[0]


def make_tag(box, name: str, commit: str, message: str, key=None, email: str = "alice@example.com",
             force: bool = True) -> None:
    msg = box.root.parent / "tag.msg"
    msg.write_text(message)
    if force:
        box.git("tag", "-d", name, check=False)
    cfg = ["-c", f"user.email={email}"] + (["-c", f"user.signingkey={key}"] if key else [])
    box.git(*cfg, "tag", "-s" if key else "-a", "--cleanup=verbatim", "-F", str(msg), name, commit)


def rebind_gto(box, promotion_tag: str, key=None, email: str = "alice@example.com") -> str:
    """Re-makes the GTO tag the promotion record of `promotion_tag` names, on the same commit
    and bound to that tag's current object: what a legitimate re-tag, or a thorough forger who
    replaced the promotion tag, does. Returns the GTO tag's name."""
    from ledger.audit import gto

    record = json.loads(tag_text(box, promotion_tag))
    oid = box.git("rev-parse", f"refs/tags/{promotion_tag}")
    make_tag(box, record["gto_tag"], box.git("rev-parse", f"{promotion_tag}^{{commit}}"),
             gto.message(record, promotion_tag, oid), key=key, email=email)
    return record["gto_tag"]


def test_clean_promotion_verifies(promoted):
    out = verify_passes(promoted)
    assert f"OK    {DIR} (signed by alice@example.com)" in out
    assert "1 promoted dir(s) checked: all OK" in out


def test_committed_modification_of_metrics(promoted):
    path = promoted.root / DIR / "metrics.json"
    path.write_text(path.read_text().replace("token_f1", "token_f2"))
    sha = promoted.commit_all("tweak a baseline")
    verify_fails(promoted, f"FAIL  {DIR}: {DIR} was modified (metrics.json) after promotion by {sha[:12]}\n")
    path.write_text(path.read_text().replace("token_f2", "token_f3"))
    newest = promoted.commit_all("tweak it again")
    verify_fails(promoted, f"{DIR} was modified (metrics.json) after promotion by {newest[:12]}\n")  # the latest


def test_working_tree_only_modification(promoted):
    path = promoted.root / DIR / "metrics.json"
    path.write_text(path.read_text() + " ")
    verify_fails(promoted, f"FAIL  {DIR}: {DIR}/metrics.json in the working tree differs from the signed record")


def sorting_both_ways(data: bytes, edit) -> list[bytes]:
    """Two edits of `data` (`edit(data, n)` for n = 1, 2, ...): one whose sha256 sorts above that
    of `data`, one below. Digests are compared for equality, and an ordering comparison would
    pass one of them."""
    import hashlib

    signed, found = hashlib.sha256(data).hexdigest(), {}
    for n in range(1, 20_000):  # until one sorts each way: a digest near 00.. or ff.. needs many tries
        forged = edit(data, n)
        found.setdefault(hashlib.sha256(forged).hexdigest() > signed, forged)
        if len(found) == 2:
            break
    assert set(found) == {True, False}
    return list(found.values())


def test_a_working_tree_edit_fails_whichever_way_its_digest_sorts(promoted):
    path = promoted.root / DIR / "metrics.json"
    for content in sorting_both_ways(path.read_bytes(), lambda data, n: data + b" " * n):
        path.write_bytes(content)
        verify_fails(promoted, f"FAIL  {DIR}: {DIR}/metrics.json in the working tree differs from the signed record")


def test_working_tree_predictions_replaced(promoted):
    pred = promoted.root / DIR / "predictions.jsonl"
    padded = lambda data, n: data.replace(b"case_id", b"case_id" + b" " * n, 1)  # noqa: E731
    for forged in sorting_both_ways(pred.read_bytes(), padded):
        pred.unlink()  # hardlinked into the DVC cache: replace, never write through
        pred.write_bytes(forged)
        verify_fails(promoted, f"{DIR}/predictions.jsonl in the working tree differs from the signed record")


def test_committed_deletion_of_a_promoted_dir(promoted):
    promoted.git("rm", "-r", "-q", DIR)
    shutil.rmtree(promoted.root / DIR)  # the DVC-checked-out predictions.jsonl too
    promoted.git("commit", "-q", "-m", "drop a baseline")
    sha = promoted.git("rev-parse", "HEAD")
    assert promoted.git("ls-tree", "HEAD", DIR) == ""
    verify_fails(promoted, f"FAIL  {DIR}: {DIR} was deleted after promotion by {sha[:12]}")


def test_tag_repointed_at_a_later_commit(promoted):
    message = tag_text(promoted, TAG)
    (promoted.root / "notes.txt").write_text("later\n")
    later = promoted.commit_all("a later commit")
    make_tag(promoted, TAG, later, message, key=promoted.root.parent / "alice.key")
    assert tag_text(promoted, TAG) == message
    verify_fails(promoted, f"FAIL  {DIR}: tag points at {later[:12]}, not at the commit that promoted {DIR}")


def test_tag_resigned_by_an_unknown_key(promoted):
    mallory = promoted.keygen("mallory")  # not in allowed_signers
    commit = promoted.git("rev-parse", f"{TAG}^{{commit}}")
    make_tag(promoted, TAG, commit, tag_text(promoted, TAG), key=mallory)
    # the reason is git's own last line (its [GNUPG:] status lines left out)
    git = git_verify_tag(promoted, TAG)
    said = [ln.strip() for ln in (git.stderr + "\n" + git.stdout).splitlines()
            if ln.strip() and not ln.startswith("[GNUPG:]")]
    assert git.returncode != 0 and len(said) >= 2, said
    verify_fails(promoted, f"FAIL  {DIR}: bad or untrusted signature ({said[-1]})\n")


def test_forged_tagger_is_caught(promoted):
    bob = promoted.keygen("bob")
    promoted.allow(bob, "bob@example.com")
    promoted.commit_all("allow bob")
    commit = promoted.git("rev-parse", f"{TAG}^{{commit}}")
    # bob signs with his own (allowed) key but claims to be alice: git verify-tag alone accepts it.
    make_tag(promoted, TAG, commit, tag_text(promoted, TAG), key=bob, email="alice@example.com")
    assert git_verify_tag(promoted, TAG).returncode == 0
    verify_fails(promoted, f"FAIL  {DIR}: signed by bob@example.com but the tagger claims alice@example.com")


def test_a_second_allowed_signer_promoting_as_himself_passes(promoted):
    bob = promoted.keygen("bob")
    promoted.allow(bob, "bob@example.com")
    promoted.commit_all("allow bob")
    promoted.use_key(bob, "bob@example.com")
    proc = promoted.ledger("promote", "lead2-news", "--as", "baseline", "--id", "b2", "--reason", "bob's")
    assert proc.returncode == 0, proc.stderr
    out = verify_passes(promoted)
    assert "OK    data/eval/baselines/b2 (signed by bob@example.com)" in out
    assert f"OK    {DIR} (signed by alice@example.com)" in out


@pytest.mark.parametrize("target", ["commit", "tree", "blob"])
def test_lightweight_tag_replacing_the_annotated_one(promoted, target):
    commit = promoted.git("rev-parse", f"{TAG}^{{commit}}")
    obj = {"commit": commit, "tree": f"{commit}^{{tree}}", "blob": f"{commit}:{DIR}/metrics.json"}[target]
    promoted.git("tag", "-d", TAG)
    promoted.git("tag", TAG, promoted.git("rev-parse", obj))
    verify_fails(promoted, f"FAIL  {DIR}: lightweight tag: a promotion tag must be annotated and signed")


def test_two_tags_claiming_one_id(promoted):
    commit = promoted.git("rev-parse", f"{TAG}^{{commit}}")
    make_tag(promoted, "promote/reference/b1", commit, tag_text(promoted, TAG),
             key=promoted.root.parent / "alice.key", force=False)
    verify_fails(promoted, f"FAIL  {DIR}: 2 tags claim this id: promote/baseline/b1, promote/reference/b1")


def test_missing_tag(promoted):
    promoted.git("tag", "-d", TAG)
    verify_fails(promoted, f"FAIL  {DIR}: no promotion tag")


def test_range_passes_for_a_clean_promotion_pr_and_fails_when_a_pr_edits_a_promoted_dir(repo):
    base = repo.git("rev-parse", "HEAD")
    proc = repo.ledger("promote", "lead1-news", "--as", "baseline", "--id", "b1", "--reason", "pr")
    assert proc.returncode == 0, proc.stderr
    out = verify_passes(repo, args=("--range", f"{base}..HEAD"))
    assert f"OK    {DIR}" in out and "1 promoted dir(s) checked" in out

    base2 = repo.git("rev-parse", "HEAD")
    path = repo.root / DIR / "metrics.json"
    path.write_text(path.read_text().replace("0.", "0.9", 1))
    repo.commit_all("PR: improve the baseline numbers")
    verify_fails(repo, f"{DIR}/metrics.json: modified (M) in an existing promoted dir",
                 args=("--range", f"{base2}..HEAD"))
    # An unrelated later PR on top of the clean promotion still passes its own range.
    repo.git("revert", "--no-edit", "HEAD")
    base3 = repo.git("rev-parse", "HEAD")
    (repo.root / "notes.txt").write_text("x\n")
    repo.commit_all("unrelated")
    verify_passes(repo, args=("--range", f"{base3}..HEAD"))


def test_range_reads_allowed_signers_from_base_not_from_the_pr(repo):
    base = repo.git("rev-parse", "HEAD")
    mallory = repo.keygen("mallory")
    repo.allow(mallory, "mallory@example.com")  # the PR adds its own key...
    repo.commit_all("PR: allow mallory")
    repo.use_key(mallory, "mallory@example.com")
    proc = repo.ledger("promote", "lead1-news", "--as", "baseline", "--id", "b1", "--reason", "sneaky")
    assert proc.returncode == 0, proc.stderr
    verify_passes(repo)  # ...which HEAD's own allowed_signers accepts,
    verify_fails(repo, f"FAIL  {DIR}: bad or untrusted signature", args=("--range", f"{base}..HEAD"))


@pytest.mark.parametrize("change", ["add-file", "delete-dir"])
def test_range_fails_when_a_pr_adds_to_or_deletes_a_promoted_dir(promoted, change):
    base = promoted.git("rev-parse", "HEAD")
    if change == "add-file":
        (promoted.root / DIR / "extra.json").write_text("{}\n")
        promoted.commit_all("PR: add a file to a baseline")
        needle = f"{DIR}/extra.json: changed (A) in an existing promoted dir"
    else:
        promoted.git("rm", "-r", "-q", DIR)
        promoted.git("commit", "-q", "-m", "PR: drop a baseline")
        needle = f"{DIR}/metrics.json: changed (D) in an existing promoted dir"
    verify_fails(promoted, needle, args=("--range", f"{base}..HEAD"))


def test_tag_repointed_at_an_earlier_commit(promoted):
    message = tag_text(promoted, TAG)
    earlier = promoted.git("rev-parse", f"{TAG}^{{commit}}~1")
    make_tag(promoted, TAG, earlier, message, key=promoted.root.parent / "alice.key")
    verify_fails(promoted, f"FAIL  {DIR}: tag points at {earlier[:12]}, which does not contain {DIR}")


def test_fresh_clone_verifies_without_the_dvc_cache(promoted):
    """CI-like: a clone has the commits, tags and allowed_signers, but no DVC cache."""
    from conftest import Sandbox

    clone = promoted.root.parent / "clone"
    promoted.git("clone", "-q", str(promoted.root), str(clone))
    box = Sandbox(clone, promoted.base_env)
    assert not (clone / DIR / "predictions.jsonl").exists()
    out = verify_passes(box)
    assert f"OK    {DIR} (signed by alice@example.com); predictions.jsonl not in the working tree" in out


def test_ledger_pull_restores_deleted_predictions_from_the_cache(promoted):
    pred = promoted.root / DIR / "predictions.jsonl"
    content = pred.read_bytes()
    pred.unlink()
    assert "predictions.jsonl not in the working tree" in verify_passes(promoted)
    out = promoted.ledger("pull")
    assert out.returncode == 0 and "1 pulled, 0 already present, 0 failed" in out.stdout, out.stdout + out.stderr
    assert pred.read_bytes() == content and pred.stat().st_nlink >= 2
    assert "not in the working tree" not in verify_passes(promoted)
