"""A promotion proposed from a fork: the contributor cannot push to the base repository, so
the pull request carries commits but no tags. The shipped workflow's fork step takes the fork's
tags for the PR check (signers still read from the base branch, a base tag never replaced);
after the merge `ledger adopt <fork> --push` brings the contributor's own signed tag objects
that verify into origin, and a fresh clone of main verifies."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import yaml

from conftest import PROJECT, Sandbox
from test_verify import make_tag

CAROL = "carol@example.com"
B1 = "promote/baseline/b1"
GTO_B1 = "b1#baseline#1"


def clone(src, dst, box: Sandbox) -> Sandbox:
    box.sh("git", "clone", "-q", str(src), str(dst), cwd=dst.parent)
    out = Sandbox(dst, box.base_env)
    out.git("config", "user.name", "Hub")
    out.git("config", "user.email", "hub@example.com")
    out.git("config", "gpg.format", "ssh")
    return out


def fork_step() -> str:
    wf = yaml.safe_load((PROJECT / ".github/workflows/ledger.yml").read_text())
    (job,) = wf["jobs"].values()
    step = next(s for s in job["steps"] if s.get("name") == "Fetch the fork's promotion tags")
    assert step["if"] == "github.event.pull_request.head.repo.full_name != github.repository"
    assert step["env"]["FORK_URL"] == "${{ github.event.pull_request.head.repo.clone_url }}"
    return step["run"]


@pytest.fixture
def pr(repo):
    """origin (alice's b0 already promoted there), carol's fork of it, and carol's PR branch
    promoting lead2-news as b1, pushed with its tag to her fork only. Carol also force-moved
    b0's tag in her fork (a clobber attempt)."""
    carol_key = repo.keygen("carol")
    repo.allow(carol_key, CAROL)
    repo.commit_all("allow carol")
    assert repo.ledger("promote", "lead1-news", "--as", "baseline", "--id", "b0", "--reason", "r").returncode == 0
    top = repo.root.parent
    origin, fork = top / "origin.git", top / "fork.git"
    repo.sh("git", "clone", "-q", "--bare", str(repo.root), str(origin), cwd=top)
    repo.sh("git", "clone", "-q", "--bare", str(origin), str(fork), cwd=top)
    carol = Sandbox(top / "carol", repo.base_env)
    shutil.copytree(repo.root, carol.root, symlinks=True)  # her clone of the fork, DVC cache included
    carol.git("remote", "add", "origin", str(fork))
    carol.use_key(carol_key, CAROL)
    carol.git("checkout", "-q", "-b", "carol-b1")
    proc = carol.ledger("promote", "lead2-news", "--as", "baseline", "--id", "b1", "--reason", "carol's")
    assert proc.returncode == 0, proc.stderr
    carol.git("push", "-q", "origin", "carol-b1", B1, GTO_B1)  # the branch and both tags
    carol.git("tag", "-f", "promote/baseline/b0", "HEAD")  # lightweight, elsewhere: must never reach the base
    carol.git("push", "-q", "-f", "origin", "promote/baseline/b0")
    hub = clone(origin, top / "hub", repo)
    return {"origin": origin, "fork": fork, "hub": hub, "repo": repo}


def ci(pr, name: str) -> tuple[Sandbox, str]:
    """What the workflow does on the fork's PR: check out the PR head, fetch origin's tags, run
    the fork step with FORK_URL set as GitHub sets it."""
    box = clone(pr["origin"], pr["repo"].root.parent / name, pr["repo"])
    box.git("fetch", "-q", str(pr["fork"]), "carol-b1")
    box.git("checkout", "-q", "FETCH_HEAD")
    box.git("fetch", "-q", "--force", "--tags", "origin")
    proc = subprocess.run(["bash", "-c", fork_step()], cwd=box.root, env={**box.env, "FORK_URL": str(pr["fork"])},
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return box, box.git("rev-parse", "origin/main")


def test_the_pr_check_verifies_a_fork_promotion_against_the_base_signers(pr):
    box, base = ci(pr, "ci")
    assert box.git("cat-file", "-t", "promote/baseline/b0") == "tag"  # the base's, not the fork's clobber
    for args in (("--range", f"{base}..HEAD", "--signers-from", base), ("--signers-from", base)):
        proc = box.ledger("verify", *args)
        assert proc.returncode == 0 and "OK    data/eval/baselines/b1 (signed by carol@example.com)" in proc.stdout, \
            (args, proc.stdout)
    report = json.loads(box.ledger("review", "--range", f"{base}..HEAD", "--format", "json").stdout)
    (p,) = report["promotions"]
    assert p["promoted_id"] == "b1" and p["signature"]["status"] == "valid" and report["ok"], report


def test_a_fork_signer_the_base_does_not_trust_fails_the_pr_check(pr):
    """Carol's key is granted only in her PR (the base branch revokes it first): the PR check
    reads the base's signers."""
    hub = pr["hub"]
    signers = hub.root / ".ledger/allowed_signers"
    signers.write_text("".join(ln for ln in signers.read_text().splitlines(True) if CAROL not in ln))
    hub.commit_all("revoke carol")
    hub.git("push", "-q", "origin", "main")
    box, base = ci(pr, "ci2")
    proc = box.ledger("verify", "--range", f"{base}..HEAD", "--signers-from", base)
    assert proc.returncode == 1 and "b1: bad or untrusted signature" in proc.stdout, proc.stdout


@pytest.mark.parametrize("mode", ["merge", "squash"])
def test_after_the_merge_adopt_brings_the_fork_tags_that_verify(pr, mode):
    hub, fork = pr["hub"], str(pr["fork"])
    before = hub.snapshot()
    proc = hub.ledger("adopt", fork)  # before the merge: nothing of b1 is on main yet
    assert proc.returncode == 0 and "left out promote/baseline/b1: its promotion is not in this branch's history" \
        in proc.stdout, proc.stdout
    assert "left out promote/baseline/b0: a different tag of that name is already here" in proc.stdout
    assert hub.snapshot() == before and hub.git("for-each-ref", "refs/ledger-adopt") == ""
    hub.git("fetch", "-q", fork, "carol-b1")
    if mode == "merge":
        hub.git("merge", "-q", "--no-ff", "-m", "Merge pull request #2 from carol/carol-b1", "FETCH_HEAD")
    else:
        hub.git("merge", "-q", "--squash", "FETCH_HEAD")
        hub.git("commit", "-q", "-m", "carol: promote b1 (#2)")
    hub.git("push", "-q", "origin", "main")
    fresh = clone(pr["origin"], pr["repo"].root.parent / "fresh", pr["repo"])
    proc = fresh.ledger("verify")
    assert proc.returncode == 1 and "b1: no promotion tag (a fork's merged pull request? `ledger adopt <fork>`)" \
        in proc.stdout, proc.stdout
    proc = hub.ledger("adopt", fork, "--push", "--json")
    out = json.loads(proc.stdout)
    assert proc.returncode == 0 and out["adopted"] == [B1, GTO_B1] and out["pushed"], (out, proc.stderr)
    for name in (B1, GTO_B1):  # the contributor's own tag objects
        assert hub.git("rev-parse", name) == pr["repo"].sh("git", "--git-dir", fork, "rev-parse", name).stdout.strip()
    again = clone(pr["origin"], pr["repo"].root.parent / "again", pr["repo"])
    proc = again.ledger("verify")
    assert proc.returncode == 0 and "OK    data/eval/baselines/b1 (signed by carol@example.com)" in proc.stdout
    assert again.ledger_json("show", "b1")["promoted_by"] == CAROL
    assert again.git("cat-file", "-t", "promote/baseline/b0") == "tag"


def test_adopt_leaves_out_a_fork_tag_that_does_not_verify_here(pr):
    """Carol re-signs b1's tag with a key nobody granted; after the merge adopt refuses it and
    creates nothing."""
    hub, fork = pr["hub"], str(pr["fork"])
    carol = Sandbox(pr["repo"].root.parent / "carol", pr["repo"].base_env)
    message = carol.git("cat-file", "tag", B1).split("\n\n", 1)[1].split("-----BEGIN SSH SIGNATURE-----")[0]
    make_tag(carol, B1, carol.git("rev-parse", f"{B1}^{{commit}}"), message, key=carol.keygen("mallory"), email=CAROL)
    carol.git("push", "-q", "-f", "origin", B1)
    hub.git("fetch", "-q", fork, "carol-b1")
    hub.git("merge", "-q", "--no-ff", "-m", "Merge pull request #2", "FETCH_HEAD")
    proc = hub.ledger("adopt", fork, "--json")
    out = json.loads(proc.stdout)
    assert out["adopted"] == [], out
    assert any(x["tag"] == B1 and "bad or untrusted signature" in x["why"] for x in out["left_out"]), out
    assert hub.sh("git", "rev-parse", "-q", "--verify", f"refs/tags/{B1}", check=False).returncode != 0
    proc = hub.ledger("adopt", "--", "--upload-pack=touch /tmp/x")  # an option smuggled in as the source
    assert proc.returncode == 2 and "not a git remote or URL" in proc.stderr
    proc = hub.ledger("adopt", str(pr["repo"].root.parent / "no-such-fork"))
    assert proc.returncode == 2 and "does not appear to be a git repository" in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and hub.git("for-each-ref", "refs/ledger-adopt") == ""
