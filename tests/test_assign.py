"""Deployment decisions (`ledger assign`), through the installed ledger: a verified baseline
that passes its gates at a tier gets a signed deploy/<alias>/<n> tag recording the scorecard,
the rollback target and a limitation; list/show display the holder; verify checks every
assignment tag (signature, the exact promotion tag it names, rollback, scorecard)."""

from __future__ import annotations

import json

import pytest
import yaml

from conftest import copy_repo
from test_verify import make_tag, rebind_gto, tag_text

LIMIT = "English news only; not checked on long documents"


@pytest.fixture
def two(tmp_path, two_template, session_env):
    """A copy of two_template for one test."""
    return copy_repo(two_template, tmp_path, session_env)


@pytest.fixture(scope="module")
def two_template(tmp_path_factory, template, session_env):
    """b1 (lead1-news: passes tier base, fails future) and b2 (lead2-news: fails base), and a
    tier `demo` that both pass (once for this file)."""
    repo = copy_repo(template, tmp_path_factory.mktemp("two"), session_env)
    params = yaml.safe_load((repo.root / "params.yaml").read_text())
    params["tiers"].append("demo")
    for gate in params["gates"].values():
        gate["thresholds"]["demo"] = -1e9 if gate["direction"] == "min" else 1e9
        gate.pop("max_regression", None)
    (repo.root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    repo.commit_all("a lenient demo tier")
    for run, pid in (("lead1-news", "b1"), ("lead2-news", "b2")):
        proc = repo.ledger("promote", run, "--as", "baseline", "--id", pid, "--reason", "r")
        assert proc.returncode == 0, proc.stderr
    return repo


def assign(box, *args):
    return box.ledger("assign", *args)


def test_assign_records_the_decision_and_list_show_verify_read_it(two):
    box = two
    proc = assign(box, "prod", "--tier", "demo", "--limitation", LIMIT)
    assert proc.returncode == 2 and "2 baselines pass at tier 'demo' (b1, b2): name the one to assign" in proc.stderr
    proc = assign(box, "prod", "--tier", "base", "--limitation", LIMIT, "--json")  # only b1 passes at base
    assert proc.returncode == 0, proc.stderr
    first = json.loads(proc.stdout)
    assert first["promoted_id"] == "b1" and first["tag"] == "deploy/prod/1" and first["rollback"] is None
    assert first["scorecard"]["overall_passed"] is True and len(first["scorecard"]["inputs_sha256"]) == 64
    assert box.git("cat-file", "-t", "deploy/prod/1") == "tag"
    assert box.git("rev-parse", "deploy/prod/1^{commit}") == box.git("rev-parse", "promote/baseline/b1^{commit}")
    proc = assign(box, "prod", "b2", "--tier", "demo", "--limitation", LIMIT, "--json")
    second = json.loads(proc.stdout)
    assert proc.returncode == 0 and second["tag"] == "deploy/prod/2" and second["rollback"] == "b1", proc.stderr
    listed = box.ledger("list").stdout
    assert "alias" in listed and "prod" in listed and "-> b2  rollback b1  tier demo  signed (unverified)" in listed
    shown = box.ledger_json("show", "b2")
    assert [a["alias"] for a in shown["aliases"]] == ["prod"] and shown["aliases"][0]["limitation"] == LIMIT
    assert "alias        prod (tag deploy/prod/2, tier demo, rollback b1" in box.ledger("show", "b2").stdout
    proc = box.ledger("verify", "--json")
    out = json.loads(proc.stdout)
    assert proc.returncode == 0 and out["checked"] == 2, out
    deploy = {r["tag"]: r for r in out["results"] if r["tag"].startswith("deploy/")}
    assert set(deploy) == {"deploy/prod/1", "deploy/prod/2"} and all(r["ok"] for r in deploy.values())
    assert deploy["deploy/prod/2"]["signer"] == "alice@example.com"


def test_assign_refuses_a_baseline_that_fails_its_gates_and_bad_input(two):
    box = two
    before = box.git("for-each-ref", "refs/tags")
    for args, needle in (
        (("prod", "b1", "--tier", "future", "--limitation", LIMIT), "'b1' does not pass its gates at tier 'future'"),
        (("prod", "--tier", "future", "--limitation", LIMIT), "no verified baseline passes its gates at tier 'future'"),
        (("Prod!", "b1", "--tier", "base", "--limitation", LIMIT), "alias 'Prod!'"),
        (("prod", "b1", "--tier", "base", "--limitation", " "), "--limitation"),
        (("prod", "b1", "--tier", "nope", "--limitation", LIMIT), "nope"),
        (("prod", "b1", "--tier", "demo", "--limitation", LIMIT, "--rollback", "b1"), "another promoted baseline"),
        (("prod", "b1", "--tier", "demo", "--limitation", LIMIT, "--rollback", "zz"), "zz"),
        (("prod", "no-such", "--tier", "demo", "--limitation", LIMIT), "no-such"),
    ):
        proc = assign(box, *args)
        assert proc.returncode == 2 and needle in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, \
            (args, proc.stderr)
    assert box.git("for-each-ref", "refs/tags") == before


@pytest.mark.parametrize("shape", ["unsigned", "lightweight", "junk", "deep json", "renumbered", "promotion re-made",
                                   "failed scorecard"])
def test_verify_fails_a_forged_or_stale_assignment(two, shape):
    box = two
    assert assign(box, "prod", "b1", "--tier", "base", "--limitation", LIMIT).returncode == 0
    key = box.root.parent / "alice.key"
    good = tag_text(box, "deploy/prod/1")
    commit = box.git("rev-parse", "deploy/prod/1^{commit}")
    name, needle = "deploy/prod/2", None
    if shape == "unsigned":
        make_tag(box, name, commit, good.replace('"n": 1', '"n": 2'))
        needle = "tag is not signed"
    elif shape == "lightweight":
        box.git("tag", name, commit)
        needle = "lightweight tag"
    elif shape == "junk":
        make_tag(box, name, commit, "ship it", key=key)
        needle = "its message is not an assignment record"
    elif shape == "deep json":
        make_tag(box, name, commit, "[" * 100_000 + "]" * 100_000, key=key)
        needle = "its message is not an assignment record"
    elif shape == "renumbered":
        make_tag(box, name, commit, good, key=key)  # the record still says n=1
        needle = "record names prod/1, not the tag's"
    elif shape == "failed scorecard":
        make_tag(box, name, commit, good.replace('"n": 1', '"n": 2').replace('"overall_passed": true',
                                                                               '"overall_passed": false'), key=key)
        needle = "its scorecard at tier 'base' did not pass"
    else:
        name = "deploy/prod/1"
        old = box.git("rev-parse", "promote/baseline/b1")
        # the same record, one byte longer: a new tag object even within the same second (ed25519
        # signatures are deterministic, so an identical message and date would give the same object)
        make_tag(box, "promote/baseline/b1", commit, tag_text(box, "promote/baseline/b1") + "\n", key=key)
        assert box.git("rev-parse", "promote/baseline/b1") != old
        rebind_gto(box, "promote/baseline/b1", key=key)  # its GTO tag, bound to the new object
        needle = "was made for another promote/baseline/b1"
        assert "OK    data/eval/baselines/b1" in box.ledger("verify").stdout  # the re-made promotion itself verifies
    proc = box.ledger("verify")
    assert proc.returncode == 1 and f"FAIL  {name}: {needle}" in proc.stdout, (shape, proc.stdout)
