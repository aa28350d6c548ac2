"""A promotion reviewed in a pull request and merged the three ways a hosting service merges
(merge commit, squash, rebase), driven as a team does it: a bare "origin", the promoter's clone
pushing a branch and its tags, the service merging on its own clone, and a fresh clone of main
running `ledger verify`. Every mode ends verified, with the same tamper detection."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import Sandbox
from test_verify import DIR, TAG, make_tag, tag_text

MODES = ["merge", "squash", "rebase"]


def clone(src: Path, dst: Path, box: Sandbox, *args: str) -> Sandbox:
    box.sh("git", "clone", "-q", *args, str(src), str(dst), cwd=dst.parent)
    out = Sandbox(dst, box.base_env)
    out.git("config", "user.name", "Hub")
    out.git("config", "user.email", "hub@example.com")
    out.git("config", "gpg.format", "ssh")
    return out


def open_pr(repo: Sandbox) -> tuple[Sandbox, Path]:
    """origin holds main; the promoter promotes on a branch (plus a later commit on it) and
    pushes the branch with its tag, as the README says."""
    origin = repo.root.parent / "origin.git"
    repo.sh("git", "clone", "-q", "--bare", str(repo.root), str(origin), cwd=repo.root.parent)
    repo.git("remote", "add", "origin", str(origin))
    repo.git("checkout", "-q", "-b", "promote-b1")
    proc = repo.ledger("promote", "lead1-news", "--as", "baseline", "--id", "b1", "--reason", "first")
    assert proc.returncode == 0, proc.stderr
    (repo.root / "NOTES.md").write_text("why b1\n")
    repo.commit_all("notes on b1")
    repo.git("push", "-q", "origin", "promote-b1", TAG, "b1#baseline#1")
    hub = clone(origin, repo.root.parent / "hub", repo)
    (hub.root / "CHANGELOG").write_text("meanwhile on main\n")
    hub.commit_all("someone else's change on main")
    hub.git("push", "-q", "origin", "main")
    return hub, origin


def merge(hub: Sandbox, mode: str) -> str:
    """What the service's button does; returns main before the merge."""
    hub.git("fetch", "-q", "origin", "promote-b1", "--tags")
    before = hub.git("rev-parse", "main")
    if mode == "merge":
        hub.git("merge", "-q", "--no-ff", "-m", "Merge pull request #1", "FETCH_HEAD")
    elif mode == "squash":
        hub.git("merge", "-q", "--squash", "FETCH_HEAD")
        hub.git("commit", "-q", "-m", "Promote b1 (#1)")
    else:
        hub.git("checkout", "-q", "-b", "rebased", "FETCH_HEAD")
        hub.git("rebase", "-q", "main")
        hub.git("checkout", "-q", "main")
        hub.git("merge", "-q", "--ff-only", "rebased")
    hub.git("push", "-q", "origin", "main")
    return before


@pytest.fixture(params=MODES)
def merged(request, repo) -> tuple[Sandbox, str, str]:
    """(fresh clone of origin's main after the merge, main before it, mode)."""
    hub, origin = open_pr(repo)
    before = merge(hub, request.param)
    main = clone(origin, repo.root.parent / "main", repo)
    return main, before, request.param


def verify(box: Sandbox, *args: str) -> tuple[int, str]:
    proc = box.ledger("verify", *args)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, proc.stdout


def test_every_merge_mode_ends_verified_on_main(merged):
    main, before, mode = merged
    tagged = main.git("rev-parse", f"{TAG}^{{commit}}")
    in_history = main.sh("git", "merge-base", "--is-ancestor", tagged, "HEAD", check=False).returncode == 0
    assert in_history == (mode == "merge")  # squash and rebase leave the promotion commit off main
    for args in ((), ("--signers-from", before), ("--range", f"{before}..HEAD", "--signers-from", before)):
        status, out = verify(main, *args)
        assert status == 0, (args, out)
        assert f"OK    {DIR} (signed by alice@example.com)" in out, (args, out)
    status, out = verify(main)
    if mode != "merge":
        assert f"promotion commit {tagged[:12]} is not in this history" in out
    shown = main.ledger_json("show", "b1")
    assert shown["verified"] is True and shown["promoted_by"] == "alice@example.com"


