"""One test per verify check that the hostile review found no test for (each fails without its
check): the revocation file, the signed digests vs the tagged tree in --range mode (an amended
promotion commit with a re-signed tag), reachability of the promotion commit, --signers-from in
plain mode, and the record/tag-name consistency."""

from __future__ import annotations

import hashlib
import json

import pytest

from test_verify import DIR, TAG, git_verify_tag, make_tag, rebind_gto, tag_text, verify_fails, verify_passes


@pytest.mark.parametrize("fast", ["in-process", "git"])
def test_a_revoked_key_fails_in_both_signature_paths(promoted, fast):
    verify_passes(promoted)
    revoked = promoted.root.parent / "revoked_keys"
    revoked.write_text((promoted.root.parent / "alice.key.pub").read_text())
    promoted.git("config", "gpg.ssh.revocationFile", str(revoked))
    env = {"LEDGER_SIGCHECK": "git"} if fast == "git" else None
    proc = promoted.ledger("verify", env=env)
    assert proc.returncode == 1 and f"FAIL  {DIR}: bad or untrusted signature" in proc.stdout, proc.stdout


@pytest.mark.parametrize("sorts", ["below", "above"])
def test_range_mode_compares_the_signed_record_with_the_tagged_tree(repo, sorts):
    """A PR promotes b1, then amends the promotion commit (better metrics) and re-signs the same
    record with an allowed key on the amended commit: only the record-vs-tree check catches it."""
    base = repo.git("rev-parse", "HEAD")
    assert repo.ledger("promote", "lead1-news", "--as", "baseline", "--id", "b1", "--reason", "pr").returncode == 0
    message = tag_text(repo, TAG)
    signed = json.loads(message)["files"]["metrics.json"]
    path = repo.root / DIR / "metrics.json"
    metrics = json.loads(path.read_text())
    for i in range(1_000_000):  # forgeries whose digest sorts below and above the signed one: `<`/`>` would miss one
        metrics["metrics"]["token_f1"] = 0.99 - i / 10_000_000
        forged = json.dumps(metrics).encode()
        if (hashlib.sha256(forged).hexdigest() < signed) == (sorts == "below"):
            break
    else:
        raise AssertionError(f"no forgery sorting {sorts} the signed digest")
    path.write_bytes(forged)
    repo.git("add", "-A")
    repo.git("commit", "-q", "--amend", "--no-edit")
    make_tag(repo, TAG, repo.git("rev-parse", "HEAD"), message, key=repo.root.parent / "alice.key")
    needle = f"{DIR}/metrics.json at the tagged commit does not match the signed record"
    verify_fails(repo, needle, args=("--range", f"{base}..HEAD", "--signers-from", base))
    verify_fails(repo, needle)


def test_a_promotion_commit_outside_history_verifies_by_its_tree_and_only_by_it(promoted):
    """The promoted dir arrives on main by a commit of its own (same tree), while the tag names a
    commit on a side branch -- what a rebase merge leaves. The evidence is the signed record
    and the tagged tree: it verifies, says the commit is not in this history, and fails as soon
    as the dir at HEAD is not the tagged tree."""
    commit = promoted.git("rev-parse", f"{TAG}^{{commit}}")
    promoted.git("checkout", "-q", "-b", "side", f"{commit}~1")
    promoted.git("cherry-pick", commit)
    promoted.git("commit", "-q", "--amend", "-m", "promote b1 (a side copy)")  # same tree, another commit
    side = promoted.git("rev-parse", "HEAD")
    assert side != commit
    make_tag(promoted, TAG, side, tag_text(promoted, TAG), key=promoted.root.parent / "alice.key")
    rebind_gto(promoted, TAG, key=promoted.root.parent / "alice.key")  # the GTO tag goes with it
    promoted.git("checkout", "-q", "main")
    out = verify_passes(promoted)
    assert f"; promotion commit {side[:12]} is not in this history (merged by squash or rebase)" in out
    path = promoted.root / DIR / "README.md"
    path.write_text(path.read_text() + "edited\n")
    sha = promoted.commit_all("edit")
    verify_fails(promoted, f"{DIR} was modified (README.md) after promotion")
    assert sha


