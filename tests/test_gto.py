"""Promotions as GTO and `dvc artifacts` see them: each promotion carries a signed tag in GTO's
grammar (`<id>#<stage>#1`) made in the same transaction, and verify holds every tag GTO would
trust to the promotion it names -- a forged, moved, unsigned, lightweight, rebound, missing or
extra GTO tag fails, plain and --range, and so does a ledger stage given to a name that was
never promoted."""

from __future__ import annotations

import json

import pytest

from conftest import BIN
from test_remote import bare_origin
from test_verify import DIR, TAG, make_tag, rebind_gto, tag_text
from test_verify_range import promote_elsewhere

GTO = "b1#baseline#1"


def gto(box, *args: str):
    proc = box.sh(str(BIN / "gto"), *args)
    return json.loads(proc.stdout)


def verify(box, *args: str) -> tuple[int, list[dict]]:
    proc = box.ledger("verify", "--json", *args)
    return proc.returncode, json.loads(proc.stdout)["results"]


def problems(results: list[dict]) -> list[str]:
    return [p for r in results for p in r["problems"]]


def test_a_promotion_is_a_signed_gto_stage_assignment(promoted):
    commit = promoted.git("rev-parse", f"{TAG}^{{commit}}")
    assert promoted.git("rev-parse", f"{GTO}^{{commit}}") == commit
    assert promoted.git("cat-file", "-t", GTO) == "tag"
    signers = promoted.root / ".ledger/allowed_signers"
    proc = promoted.sh("git", "-c", f"gpg.ssh.allowedSignersFile={signers}", "verify-tag", GTO)
    assert 'Good "git" signature for alice@example.com' in proc.stderr, proc.stderr
    record = json.loads(tag_text(promoted, TAG))
    assert record["gto_tag"] == GTO  # the signed promotion record names it
    body = json.loads(tag_text(promoted, GTO))
    assert body["promotion_tag"] == TAG and body["promotion_tag_object"] == promoted.git("rev-parse", TAG)

    assert promoted.ledger("promote", "lead2-news", "--as", "reference", "--id", "r1", "--reason", "machine truth"
                           ).returncode == 0
    shown = gto(promoted, "show", "--json")
    assert shown["b1"]["stage"]["baseline"] == commit and shown["r1"]["stage"]["silver"] == \
        promoted.git("rev-parse", "promote/reference/r1^{commit}"), shown
    history = gto(promoted, "history", "b1", "--json")
    assert [(h["event"], h["stage"], h["commit"], h["ref"]) for h in history] == \
        [("assignment", "baseline", commit, GTO)], history
    rc, results = verify(promoted)
    assert rc == 0 and len(results) == 2 and all(r["ok"] for r in results), results


def _moved(box, base, tag: str = TAG, name: str = GTO):
    """the GTO tag re-made (signed by an allowed key, correctly bound) on a commit of the range"""
    record = json.loads(tag_text(box, tag))
    from ledger.audit import gto as g

    make_tag(box, name, "HEAD", g.message(record, tag, box.git("rev-parse", tag)), key=box.root.parent / "alice.key")


def _rebound(box, base, tag: str = TAG, name: str = GTO):
    """the GTO tag bound (by its record) to another promotion tag object"""
    body = json.loads(tag_text(box, name))
    body["promotion_tag_object"] = "0" * 40
    make_tag(box, name, tag + "^{commit}", json.dumps(body, indent=2, sort_keys=True) + "\n",
             key=box.root.parent / "alice.key")


