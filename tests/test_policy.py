"""The promotion policy (.ledger/policy.yaml) through the installed `ledger`: promote refuses
what it forbids before writing anything; verify (plain and --range, the policy read from the
protected revision) and review report violations; rules with `approvals: N` want N distinct
signers, the promoter plus `ledger approve` tags bound to that exact promotion tag."""

from __future__ import annotations

import json

import pytest

from test_verify import DIR, TAG, make_tag, rebind_gto, tag_text

ALICE, BOB, ANN = "alice@example.com", "bob@example.com", "ann@example.com"
RUN = "lead1-news"


def policy(box, text: str, message: str = "policy") -> str:
    (box.root / ".ledger/policy.yaml").write_text(text)
    return box.commit_all(message)


def team(box) -> dict:
    keys = {ALICE: box.root.parent / "alice.key"}
    for name, email in (("bob", BOB), ("ann", ANN)):
        keys[email] = box.keygen(name)
        box.allow(keys[email], email)
    box.commit_all("allow bob and ann")
    return keys


def as_(box, keys, email) -> None:
    box.use_key(keys[email], email)


def promote(box, *extra: str, pid: str = "b1"):
    return box.ledger("promote", RUN, "--as", "baseline", "--id", pid, "--reason", "r", *extra)


def verify(box, *args):
    proc = box.ledger("verify", *args)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, proc.stdout


GOLD_BY_ANN = """rules:
  - role: reference
    quality: gold
    signers: [ann@example.com]
  - role: baseline
    signers: [bob@example.com]
"""


def test_promote_refuses_what_the_policy_forbids_before_writing_anything(repo):
    team(repo)
    policy(repo, GOLD_BY_ANN)
    before = repo.snapshot()
    proc = promote(repo)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert f"rule 2 (baseline: {BOB}) does not allow {ALICE} to promote this: nothing was written" in proc.stderr
    for args in (("--as", "reference", "--quality", "silver"), ("--as", "reference", "--quality", "gold")):
        proc = repo.ledger("promote", RUN, *args, "--id", "r1", "--reason", "r")
        assert proc.returncode == 2, proc.stderr
    assert "has no rule for a silver reference" in repo.ledger(
        "promote", RUN, "--as", "reference", "--quality", "silver", "--id", "r1", "--reason", "r").stderr
    assert repo.snapshot() == before


def test_verify_reports_a_promotion_the_policy_does_not_allow_plain_and_range(repo):
    """Made before the policy existed, or in a PR that loosens the policy for itself: verify
    judges by the policy at the protected revision."""
    team(repo)
    base = repo.git("rev-parse", "HEAD")
    assert promote(repo).returncode == 0
    assert verify(repo)[0] == 0
    policy(repo, GOLD_BY_ANN, "policy: baselines by bob")
    status, out = verify(repo)
    assert status == 1 and f"{DIR}: .ledger/policy.yaml rule 2 (baseline: {BOB}) does not allow {ALICE}" in out, out
    # a PR off the protected base (which has the policy) that rewrites the policy for alice
    protected = repo.git("rev-parse", "HEAD")
    repo.git("tag", "-d", TAG)
    repo.git("reset", "-q", "--hard", base)
    policy(repo, GOLD_BY_ANN.replace(BOB, ALICE), "policy: baselines by alice (in the PR)")
    repo.dvc("checkout", "-q", check=False)
    assert promote(repo, pid="b9").returncode == 0
    for args in (("--signers-from", protected), ("--range", f"{base}..HEAD", "--signers-from", protected)):
        status, out = verify(repo, *args)
        assert status == 1 and f"does not allow {ALICE} to promote this" in out, (args, out)
    report = json.loads(repo.ledger("review", "--range", f"{base}..HEAD", "--format", "json").stdout)
    assert any(f["kind"] == "policy-changed" for f in report["red_flags"]), report["red_flags"]


TWO_SIGNERS = """rules:
  - role: baseline
    signers: [alice@example.com, bob@example.com]
    approvals: 2
  - role: "*"
    signers: ["*"]
"""


