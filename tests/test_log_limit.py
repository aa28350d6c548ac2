"""`ledger log --limit N` names the N newest promotion tags from the rows and creator dates it
remembers per tag object (ledger/audit/listing.py) instead of having git read every tag to sort
them. What it prints must be exactly what git's own sort gives: ties at the cut, lightweight
tags, tags added after the rows were remembered, and a garbled, stale or unwritable cache."""

from __future__ import annotations

import json

import pytest

from conftest import Sandbox, user_repo

ORDER = ["--sort=-refname:lstrip=-1", "--sort=-creatordate"]


def tag(box: Sandbox, name: str, when: int, light: bool = False) -> None:
    env = {"GIT_COMMITTER_DATE": f"{when} +0000"}
    args = ["tag", name] if light else ["tag", "-a", "-m", f"not a record {name}", name]
    box.sh("git", "-c", "tag.gpgSign=false", *args, env=env)


def gits(box: Sandbox, n: int) -> list[str]:
    out = box.git("for-each-ref", *ORDER, f"--count={n}", "--format=%(refname:strip=2)", "refs/tags/promote/")
    return out.split()


def ours(box: Sandbox, n: int, cache) -> list[str]:
    proc = box.ledger("log", "--json", "--limit", str(n), env={"XDG_CACHE_HOME": str(cache)})
    assert proc.returncode == 0, proc.stderr
    return [e["tag"] for e in json.loads(proc.stdout)]


@pytest.fixture
def tagged(tmp_path, session_env):
    box = user_repo(tmp_path / "user", session_env)
    box.sh("git", "commit", "-q", "--allow-empty", "-m", "c")
    # 40 tags over 12 distinct dates: ties everywhere, names out of date order, 3 lightweight
    for i in range(40):
        role = ("baseline", "reference/silver", "reference/gold/t")[i % 3]
        tag(box, f"promote/{role}/p{(i * 7) % 40:02d}", 1_700_000_000 + (i % 12) * 60, light=i in (5, 17, 33))
    return box


def objects(box: Sandbox) -> int:
    """Distinct objects the promotion tags name (the lightweight ones share their commit)."""
    return len(set(box.git("for-each-ref", "--format=%(objectname)", "refs/tags/promote/").split()))


def cache_files(cache) -> list:
    return sorted((cache / "ledger" / "tag-rows").glob("*.json")) if (cache / "ledger").exists() else []


def test_every_limit_prints_what_gits_own_sort_gives_cold_and_warm(tagged, tmp_path):
    cache = tmp_path / "cache"
    for n in (1, 2, 3, 4, 7, 12, 39, 40, 41):
        assert ours(tagged, n, cache) == gits(tagged, n), n
    files = cache_files(cache)
    assert len(files) == 1 and len(json.loads(files[0].read_text())["oids"]) == objects(tagged) == 38
    for n in (1, 3, 4, 12, 39):  # now every date comes from the cache
        assert ours(tagged, n, cache) == gits(tagged, n), n


def test_tags_added_or_deleted_after_the_dates_were_remembered(tagged, tmp_path):
    cache = tmp_path / "cache"
    assert ours(tagged, 5, cache) == gits(tagged, 5)
    tag(tagged, "promote/baseline/new-tie", 1_700_000_000 + 11 * 60)  # ties the newest date
    tag(tagged, "promote/baseline/new-old", 1_600_000_000)
    tag(tagged, "promote/baseline/new-newest", 1_800_000_000, light=True)
    tagged.git("tag", "-d", gits(tagged, 2)[1])
    for n in (1, 2, 3, 5, 42):
        assert ours(tagged, n, cache) == gits(tagged, n), n
    oids = json.loads(cache_files(cache)[0].read_text())["oids"]
    assert len(oids) == objects(tagged) == 40  # the deleted tag's row is dropped


@pytest.mark.parametrize("body", [b"", b"{", b"[]", b'{"version": "x", "oids": []}',
                                  b'{"oids": ["x"], "columns": [["1"]]}', b"\xff\xfe"])
def test_a_garbled_cache_is_an_empty_one(tagged, tmp_path, body):
    cache = tmp_path / "cache"
    assert ours(tagged, 3, cache) == gits(tagged, 3)
    cache_files(cache)[0].write_bytes(body)
    for n in (1, 3, 8):
        assert ours(tagged, n, cache) == gits(tagged, n), n


def test_rows_another_ledger_wrote_are_not_used(tagged, tmp_path):
    """The cache's version is a digest of the code that made its rows: rows made by other code
    (here: every date wrong, all tied) are dropped, not printed."""
    cache = tmp_path / "cache"
    assert ours(tagged, 4, cache) == gits(tagged, 4)
    path = cache_files(cache)[0]
    data = json.loads(path.read_text())
    data["version"] = "0" * 64
    data["columns"][-1] = [1] * len(data["oids"])  # the creator dates
    path.write_text(json.dumps(data))
    assert ours(tagged, 4, cache) == gits(tagged, 4)
    assert all(date > 1 for date in json.loads(path.read_text())["columns"][-1])


def test_an_unwritable_cache_directory_changes_nothing(tagged, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "ledger").write_text("a file where the cache directory would be\n")  # no mkdir, even as root
    for n in (1, 6, 40):
        assert ours(tagged, n, cache) == gits(tagged, n), n
    assert (cache / "ledger").read_text() == "a file where the cache directory would be\n"