def test_a_later_edit_on_main_still_fails_in_every_mode(merged):
    main, before, mode = merged
    path = main.root / DIR / "metrics.json"
    path.write_text(path.read_text().replace("token_f1", "token_f2"))
    sha = main.commit_all("edit the baseline after the merge")
    for args in ((), ("--range", f"{before}..HEAD", "--signers-from", before)):
        status, out = verify(main, *args)
        assert status == 1 and f"{DIR} was modified (metrics.json) after promotion" in out, (mode, args, out)
    assert main.ledger("show", "b1", "--json").returncode != 0 or not main.ledger_json("show", "b1")["verified"]
    assert sha


def test_a_deleted_promotion_still_fails_in_every_mode(merged):
    main, before, mode = merged
    shutil.rmtree(main.root / DIR)
    main.commit_all("drop the baseline")
    status, out = verify(main)
    assert status == 1 and f"{DIR} was deleted after promotion" in out, (mode, out)


def test_a_forged_signer_or_a_re_pointed_tag_still_fails_in_every_mode(merged):
    main, before, mode = merged
    message = tag_text(main, TAG)
    mallory = main.keygen("mallory")
    tagged = main.git("rev-parse", f"{TAG}^{{commit}}")
    make_tag(main, TAG, tagged, message, key=mallory)
    status, out = verify(main)
    assert status == 1 and "bad or untrusted signature" in out, (mode, out)
    # the genuine record re-signed by the genuine key, but naming main before the merge
    make_tag(main, TAG, before, message, key=main.root.parent / "alice.key")
    status, out = verify(main)
    assert status == 1 and f"tag points at {before[:12]}, which does not contain {DIR}" in out, (mode, out)


def test_a_promotion_pending_in_an_open_pull_request_neither_fails_main_nor_is_used(repo):
    """The promoter pushed the branch and its tag; the PR is not merged. main's verify notes the
    tag and passes; no reader takes a promotion that is not in main's history."""
    hub, origin = open_pr(repo)
    hub.git("fetch", "-q", "origin", "--tags")
    status, out = verify(hub)
    assert status == 0 and "b1" in out and "not in this history" in out, out
    proc = hub.ledger("show", "b1", "--json")
    shown = json.loads(proc.stdout) if proc.returncode == 0 else {"verified": False}
    assert shown["verified"] is False
    proc = hub.ledger("reproduce", "b1")
    assert proc.returncode != 0 and "not in this" in proc.stderr, proc.stderr


def test_a_pull_request_check_ignores_another_open_promotion_but_not_a_hostile_tag(repo):
    """PR #2 is checked while PR #1's promotion tag is already pushed: PR #2's range verify is
    not about b1. An unsigned or lightweight tag on an unmerged branch still fails, plain and
    --range: 'elsewhere' only ever excuses where the commit is, never what the tag is."""
    hub, origin = open_pr(repo)
    hub.git("fetch", "-q", "origin", "--tags")
    base = hub.git("rev-parse", "HEAD")
    hub.git("checkout", "-q", "-b", "pr2")
    (hub.root / "README.md").write_text("pr 2\n")
    hub.commit_all("pr 2")
    for args in ((), ("--range", f"{base}..HEAD", "--signers-from", base)):
        status, out = verify(hub, *args)
        assert status == 0, (args, out)
    status, out = verify(hub, "--range", f"{base}..HEAD", "--signers-from", base)
    assert "b1" not in out, out
    tagged = hub.git("rev-parse", f"{TAG}^{{commit}}")
    message = tag_text(hub, TAG).replace('"b1"', '"b2"').replace("baselines/b1", "baselines/b2")
    for shape in ("unsigned", "lightweight"):
        name = "promote/baseline/b2"
        hub.git("tag", "-d", name, check=False)
        if shape == "unsigned":
            make_tag(hub, name, tagged, message)
        else:
            hub.git("tag", name, tagged)
        for args in ((), ("--range", f"{base}..HEAD", "--signers-from", base)):
            status, out = verify(hub, *args)
            needle = "tag is not signed" if shape == "unsigned" else "lightweight tag"
            assert status == 1 and f"b2: {needle}" in out, (shape, args, out)


