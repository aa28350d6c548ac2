"""`ledger list` (text) and `ledger log` print rows remembered by tag object id
(ledger/audit/listing.py): only tags not seen before are read. What they print must be what the
whole records say (`list --json`, which reads every tag) and, for log, in git's own order --
cold, warm, after tags are added, moved or deleted, and whatever the cache file holds."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import LEDGER_MAIN, bytecode_only_ledger, copy_repo, ledger_copy, user_repo
from ledger.output import list_text, log_text, printable

ORDER = ["--sort=-refname:lstrip=-1", "--sort=-creatordate"]
T0 = 1_700_000_000


def make_tag(box, name: str, when: int, message: str | None = None, light: bool = False) -> None:
    env = {"GIT_COMMITTER_DATE": f"{when} +0000"}
    if light:
        box.sh("git", "tag", name, env=env)
        return
    msg = box.root.parent / "msg.txt"
    msg.write_text(message if message is not None else f"not a record {name}\n", encoding="utf-8")
    box.sh("git", "-c", "tag.gpgSign=false", "tag", "-a", "-F", str(msg), name, env=env)


def record_of(box, tag: str) -> dict:
    body = box.git("for-each-ref", "--format=%(contents)", f"refs/tags/{tag}")
    return json.loads(body[:body.index("-----BEGIN")])


@pytest.fixture(scope="module")
def many_template(tmp_path_factory, promoted_template, session_env):
    """b1 (a real signed promotion) and 35 more tags: records copied from b1's with other ids,
    dates, roles and reasons (unsigned), tied dates, last names shared across roles,
    lightweight tags, tags whose message is no record and names that are not ASCII."""
    box = copy_repo(promoted_template, tmp_path_factory.mktemp("many"), session_env)
    base = record_of(box, "promote/baseline/b1")
    for i in range(24):
        role = ("baseline", "reference/silver", "reference/gold/news")[i % 3]
        pid = f"p{(i // 3 * 5) % 8:02d}"  # 8 ids, each under all three roles
        rec = {**base, "promoted_id": pid, "role": role.split("/")[0], "quality": (None, "silver", "gold")[i % 3],
               "promoted_at": f"2026-01-{1 + i % 9:02d}T00:00:00+00:00", "reason": f"why {i} \u00e9\u202e\x1b[31m",
               "path": f"data/eval/{role}/{pid}"}
        make_tag(box, f"promote/{role}/{pid}", T0 + (i % 5) * 60, json.dumps(rec, indent=2, sort_keys=True) + "\n")
    for i, name in enumerate(["promote/baseline/junk", "promote/baseline/deep/x", "promote/reference/silver/p03x"]):
        make_tag(box, name, T0 + i * 60)
    for name in ("promote/baseline/light", "promote/reference/silver/light2"):
        make_tag(box, name, 0, light=True)  # a lightweight tag's date is its commit's
    for name in ("promote/reference/silver/tie", "promote/baseline/tie", "promote/reference/gold/news/tie"):
        make_tag(box, name, T0 + 60, json.dumps({**base, "promoted_id": "tie"}))  # date and last name tied
    for name in ("promote/baseline/\u00e9t\u00e9", "promote/baseline/\U0001f600", "promote/baseline/\ufffd"):
        make_tag(box, name, T0 + 60)  # not ASCII: ordered by their UTF-8 bytes, as git orders them
    return box


@pytest.fixture
def many(tmp_path, many_template, session_env):
    return copy_repo(many_template, tmp_path, session_env)


def gits_order(box, n: int | None = None) -> list[str]:
    count = [f"--count={n}"] if n else []
    return box.git("for-each-ref", *ORDER, *count, "--format=%(refname:strip=2)", "refs/tags/promote/").split()


def out(box, *args, cache) -> str:
    proc = box.ledger(*args, env={"XDG_CACHE_HOME": str(cache)})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def whole_records(box, cache) -> list:
    """What `list --json` says: every tag read and parsed, nothing remembered used."""
    return json.loads(out(box, "list", "--json", cache=cache))


def log_from_records(records: list, order: list[str]) -> list:
    fields = ("promoted_id", "role", "quality", "run_id", "promoted_at", "promoted_by", "reason", "tag", "commit",
              "signed", "verified")
    by_tag = {r["tag"]: r for r in records if "tag" in r and r.get("role") != "alias"}
    entries = []
    for tag in order:
        r = by_tag[tag]
        e = {"id" if k == "promoted_id" else "run" if k == "run_id" else k: r.get(k) for k in fields}
        entries.append({**e, "invalid": True} if r.get("invalid") else e)
    return entries


def check_all(box, cache) -> None:
    records = whole_records(box, cache)
    assert out(box, "list", cache=cache) == printable(list_text(records)) + "\n"
    expected = log_from_records(records, gits_order(box))
    assert json.loads(out(box, "log", "--json", cache=cache)) == expected
    assert out(box, "log", cache=cache) == printable(log_text(expected)) + "\n"
    for n in (1, 2, 5, 13, len(expected), len(expected) + 3):
        got = json.loads(out(box, "log", "--json", "--limit", str(n), cache=cache))
        assert got == expected[:n], n


def cache_file(cache):
    files = sorted((cache / "ledger" / "tag-rows").glob("*.json"))
    assert len(files) == 1, files
    return files[0]


def objects(box) -> int:
    return len(set(box.git("for-each-ref", "--format=%(objectname)", "refs/tags/promote/").split()))


def test_rows_are_what_the_records_say_in_gits_order_cold_and_warm(many, tmp_path):
    cache = tmp_path / "cache"
    assert len(gits_order(many)) == 36
    check_all(many, cache)
    assert len(remembered(cache)) == objects(many)
    check_all(many, cache)  # every row from the cache now
    shown = out(many, "list", cache=cache)
    assert "\x1b" not in shown and "\u202e" not in shown and "INVALID RECORD" in shown
    assert [e["tag"] for e in json.loads(out(many, "log", "--json", cache=cache))] == gits_order(many)


def test_tags_added_moved_or_deleted_after_the_rows_were_remembered(many, tmp_path):
    cache = tmp_path / "cache"
    check_all(many, cache)
    base = record_of(many, "promote/baseline/b1")
    make_tag(many, "promote/baseline/new-tie", T0 + 4 * 60, json.dumps({**base, "promoted_id": "new-tie"}))
    make_tag(many, "promote/baseline/new-light", T0 * 2, light=True)
    moved = "promote/reference/silver/p01"
    many.git("tag", "-d", moved)
    make_tag(many, moved, T0 - 5, json.dumps({**base, "promoted_id": "p01", "reason": "re-made"}))
    many.git("tag", "-d", "promote/baseline/junk")
    check_all(many, cache)
    assert len(remembered(cache)) == objects(many)  # the old objects dropped
    assert "re-made" in out(many, "log", cache=cache) and "junk" not in out(many, "list", cache=cache)


def bodies_read(box, cache, tmp_path, env: dict | None = None) -> list[str]:
    """The promotion refs whose bodies one `ledger list` had git read (a listing with %(contents));
    with `env`, of the ledger that env names (`python -c LEDGER_MAIN`)."""
    trace = tmp_path / "bodies.json"
    trace.unlink(missing_ok=True)
    traced = {**(env or {}), "XDG_CACHE_HOME": str(cache), "GIT_TRACE2_EVENT": str(trace)}
    proc = (box.sh(sys.executable, "-c", LEDGER_MAIN, "list", env=traced, check=False) if env
            else box.ledger("list", env=traced))
    assert proc.returncode == 0, proc.stderr
    reads = [e["argv"] for e in map(json.loads, trace.read_text().splitlines())
             if e.get("event") == "start" and "for-each-ref" in e["argv"] and any("contents" in a for a in e["argv"])]
    return [a for argv in reads for a in argv if a.startswith("refs/tags/promote/")]


def test_a_warm_run_reads_no_tag_body(many, tmp_path):
    """Warm, list and log list names and object ids only: one for-each-ref without %(contents)."""
    cache = tmp_path / "cache"
    out(many, "list", cache=cache)
    trace = tmp_path / "trace.json"
    for args in (["list"], ["log"], ["log", "--limit", "3"]):
        trace.unlink(missing_ok=True)
        proc = many.ledger(*args, env={"XDG_CACHE_HOME": str(cache), "GIT_TRACE2_EVENT": str(trace)})
        assert proc.returncode == 0, proc.stderr
        listings = [e["argv"] for e in map(json.loads, trace.read_text().splitlines())
                    if e.get("event") == "start" and "for-each-ref" in e["argv"]]
        promote = [a for a in listings if "refs/tags/promote/" in a]
        assert len(promote) == 1 and not any("contents" in x or "creatordate" in x for x in promote[0]), args


def remembered(cache) -> dict:
    """The cache file's rows by object id (it holds one list per field, a value per object)."""
    data = json.loads(cache_file(cache).read_text())
    return dict(zip(data["oids"], map(list, zip(*data["columns"]))))