def test_a_second_signer_is_needed_and_counts_only_for_that_promotion_tag(repo):
    keys = team(repo)
    policy(repo, TWO_SIGNERS)
    proc = promote(repo)
    assert proc.returncode == 0 and "the policy wants 1 more signer(s): `ledger approve b1`" in proc.stdout
    status, out = verify(repo)
    assert status == 1 and "needs 2 distinct signers, has 1 (alice@example.com)" in out, out
    assert repo.ledger_json("show", "b1")["verified"] is False
    proc = repo.ledger("approve", "b1")
    assert proc.returncode == 2 and "an approval must come from another signer" in proc.stderr
    as_(repo, keys, ANN)
    proc = repo.ledger("approve", "b1")
    assert proc.returncode == 2 and f"does not count {ANN}" in proc.stderr, proc.stderr
    as_(repo, keys, BOB)
    proc = repo.ledger("approve", "b1", "--reason", "looked at the per-case diff")
    assert proc.returncode == 0 and "the policy is satisfied" in proc.stdout, proc.stderr
    assert verify(repo)[0] == 0
    assert repo.ledger_json("show", "b1")["verified"] is True
    proc = repo.ledger("approve", "b1")
    assert proc.returncode == 2 and "needs no further signer" in proc.stderr
    # alice re-makes the promotion tag (same record, new tag object): bob's approval was for the old one
    as_(repo, keys, ALICE)
    old = repo.git("rev-parse", TAG)  # one byte more: a new object even within the same second
    make_tag(repo, TAG, repo.git("rev-parse", f"{TAG}^{{commit}}"), tag_text(repo, TAG) + "\n", key=keys[ALICE])
    assert repo.git("rev-parse", TAG) != old
    rebind_gto(repo, TAG, key=keys[ALICE])  # and its GTO tag, bound to the new object
    status, out = verify(repo)
    assert status == 1 and "approval approval/b1/bob@example.com not counted: it approves another" in out, out


@pytest.mark.parametrize("shape", ["unsigned", "lightweight", "signed by ann as bob", "junk message", "deep json"])
def test_a_forged_approval_does_not_count(repo, shape):
    keys = team(repo)
    base = policy(repo, TWO_SIGNERS)
    assert promote(repo).returncode == 0
    name = f"approval/b1/{BOB}"
    commit = repo.git("rev-parse", f"{TAG}^{{commit}}")
    oid = repo.git("rev-parse", TAG)
    record = json.dumps({"schema": "ledger.approval/1", "approves": TAG, "tag_object": oid, "promoted_id": "b1",
                         "approved_by": BOB, "approved_at": "2026-11-24T00:00:00+00:00", "reason": ""})
    if shape == "lightweight":
        repo.git("tag", name, commit)
    elif shape == "unsigned":
        make_tag(repo, name, commit, record, email=BOB)
    elif shape == "junk message":
        make_tag(repo, name, commit, "lgtm", key=keys[BOB], email=BOB)
    elif shape == "deep json":  # nested past Python's recursion limit: a finding, never an internal error
        make_tag(repo, name, commit, "[" * 100_000 + "]" * 100_000, key=keys[BOB], email=BOB)
    else:
        make_tag(repo, name, commit, record, key=keys[ANN], email=BOB)
    for args in ((), ("--signers-from", "HEAD"), ("--range", f"{base}..HEAD", "--signers-from", base)):
        status, out = verify(repo, *args)
        assert status == 1 and "needs 2 distinct signers, has 1" in out and f"{name} not counted" in out, (shape, out)


@pytest.mark.parametrize("text", ["rules: [unclosed\n", "- a list\n", "rules: []\n", "rules:\n  - role: boss\n    signers: ['*']\n",
                                  "rules:\n  - signers: [a@x]\n    approvals: 2\n", "rules:\n  - signers: ['*']\n    who: x\n",
                                  "rules:\n  - role: baseline\n    quality: gold\n    signers: ['*']\n"])
def test_a_bad_policy_is_one_line_and_never_no_policy(repo, text):
    assert promote(repo).returncode == 0
    policy(repo, text)
    before = repo.snapshot()
    for args in (("verify",), ("promote", "lead2-news", "--as", "baseline", "--id", "b2", "--reason", "r")):
        proc = repo.ledger(*args)
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, (args, proc.stderr)
        assert proc.stderr.startswith("error: .ledger/policy.yaml at ") or ".ledger/policy.yaml at " in proc.stderr
        assert "Traceback" not in proc.stderr
    assert repo.snapshot() == before