SHAPES = {
    "moved": (_moved, f"GTO tag {GTO} points at"),
    "rebound": (_rebound, f"GTO tag {GTO} is bound to another promotion (promotion_tag_object differs)"),
    "lightweight": (lambda box, base: (box.git("tag", "-d", GTO), box.git("tag", GTO, TAG + "^{commit}")),
                    f"GTO tag {GTO} is lightweight"),
    "deleted": (lambda box, base: box.git("tag", "-d", GTO), f"its GTO tag {GTO} is missing"),
    "another stage": (lambda box, base: make_tag(box, "b1#prod#2", TAG + "^{commit}", "prod\n",
                                                 key=box.root.parent / "alice.key"),
                      "tag b1#prod#2 claims 'b1' in GTO's grammar but is not its promotion's GTO tag"),
    "a version": (lambda box, base: make_tag(box, "b1@v1.0.0", "HEAD", "v1\n", key=box.root.parent / "alice.key"),
                  "tag b1@v1.0.0 claims 'b1'"),
    "a deprecation": (lambda box, base: make_tag(box, "b1#baseline!#2", TAG + "^{commit}", "x\n",
                                                 key=box.root.parent / "alice.key"),
                      "tag b1#baseline!#2 claims 'b1'"),
    "a stage for a name never promoted": (
        lambda box, base: make_tag(box, "zz#gold#1", "HEAD", "gold\n", key=box.root.parent / "alice.key"),
        "tag zz#gold#1 gives GTO stage 'gold' to zz, which is not a promotion here"),
    "a stage for a directory-named artifact": (
        lambda box, base: make_tag(box, "team=b1#baseline#1", "HEAD", "x\n", key=box.root.parent / "alice.key"),
        "tag team=b1#baseline#1 gives GTO stage 'baseline' to team=b1"),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_a_forged_gto_tag_fails_verify_plain_and_range(promoted, shape):
    """A pull request (one unrelated commit) during which a GTO tag is forged in each shape: both
    the PR check (--range) and the full verify fail, naming it."""
    forge, needle = SHAPES[shape]
    base = promoted.git("rev-parse", "HEAD")
    (promoted.root / "unrelated.txt").write_text("a pull request\n")
    promoted.commit_all("unrelated PR")
    forge(promoted, base)
    for args in ((), ("--range", f"{base}..HEAD")):
        rc, results = verify(promoted, *args)
        assert rc == 1 and any(needle in p for p in problems(results)), (args, results)


def test_gto_tag_signatures_are_checked_like_promotion_tags(promoted):
    """Re-signed by a key nobody granted, or unsigned: the full verify fails it; --allow-unsigned
    excuses only the missing signature. The PR check leaves the signature of a promotion it
    does not touch to the full verify (the workflow runs both), as for promotion tags."""
    mallory = promoted.keygen("mallory")
    rebind_gto(promoted, TAG, key=mallory)
    rc, results = verify(promoted)
    assert rc == 1 and any(p.startswith(f"GTO tag {GTO}: bad or untrusted signature") for p in problems(results))
    base = promoted.git("rev-parse", "HEAD~1")
    rc, results = verify(promoted, "--range", f"{base}..HEAD")
    assert rc == 1 and any(f"GTO tag {GTO}: bad or untrusted signature" in p for p in problems(results)), \
        "the range adds this promotion: every check"
    rebind_gto(promoted, TAG)  # unsigned
    rc, results = verify(promoted)
    assert rc == 1 and any(p == f"GTO tag {GTO}: tag is not signed" for p in problems(results)), results
    rc, results = verify(promoted, "--allow-unsigned")
    assert rc == 0 and any(f"UNSIGNED GTO tag {GTO}" in n for r in results for n in r["notes"]), results


def test_readers_refuse_a_promotion_whose_gto_tag_is_forged(promoted):
    promoted.git("tag", "-d", GTO)
    promoted.git("tag", GTO, TAG + "^{commit}")  # lightweight
    for args in (("pull", "b1"), ("compare", "b1", "lead2-news")):
        proc = promoted.ledger(*args)
        assert proc.returncode != 0 and f"GTO tag {GTO} is lightweight" in proc.stderr, (args, proc.stderr)
    shown = promoted.ledger_json("show", "b1")
    assert shown["verified"] is False and any("lightweight" in p for p in shown["verify"]["problems"])


def test_an_id_gto_cannot_name_is_promoted_without_a_gto_tag(repo):
    proc = repo.ledger("promote", "lead1-news", "--as", "baseline", "--id", "v1.2", "--reason", "dotted")
    assert proc.returncode == 0, proc.stderr
    assert "no GTO tag: GTO cannot name 'v1.2'" in proc.stdout and "use '-' instead of '.'" in proc.stdout
    assert repo.git("tag", "-l") == "promote/baseline/v1.2"
    assert "gto_tag" not in json.loads(tag_text(repo, "promote/baseline/v1.2"))
    rc, results = verify(repo)
    assert rc == 0, results
    make_tag(repo, "v1.2#baseline#1", "promote/baseline/v1.2^{commit}", "x\n", key=repo.root.parent / "alice.key")
    rc, results = verify(repo)
    assert rc == 1 and any("tag v1.2#baseline#1 claims 'v1.2' in GTO's grammar but is not its promotion's GTO "
                           "tag (it has none)" in p for p in problems(results)), results
    proc = repo.ledger("promote", "lead2-news", "--as", "baseline", "--id", "b2-", "--reason", "trailing dash")
    assert proc.returncode == 0 and "no GTO tag: GTO cannot name 'b2-'" in proc.stdout, proc.stdout + proc.stderr


def test_promote_refuses_an_id_that_is_already_a_gto_artifact(repo):
    """The user's own model registered with GTO (`gto register` writes `m1@v1.0.0`): promoting a
    run under that name is refused before anything is written."""
    repo.git("tag", "-a", "m1@v1.0.0", "-m", "Registering artifact m1 version v1.0.0")
    before = repo.snapshot()
    proc = repo.ledger("promote", "lead1-news", "--as", "baseline", "--id", "m1", "--reason", "clash")
    assert proc.returncode != 0 and "id 'm1' is already a GTO artifact (tag m1@v1.0.0)" in proc.stderr, proc.stderr
    assert repo.snapshot() == before


def test_promote_push_pushes_the_gto_tag_in_the_same_atomic_push(repo):
    origin = bare_origin(repo)
    proc = repo.ledger("promote", "lead1-news", "--as", "baseline", "--id", "b1", "--reason", "pushed", "--push")
    assert proc.returncode == 0, proc.stderr
    remote = dict(reversed(line.split("\t")) for line in repo.sh("git", "ls-remote", str(origin)).stdout.splitlines())
    assert remote[f"refs/tags/{GTO}"] == repo.git("rev-parse", GTO)
    assert remote[f"refs/tags/{TAG}"] == repo.git("rev-parse", TAG)
    assert (repo.root / DIR).is_dir()


def test_promote_push_is_refused_when_origin_already_has_that_gto_tag(repo):
    """Someone tagged `b1#baseline#1` on origin (GTO's own `gto assign`, say): the promotion is
    rolled back locally and nothing reaches origin."""
    origin = bare_origin(repo)
    repo.git("tag", "-a", GTO, "-m", "gto assign", "HEAD")
    repo.git("push", "-q", "origin", GTO)
    repo.git("tag", "-d", GTO)
    before = repo.snapshot()
    proc = repo.ledger("promote", "lead1-news", "--as", "baseline", "--id", "b1", "--reason", "r", "--push")
    assert proc.returncode != 0 and f"{GTO} already exists on origin" in proc.stderr, proc.stderr
    assert repo.snapshot() == before
    remote = repo.sh("git", "ls-remote", "--refs", str(origin)).stdout
    assert TAG not in remote and remote.count("refs/tags/") == 1, remote


@pytest.mark.parametrize("shape", ["rebound", "another stage", "deleted"])
def test_a_warm_verify_cache_never_hides_a_forged_gto_tag_in_range_mode(promoted, shape):
    """The PR check reads only names and object ids of promotions whose every check passed
    before under the same key; a GTO tag forged after that pass is another key: read and failed."""
    base = promoted.git("rev-parse", "HEAD")
    (promoted.root / "unrelated.txt").write_text("a pull request\n")
    promoted.commit_all("unrelated PR")
    rc, results = verify(promoted)
    assert rc == 0, results  # remembered
    rc, results = verify(promoted, "--range", f"{base}..HEAD")
    assert rc == 0 and results == [], results
    forge, needle = SHAPES[shape]
    forge(promoted, base)
    rc, results = verify(promoted, "--range", f"{base}..HEAD")
    assert rc == 1 and any(needle in p for p in problems(results)), results


@pytest.mark.parametrize("shape", ["moved", "rebound"])
def test_the_gto_tag_of_a_promotion_on_an_unmerged_branch_is_held_to_it(promoted, shape):
    """A promotion made on a branch not merged here (its tags pushed, its dir not at HEAD) is
    skipped as elsewhere, but GTO reads its GTO tag all the same: forged, it fails the full
    verify and the PR check."""
    promote_elsewhere(promoted)
    base = promoted.git("rev-parse", "HEAD")
    (promoted.root / "unrelated.txt").write_text("a pull request\n")
    promoted.commit_all("unrelated PR")
    rc, results = verify(promoted)
    assert rc == 0 and [r["tag"] for r in results if r["elsewhere"]] == ["promote/baseline/b2"], results
    name = "b2#baseline#1"
    forge, needle = {"moved": (_moved, f"GTO tag {name} points at"),  # signed, bound to b2's tag, elsewhere
                     "rebound": (_rebound, f"GTO tag {name} is bound to another promotion "
                                           "(promotion_tag_object differs)")}[shape]
    forge(promoted, base, "promote/baseline/b2", name)
    for args in ((), ("--range", f"{base}..HEAD", "--signers-from", base)):
        rc, results = verify(promoted, *args)
        assert rc == 1 and any(needle in p for p in problems(results)), (args, results)