def _shape(change):
    def garble(data):
        change(data)
        return data
    return garble


GARBLED = [b"", b"{", b"[]", b"\xff\xfe", b'{"version": 1, "rows": {}}',
           _shape(lambda d: d.update(version="0" * 64)), _shape(lambda d: d.update(oids={})),
           _shape(lambda d: d["columns"].pop()), _shape(lambda d: d["columns"].append([])),
           _shape(lambda d: d["columns"][3].pop()), _shape(lambda d: d["oids"].pop()),
           _shape(lambda d: d.update(columns=[None] * len(d["columns"]))), _shape(lambda d: d.pop("columns"))]


@pytest.mark.parametrize("body", GARBLED)
def test_a_garbled_cache_file_is_an_empty_one(many, tmp_path, body):
    """Not JSON, another version, or columns that do not line up with the object ids: nothing
    in it is used, every tag is read again (and the file rewritten whole)."""
    cache = tmp_path / "cache"
    out(many, "list", cache=cache)
    path = cache_file(cache)
    path.write_bytes(body if isinstance(body, bytes) else json.dumps(body(json.loads(path.read_text()))).encode())
    check_all(many, cache)
    assert len(remembered(cache)) == objects(many)


@pytest.mark.parametrize("column, bad", [
    (0, 1), (0, ["x"]), (1, {"a": 1}), (2, True), (3, 1.5), (7, [None]), (8, None), (8, 7), (9, 1), (9, None),
    (10, True), (10, "12"), (10, 1.5), (10, None), ("oid", 5), ("oid", None),
    (0, None), (3, None), (5, None), (7, None),  # a field every record has, missing from a row with a role
])
def test_a_value_of_the_wrong_type_drops_its_row_only(many, tmp_path, column, bad):
    """A value of the wrong type (or an object id that is no string) is never printed, nor a
    crash: that tag is read again; every other row stays as remembered."""
    cache = tmp_path / "cache"
    out(many, "list", cache=cache)
    path = cache_file(cache)
    data = json.loads(path.read_text())
    oid = many.git("rev-parse", "refs/tags/promote/baseline/b1")
    i = data["oids"].index(oid)
    good = remembered(cache)
    if column == "oid":
        data["oids"][i] = bad
    else:
        data["columns"][column][i] = bad
    path.write_text(json.dumps(data))
    assert bodies_read(many, cache, tmp_path) == ["refs/tags/promote/baseline/b1"]  # that row alone
    check_all(many, cache)
    assert remembered(cache) == good


