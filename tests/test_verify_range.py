"""`ledger verify --range BASE..HEAD` checks what the range adds or changes in full, and of
every other promotion what its tag and tree show without a signature or content check (so its
cost follows the pull request, not the history). A bad signature on a promotion the range does
not touch is the full verify's: the shipped workflow runs both, and both are exercised here."""

from __future__ import annotations

import json
import shutil

import pytest

from test_verify import DIR, TAG, make_tag, rebind_gto, tag_text


def verify(box, *args: str) -> tuple[int, list[dict]]:
    proc = box.ledger("verify", "--json", *args)
    return proc.returncode, json.loads(proc.stdout)["results"]


def problems(results: list[dict]) -> list[str]:
    return [p for r in results for p in r["problems"]]


def an_unrelated_pr(box) -> str:
    base = box.git("rev-parse", "HEAD")
    (box.root / "unrelated.txt").write_text("a pull request that touches no promotion\n")
    box.commit_all("unrelated PR")
    return base


def promote_elsewhere(box) -> None:
    """lead2-news promoted as b2 on a branch not merged here: its tags are in this clone, its
    dir is not at HEAD."""
    box.git("checkout", "-q", "-b", "side")
    assert box.ledger("promote", "lead2-news", "--as", "baseline", "--id", "b2", "--reason", "r").returncode == 0
    box.git("checkout", "-q", "-")
    shutil.rmtree(box.root / "data/eval/baselines/b2")  # what git leaves of it: the linked predictions


SHAPES = {
    "unsigned": ("tag is not signed", lambda box, msg, commit: make_tag(box, TAG, commit, msg)),
    "lightweight": ("lightweight tag", lambda box, msg, commit: box.git("tag", "-f", TAG, commit)),
    "junk-record": ("message is not a ledger promotion record", lambda box, msg, commit: make_tag(box, TAG, commit, "not a record\n")),
    "second-claim": ("2 tags claim this id", lambda box, msg, commit: make_tag(box, "promote/x/b1", commit, msg)),
    "renamed-record": ("which is not where it belongs", lambda box, msg, commit: make_tag(
        box, TAG, commit, msg.replace('"promoted_id": "b1"', '"promoted_id": "b9"'))),
    "deleted": ("no promotion tag", lambda box, msg, commit: box.git("tag", "-d", TAG)),
}


@pytest.mark.parametrize("remembered", [False, True], ids=["nothing-remembered", "passes-remembered"])
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_what_a_tag_shows_fails_in_range_mode_on_a_promotion_the_range_does_not_touch(promoted, shape, remembered):
    """Both ways range mode reads tags: every body in one listing (nothing remembered), or names
    and object ids first and bodies of what no remembered pass covers (a full verify ran before
    the attack)."""
    needle, attack = SHAPES[shape]
    if remembered:
        assert verify(promoted)[0] == 0
    message, commit = tag_text(promoted, TAG), promoted.git("rev-parse", f"{TAG}^{{commit}}")
    attack(promoted, message, commit)
    base = an_unrelated_pr(promoted)
    for args in (("--range", f"{base}..HEAD", "--signers-from", base), ()):
        rc, results = verify(promoted, *args)
        assert rc == 1 and any(needle in p for p in problems(results)), (args, results)


def test_an_untouched_promotion_re_signed_by_an_unknown_key_fails_the_full_verify(promoted):
    """Mallory re-signs b1's exact record on b1's commit: the range (which does not touch b1)
    passes; the full verify -- the workflow's second step -- fails it."""
    mallory = promoted.keygen("mallory")
    message, commit = tag_text(promoted, TAG), promoted.git("rev-parse", f"{TAG}^{{commit}}")
    make_tag(promoted, TAG, commit, message, key=mallory)
    gto_tag = rebind_gto(promoted, TAG, key=mallory)  # and its GTO tag, bound to her tag
    base = an_unrelated_pr(promoted)
    rc, results = verify(promoted, "--range", f"{base}..HEAD", "--signers-from", base)
    assert rc == 0 and results == [], results
    rc, results = verify(promoted, "--signers-from", base)
    assert rc == 1 and any("bad or untrusted signature" in p for p in problems(results)), results
    assert any(p.startswith(f"GTO tag {gto_tag}: bad or untrusted signature") for p in problems(results)), results


@pytest.mark.parametrize("key", ["alice", "mallory"])
def test_an_old_tag_moved_onto_a_commit_of_the_range_gets_every_check(promoted, key):
    """The PR adds a commit and the old promotion's tag is moved onto it (re-signed, even by an
    allowed key): a tag naming a commit of the range is the range's, checked in full."""
    message = tag_text(promoted, TAG)
    base = an_unrelated_pr(promoted)
    head = promoted.git("rev-parse", "HEAD")
    make_tag(promoted, TAG, head, message, key=promoted.keygen(key))
    rc, results = verify(promoted, "--range", f"{base}..HEAD", "--signers-from", base)
    assert rc == 1 and any(f"tag points at {head[:12]}, not at the commit that promoted {DIR}" in p
                           for p in problems(results)), results