@pytest.mark.parametrize("how", ["rebase", "amend"])
def test_a_run_whose_commit_was_rewritten_is_refused_with_the_way_out(repo, how):
    """A run recorded on a branch later rebased (or on a commit later amended) names a commit that
    is no longer in the history: promote refuses in one line saying how to re-run, changes
    nothing, and the re-run is promotable and verifies."""
    run = "lead1-news"
    if how == "rebase":
        repo.git("checkout", "-q", "-b", "feat")
    config = repo.root / "data/eval/configs/lead1.yaml"
    config.write_text(config.read_text() + "# tuned\n")
    code = repo.commit_all("tune lead1")
    repo.dvc("repro")
    assert repo.read_json(f"data/eval/runs/{run}/fingerprint.json")["code"]["commit"] == code
    if how == "rebase":
        repo.commit_all("runs: lead1")
        repo.git("checkout", "-q", "main")
        (repo.root / "CHANGELOG").write_text("main moved on\n")
        repo.commit_all("main moved on")
        repo.git("checkout", "-q", "feat")
        repo.git("rebase", "-q", "main")
    else:
        repo.git("add", "-A")
        repo.git("commit", "-q", "--amend", "-m", "tune lead1 (amended, with its run)")
    assert repo.sh("git", "merge-base", "--is-ancestor", code, "HEAD", check=False).returncode != 0
    before = repo.snapshot()
    proc = repo.ledger("promote", run, "--as", "baseline", "--id", "b1", "--reason", "r")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert f"was executed at {code}, which is not in this branch's history" in proc.stderr
    assert f"`dvc repro --force data/eval/pipelines/{run}/dvc.yaml:materialize`, commit data/eval/pipelines/{run}/dvc.lock, then promote" in proc.stderr
    assert repo.snapshot() == before
    repo.dvc("repro", "--force", f"data/eval/pipelines/{run}/dvc.yaml:materialize")
    repo.commit_all("re-run lead1 here")
    proc = repo.ledger("promote", run, "--as", "baseline", "--id", "b1", "--reason", "r")
    assert proc.returncode == 0, proc.stderr
    status, out = verify(repo)
    assert status == 0, out


def test_a_closed_pull_requests_promotion_replayed_by_another_is_shown_to_its_reviewers(repo):
    """The cost of not requiring the promotion commit itself: a signed promotion whose PR was
    closed can be brought in by a later PR's ordinary commit. Its content is still the signed
    content; the later PR's check lists it and review red-flags the commit that adds it."""
    hub, origin = open_pr(repo)
    hub.git("fetch", "-q", "origin", "--tags")
    base = hub.git("rev-parse", "HEAD")
    hub.git("checkout", "-q", "-b", "pr3")
    hub.git("checkout", TAG, "--", DIR)
    sneak = hub.commit_all("docs tweaks")
    status, out = verify(hub, "--range", f"{base}..HEAD", "--signers-from", base)
    assert status == 0 and f"OK    {DIR} (signed by alice@example.com)" in out, out
    proc = hub.ledger("review", "--range", f"{base}..HEAD", "--format", "json")
    report = json.loads(proc.stdout)
    flags = [f for f in report["red_flags"] if f["kind"] == "non-promotion-change"]
    assert flags and flags[0]["commit"] == sneak, report["red_flags"]
    assert any(p["path"].startswith(DIR) for p in flags[0]["paths"])