def test_signers_from_is_honoured_in_plain_mode(repo):
    base = repo.git("rev-parse", "HEAD")
    mallory = repo.keygen("mallory")
    repo.allow(mallory, "mallory@example.com")
    repo.commit_all("allow mallory")
    repo.use_key(mallory, "mallory@example.com")
    assert repo.ledger("promote", "lead1-news", "--as", "baseline", "--id", "b1", "--reason", "m").returncode == 0
    verify_passes(repo)
    verify_fails(repo, f"FAIL  {DIR}: bad or untrusted signature", args=("--signers-from", base))
    proc = repo.ledger("verify", "--signers-from", "no-such-rev")
    assert proc.returncode == 2 and "unknown revision 'no-such-rev'" in proc.stderr


def resign(box, tag: str, commit: str, record: dict) -> None:
    """`tag` on `commit` with `record` as its message, signed by alice's allowed key: a forgery
    only the record checks can catch."""
    make_tag(box, tag, commit, json.dumps(record, indent=2, sort_keys=True) + "\n", key=box.root.parent / "alice.key")


@pytest.mark.parametrize("field, value", [("promoted_id", "b2"), ("promoted_id", "a0"), ("path", "data/eval/baselines/b2"),
                                          ("path", "data/eval/baselines/a0"), ("role", "reference")])
def test_the_record_must_name_the_tag_and_dir_it_is_in(promoted, field, value):
    record = json.loads(tag_text(promoted, TAG))
    record[field] = value
    commit = promoted.git("rev-parse", f"{TAG}^{{commit}}")
    resign(promoted, TAG, commit, record)
    verify_fails(promoted, f"FAIL  {DIR}: tag {TAG} record names {record['path']}, which is not where it belongs")


def test_range_mode_judges_commits_not_the_working_tree(promoted):
    """A PR check verifies what the range commits; a local edit in the checkout is not in it."""
    base = promoted.git("rev-parse", "HEAD~1")
    path = promoted.root / DIR / "metrics.json"
    path.write_text(path.read_text() + " ")
    verify_passes(promoted, args=("--range", f"{base}..HEAD"))
    verify_fails(promoted, f"{DIR}/metrics.json in the working tree differs from the signed record")


@pytest.mark.parametrize("rng", ["nope..HEAD", "HEAD..nope", "nope..", "HEAD", "HEAD~1..HEAD..HEAD"])
def test_a_range_with_an_unknown_revision_is_bad_input(promoted, rng):
    proc = promoted.ledger("verify", "--range", rng)
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and len(proc.stderr.splitlines()) == 1, \
        proc.stderr


def test_a_tag_named_for_another_role_fails(promoted):
    """The signed record of baseline b1 under the tag promote/reference/b1 (the only tag for b1):
    a record may only live under the tag its role and id name."""
    message = tag_text(promoted, TAG)
    commit = promoted.git("rev-parse", f"{TAG}^{{commit}}")
    promoted.git("tag", "-d", TAG)
    make_tag(promoted, "promote/reference/b1", commit, message, key=promoted.root.parent / "alice.key")
    verify_fails(promoted, "tag promote/reference/b1 record names data/eval/baselines/b1, which is not where it belongs")


def test_git_verify_tag_failing_is_a_failure_even_when_it_printed_a_good_signature(promoted):
    """The git path honours git's exit status, not only the 'Good signature' line: an
    ssh-keygen that prints the line and then fails (as on an error after checking) fails verify."""
    wrapper = promoted.root.parent / "ssh-keygen-fails"
    wrapper.write_text('#!/bin/sh\nssh-keygen "$@"; rc=$?\ncase "$*" in *"-Y verify"*) exit 1;; esac\nexit $rc\n')
    wrapper.chmod(0o755)
    env = {"LEDGER_SIGCHECK": "git", "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "gpg.ssh.program",
           "GIT_CONFIG_VALUE_0": str(wrapper)}
    raw = git_verify_tag(promoted, TAG, env=env)
    assert raw.returncode != 0 and 'Good "git" signature for alice@example.com' in raw.stderr + raw.stdout
    proc = promoted.ledger("verify", env=env)
    assert proc.returncode == 1 and f"FAIL  {DIR}: bad or untrusted signature" in proc.stdout, proc.stdout