def test_a_promotion_added_by_the_range_gets_every_check_and_the_rest_are_not_listed(promoted):
    base = promoted.git("rev-parse", "HEAD")
    assert promoted.ledger("promote", "lead2-news", "--as", "baseline", "--id", "b2", "--reason", "r").returncode == 0
    rc, results = verify(promoted, "--range", f"{base}..HEAD", "--signers-from", base)
    assert rc == 0 and [(r["id"], r["ok"], r["signer"]) for r in results] == [("b2", True, "alice@example.com")]


def _tag_listings(box, *args: str, trace) -> list[str]:
    """The formats of the for-each-ref runs that list every tag, in one `ledger verify`."""
    trace.unlink(missing_ok=True)
    proc = box.ledger("verify", "--json", *args, env={"GIT_TRACE2_EVENT": str(trace)})
    assert proc.returncode == 0 and json.loads(proc.stdout)["ok"], proc.stdout + proc.stderr
    events = [json.loads(line) for line in trace.read_text().splitlines()]
    runs = [e["argv"] for e in events if e.get("event") == "start" and e["argv"][1:2] == ["for-each-ref"]]
    return [next(a for a in argv if a.startswith("--format=")) for argv in runs if argv[-1] == "refs/tags/"]


def test_range_mode_reads_every_tag_once_unless_passes_are_remembered(promoted, tmp_path):
    """With no pass remembered (a fresh CI runner) every tag body is needed: one listing of
    them, not a listing of names first and then of bodies (at 10,000 promotions 1.2 s -> 0.95 s).
    With passes remembered for the promoted dirs, names and object ids come first."""
    base = an_unrelated_pr(promoted)
    rng = ("--range", f"{base}..HEAD", "--signers-from", base)
    trace = tmp_path / "trace.json"
    cold = _tag_listings(promoted, *rng, trace=trace)
    assert len(cold) == 1 and "%(contents)" in cold[0], cold
    assert verify(promoted)[0] == 0  # the full verify remembers b1's pass
    warm = _tag_listings(promoted, *rng, trace=trace)
    assert len(warm) == 1 and "%(contents)" not in warm[0], warm


def test_with_passes_remembered_a_tag_whose_dir_is_elsewhere_is_read_in_full(promoted):
    """Names and object ids first (a full verify remembered b1): a promotion made on a branch not
    merged here (its tag pushed, its dir not at HEAD) has no dir to settle it, so its tag is read
    in full and seen to be elsewhere -- not failed as a record-less tag."""
    promote_elsewhere(promoted)
    assert promoted.git("status", "--porcelain") == ""
    assert promoted.git("tag", "-l", "promote/baseline/b2") == "promote/baseline/b2"
    assert verify(promoted)[0] == 0  # remembers b1's pass; b2 is a branch not merged here
    base = an_unrelated_pr(promoted)
    rc, results = verify(promoted, "--range", f"{base}..HEAD", "--signers-from", base)
    assert rc == 0 and results == [], results


@pytest.mark.parametrize("order", ["head-tree-sorts-after", "head-tree-sorts-before"])
def test_a_promoted_dir_the_range_changes_gets_its_signature_checked_too(promoted, order):
    """The PR edits b1's README and Mallory re-signs b1's record on b1's own commit (not the
    range's): the dir is not the tree it was at BASE, so b1 gets every check -- the edit is
    reported, and so is the signature -- whichever way the two tree ids sort."""
    base = promoted.git("rev-parse", "HEAD")
    was = promoted.git("rev-parse", f"HEAD:{DIR}")
    readme = promoted.root / DIR / "README.md"
    original = readme.read_text()
    for n in range(64):  # an edit whose tree id sorts the wanted way against BASE's
        readme.write_text(original + f"edited ({n})\n")
        promoted.git("add", DIR)
        now = promoted.git("write-tree", f"--prefix={DIR}/")
        if (now > was) == (order == "head-tree-sorts-after"):
            break
    promoted.commit_all("a PR that edits a promoted dir")
    make_tag(promoted, TAG, promoted.git("rev-parse", f"{TAG}^{{commit}}"), tag_text(promoted, TAG),
             key=promoted.keygen("mallory"))
    rc, results = verify(promoted, "--range", f"{base}..HEAD", "--signers-from", base)
    found = problems(results)
    assert rc == 1 and any("README.md: modified" in p for p in found), results
    assert any("bad or untrusted signature" in p for p in found), results