def test_an_unwritable_cache_directory_changes_nothing(many, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "ledger").write_text("a file where the cache directory would be\n")
    check_all(many, cache)
    assert (cache / "ledger").read_text() == "a file where the cache directory would be\n"


def test_the_fast_path_and_typer_print_the_same_rows(many, tmp_path):
    cache = tmp_path / "cache"
    for args in (["list"], ["log"], ["log", "--limit", "4"], ["list"]):
        fast = many.ledger(*args, env={"XDG_CACHE_HOME": str(cache)})
        slow = many.sh(sys.executable, "-m", "ledger.cli", *args, env={"XDG_CACHE_HOME": str(cache)}, check=False)
        assert (fast.returncode, fast.stdout, fast.stderr) == (slow.returncode, slow.stdout, slow.stderr), args


def test_names_that_are_not_utf8_are_ordered_as_git_orders_bytes(tmp_path, session_env):
    """A ref name is bytes: one that is not UTF-8 (anyone can push it) is still ordered as git
    orders it, byte by byte, among names that are UTF-8 (log --json escapes it)."""
    box = user_repo(tmp_path / "user", session_env)
    box.sh("git", "commit", "-q", "--allow-empty", "-m", "c")
    head = box.git("rev-parse", "HEAD").encode()
    for name in (b"\xff\xfe", "\u00e9t\u00e9".encode(), b"z", b"\xc3", "\U0001f600".encode(), b"a\x80"):
        subprocess.run([b"git", b"update-ref", b"refs/tags/promote/baseline/" + name, head], cwd=box.root,
                       env=box.env, check=True)
    listed = subprocess.run(["git", "for-each-ref", *ORDER, "--format=%(refname:strip=2)", "refs/tags/promote/"],
                            cwd=box.root, env=box.env, capture_output=True, check=True).stdout
    gits = [n.decode("utf-8", "surrogateescape") for n in listed.split(b"\n") if n]
    for _ in range(2):  # cold, then from the cache
        proc = box.ledger("log", "--json")
        assert proc.returncode == 0, proc.stderr
        assert [e["tag"] for e in json.loads(proc.stdout)] == gits and len(gits) == 6


def test_ledger_without_its_source_lists_without_remembering(many, tmp_path):
    """Installed from bytecode alone (no .py to make the cache's version from), list and log
    print the same and remember nothing: rows made by unknown code are never trusted."""
    cache = tmp_path / "cache"
    env = {**bytecode_only_ledger(many, tmp_path), "XDG_CACHE_HOME": str(cache)}
    for args in (["list"], ["log"], ["log", "--limit", "3"]):
        proc = many.sh(sys.executable, "-c", LEDGER_MAIN, *args, env=env, check=False)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == out(many, *args, cache=tmp_path / "with-source")
    assert not (cache / "ledger").exists()


@pytest.mark.parametrize("changed", ["audit/listing.py", "records.py", "gitops/__init__.py", "gitops/_proc.py",
                                     "gitops/tagformat.py"])
def test_rows_made_by_other_code_are_made_again(many, tmp_path, changed):
    """The cache's version is a digest of the code a row comes from (this module, the record
    parser, the seam that reads and splits tags): a ledger differing there by one comment line
    reads every tag again instead of trusting the rows; the same code again reads none."""
    cache = tmp_path / "cache"
    every = sorted(f"refs/tags/{n}" for n in gits_order(many))
    for name, extra in (("a", ""), ("b", "# other code\n")):
        env = ledger_copy(tmp_path / name)
        source = tmp_path / name / "ledger" / changed
        source.write_text(source.read_text() + extra)
        assert sorted(bodies_read(many, cache, tmp_path, env)) == every, name
        assert bodies_read(many, cache, tmp_path, env) == [], name