def test_a_missing_tag_names_git_fetch_only_when_the_clone_has_no_promote_tags(promoted):
    assert promoted.ledger("promote", "lead2-news", "--as", "baseline", "--id", "b2", "--reason", "r").returncode == 0
    promoted.git("tag", "-d", TAG)
    out = verify_fails(promoted, f"FAIL  {DIR}: no promotion tag")
    assert "git fetch --tags" not in out  # b2's tag is here: this one is missing, not unfetched
    assert "OK    data/eval/baselines/b2 (signed by alice@example.com)" in out  # and b2 is still checked
    proc = promoted.ledger("compare", "b1", "b2")  # a reader asks for one id: the same hint, by the same rule
    assert proc.returncode == 2 and "no promotion tag (a fork's merged pull request? `ledger adopt <fork>`)" in proc.stderr
    promoted.git("tag", "-d", "promote/baseline/b2")
    out = verify_fails(promoted, f"FAIL  {DIR}: no promotion tag (this clone has no promote/ tags at all: "
                                 "`git fetch --tags`)")
    proc = promoted.ledger("compare", "b1", "lead2-news")
    assert proc.returncode == 2 and "no promotion tag (this clone has no promote/ tags at all" in proc.stderr, proc.stderr


@pytest.mark.parametrize("promoted_as", ["baseline", "reference"])
def test_a_consistent_record_for_another_dir_fails_where_its_id_is_found(repo, promoted_as):
    """A signed, self-consistent record for the other role (e.g. tag promote/reference/b1, path
    references/silver/b1) is the only tag for id b1, whose dir is baselines/b1: the record is
    not for the dir being verified (paths sorting either way)."""
    assert repo.ledger("promote", "lead1-news", "--as", promoted_as, "--id", "b1", "--reason", "r").returncode == 0
    dirs = {"baseline": "data/eval/baselines/b1", "reference": "data/eval/references/silver/b1"}
    other = "reference" if promoted_as == "baseline" else "baseline"
    tag = f"promote/{promoted_as}/b1"
    record = json.loads(tag_text(repo, tag))
    record.update(role=other, path=dirs[other])
    record.pop("quality", None)
    if other == "reference":
        record["quality"] = "silver"
    commit = repo.git("rev-parse", f"{tag}^{{commit}}")
    repo.git("tag", "-d", tag)
    resign(repo, f"promote/{other}/b1", commit, record)
    out = verify_fails(repo, f"FAIL  {dirs[promoted_as]}: signed record is for {dirs[other]}, not {dirs[promoted_as]}")
    assert "which is not where it belongs" not in out  # the record itself is consistent


@pytest.mark.parametrize("md5", ["0" * 32, "f" * 32])
def test_a_record_whose_dvc_md5_is_not_the_committed_pointer_fails(promoted, md5):
    """Re-signed by an allowed key, the record names another DVC object than the
    predictions.jsonl.dvc committed with it: the signature is fine, the record is not."""
    record = json.loads(tag_text(promoted, TAG))
    record["dvc"]["predictions.jsonl"]["md5"] = md5
    commit = promoted.git("rev-parse", f"{TAG}^{{commit}}")
    resign(promoted, TAG, commit, record)
    verify_fails(promoted, f"FAIL  {DIR}: {DIR}/predictions.jsonl.dvc does not point at the recorded DVC object")


def test_allow_unsigned_excuses_only_a_missing_signature(promoted):
    """--allow-unsigned (a local, unsigned workflow) never excuses a signature that is there but
    bad: a tag re-signed by an unknown key still fails."""
    mallory = promoted.keygen("mallory")
    commit = promoted.git("rev-parse", f"{TAG}^{{commit}}")
    make_tag(promoted, TAG, commit, tag_text(promoted, TAG), key=mallory)
    out = verify_fails(promoted, f"FAIL  {DIR}: bad or untrusted signature", args=("--allow-unsigned",))
    assert "UNSIGNED" not in out
    make_tag(promoted, TAG, commit, tag_text(promoted, TAG))  # unsigned
    rebind_gto(promoted, TAG)  # unsigned too, bound to the new tag
    out = verify_passes(promoted, args=("--allow-unsigned",))
    assert "UNSIGNED tag (allowed by --allow-unsigned)" in out and "UNSIGNED GTO tag b1#baseline#1" in out


def test_a_reference_record_under_a_baseline_tag_fails(repo):
    """The reverse of a baseline record under promote/reference/: the signed record of
    reference b1 (path references/silver/b1) under the tag promote/baseline/b1."""
    assert repo.ledger("promote", "lead1-news", "--as", "reference", "--id", "b1", "--reason", "r").returncode == 0
    message = tag_text(repo, "promote/reference/b1")
    commit = repo.git("rev-parse", "promote/reference/b1^{commit}")
    repo.git("tag", "-d", "promote/reference/b1")
    make_tag(repo, "promote/baseline/b1", commit, message, key=repo.root.parent / "alice.key")
    verify_fails(repo, "tag promote/baseline/b1 record names data/eval/references/silver/b1, which is not where "
                       "it belongs")


def test_range_mode_lists_only_what_the_range_changes(promoted):
    """With b1 merged, a PR that promotes b2 is checked for b2 alone; a PR that edits b1 yields
    findings for b1 alone, named by its id."""
    base = promoted.git("rev-parse", "HEAD")
    assert promoted.ledger("promote", "lead2-news", "--as", "baseline", "--id", "b2", "--reason", "r").returncode == 0
    out = verify_passes(promoted, args=("--range", f"{base}..HEAD"))
    assert "1 promoted dir(s) checked: all OK" in out and DIR not in out
    base = promoted.git("rev-parse", "HEAD")
    (promoted.root / DIR / "extra.json").write_text("{}\n")
    promoted.commit_all("PR: add a file to b1")
    proc = promoted.ledger("verify", "--range", f"{base}..HEAD", "--json")
    results = json.loads(proc.stdout)["results"]
    assert proc.returncode == 1 and {(r["id"], r["path"], r["ok"]) for r in results} == {("b1", DIR, False)}
    assert any("extra.json: changed (A) in an existing promoted dir" in p for r in results for p in r["problems"])


def test_a_reader_takes_the_id_it_asked_for_among_several(promoted):
    """With baselines b1 and b2 both valid, a reader of each (compare) verifies that one alone:
    neither refused because of the other nor taken for it."""
    assert promoted.ledger("promote", "lead2-news", "--as", "baseline", "--id", "b2", "--reason", "r").returncode == 0
    for pair in (("b1", "b2"), ("b2", "b1")):
        proc = promoted.ledger("compare", *pair)
        assert proc.returncode == 0 and "does not verify" not in proc.stderr, proc.stderr


def test_a_tag_re_pointed_at_a_merge_commit_fails(promoted):
    """Re-signed on a merge whose first parent already holds the promoted dir (and whose second
    parent, a side branch from before the promotion, does not): not the promoting commit."""
    before = promoted.git("rev-parse", f"{TAG}^{{commit}}~1")
    message = tag_text(promoted, TAG)
    promoted.git("checkout", "-q", "-b", "side", before)
    (promoted.root / "side.txt").write_text("side\n")
    promoted.git("add", "side.txt")  # only this: b1's DVC-ignored predictions stay in the working tree
    promoted.git("commit", "-q", "-m", "side work")
    assert not promoted.git("ls-tree", "side", f"{DIR}/")
    promoted.git("checkout", "-q", "main")
    promoted.git("merge", "-q", "--no-ff", "--no-edit", "side")
    merge = promoted.git("rev-parse", "HEAD")
    make_tag(promoted, TAG, merge, message, key=promoted.root.parent / "alice.key")
    verify_fails(promoted, f"FAIL  {DIR}: tag points at {merge[:12]}, not at the commit that promoted {DIR}")


def test_readers_refuse_a_promotion_edited_in_the_working_tree(promoted):
    """Readers verify the working-tree files they read, not only the commit: an uncommitted edit
    of b1 is refused by gate and compare."""
    path = promoted.root / DIR / "metrics.json"
    path.write_text(path.read_text().replace("token_f1", "token_f2"))
    for cmd in (("gate", "lead2-news", "--baseline", "b1", "--tier", "base"), ("compare", "b1", "lead2-news")):
        proc = promoted.ledger(*cmd)
        assert proc.returncode == 2 and "does not verify" in proc.stderr and "working tree" in proc.stderr, \
            (cmd, proc.stderr)


def test_accepted_takes_exactly_one_verified_claim_of_the_id():
    """The reader's rule over findings made once for many ids (review): the asked id among others
    that sort before and after it is taken alone; two verified claims of one id, or a claim with no
    signed record or no directory, are refused (verify flags these itself: the rule must not rely
    on that)."""
    from ledger.audit.verify import Finding, accepted
    from ledger.errors import NotFound, Refused

    def claim(pid: str, record: bool = True, path: bool = True) -> Finding:
        return Finding(pid, f"{DIR[:-2]}{pid}" if path else None, f"promote/baseline/{pid}",
                       record={"promoted_id": pid} if record else None)

    among = [claim("a0"), claim("b1"), claim("c9")]
    assert accepted(among, "b1") is among[1]
    for shape in ([claim("b1"), claim("b1")], [claim("b1", record=False)], [claim("b1", path=False)]):
        with pytest.raises(Refused, match="does not verify"):
            accepted(shape, "b1")
    with pytest.raises(NotFound):
        accepted(among, "b2")
