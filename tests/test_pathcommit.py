"""A promotion's commit without git's whole-index passes (gitops.pathcommit): the tree it commits
and the index it leaves are exactly what `git add -- <paths>` then `git write-tree` make, and
its busy check lists what `git status -- <paths>` lists. Each shape is applied to two clones of
one repository: git's own commands in one, pathcommit in the other."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from ledger.errors import LedgerError
from ledger.gitops import pathcommit, rawtree


def _git(root: Path, *args: str, env: dict | None = None) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}).stdout


def _write(root: Path, rel: str, data: str | bytes, x: bool = False) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    path.chmod(0o755 if x else 0o644)


def _base(tmp_path: Path, file_mode: bool, object_format: str = "sha1") -> list[Path]:
    base = tmp_path / "base"
    base.mkdir()
    _git(base, "init", "-q", f"--object-format={object_format}")
    _write(base, ".gitattributes", "*.txt text=auto\n*.up filter=up\n")
    _write(base, "top.txt", "top\n")
    _write(base, "d/.gitignore", "/*.log\n")
    _write(base, "d/old/keep.json", "{}\n")
    _write(base, "p/run/dvc.yaml", "stages: {}\n")
    _write(base, "p/run/params.yaml", "config: c\n")
    _write(base, "tool.sh", "echo tool\n")
    _write(base, "run.sh", "echo run\n", x=True)
    _write(base, "crlf.txt", "one\ntwo\n")
    _write(base, "f/thing", "a file here\n")
    _write(base, "gx.txt", "matched by the glob g[x].txt\n")
    _git(base, "add", ".")
    _git(base, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "-m", "base")
    clones = []
    for name in ("git", "ledger"):
        clone = tmp_path / name
        _git(tmp_path, "clone", "-q", str(base), name)
        (tmp_path / "excludes").write_text("*.secret\n")
        for key, value in (("core.excludesFile", str(tmp_path / "excludes")), ("filter.up.clean", "tr a-z A-Z"),
                           ("filter.up.smudge", "cat"), ("core.fileMode", "true" if file_mode else "false")):
            _git(clone, "config", key, value)
        clones.append(clone)
    return clones


def _new_dir(root: Path) -> list[str]:
    """A promoted dir as promote writes it, and the files promote touches."""
    for rel, data in (("d/new/.gitignore", "/big.bin\n/pred.jsonl\n/cache/\n"), ("d/new/cache/x.bin", "an ignored dir"),
                      ("d/new/big.bin", "ignored by its own .gitignore"),
                      ("d/new/x.secret", "ignored by core.excludesFile"), ("d/new/a.json", "{}\n"),
                      ("d/new/sub/c.txt", "nested\n"), ("d/new/sp ace \u00fc.txt", "non-ascii\n"),
                      ("d/new/sub dir/d.txt", "a space in a directory's name\n"),
                      ("d/new/win.txt", b"crlf\r\nlines\r\n"), ("d/new/f.up", "lower case\n"), ("d/new/b.log", "x")):
        _write(root, rel, data)
    (root / "d/new/pred.jsonl").symlink_to("big.bin")  # DVC's symlink cache type: ignored, not staged
    _write(root, "top.txt", "top, changed\n")
    _write(root, "d/.gitignore", "/*.log\n/extra\n")
    for rel in ("p/run/dvc.yaml", "p/run/params.yaml"):
        (root / rel).unlink()
    (root / "p/run").rmdir()
    (root / "p").rmdir()
    return ["d/new", "top.txt", "p/run/dvc.yaml", "p/run/params.yaml", "d/.gitignore"]


def _first_of_its_kind(root: Path) -> list[str]:
    _write(root, "a/b/c/new/r.json", "{}\n")
    _write(root, "a/b/c/new/README.md", "# r\n")
    return ["a/b/c/new"]


def _modes(root: Path) -> list[str]:
    _write(root, "m/new/exe.sh", "echo new\n", x=True)
    _write(root, "m/new/plain.txt", "plain\n")
    (root / "tool.sh").chmod(0o755)  # 100644 in HEAD, now executable
    _write(root, "run.sh", "echo run, changed\n")  # 100755 in HEAD, the bit dropped
    return ["m/new", "tool.sh", "run.sh"]


def _symlink(root: Path) -> list[str]:
    _write(root, "s/new/a.json", "{}\n")
    (root / "s/new/link").symlink_to("a.json")
    return ["s/new", "top.txt"]


def _symlinked_dir(root: Path) -> list[str]:
    _write(root, "s/new/a.json", "{}\n")
    (root / "s/new/dir").symlink_to("../../d/old", target_is_directory=True)
    return ["s/new"]


def _file_became_dir(root: Path) -> list[str]:
    (root / "f/thing").unlink()
    _write(root, "f/thing/new/a.json", "{}\n")
    return ["f/thing/new"]


def _nested_repo(root: Path) -> list[str]:
    _write(root, "n/new/a.json", "{}\n")
    _write(root, "n/new/inner/x.txt", "x\n")
    _git(root / "n/new/inner", "init", "-q")
    _git(root / "n/new/inner", "add", ".")
    when = {"GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z"}
    _git(root / "n/new/inner", "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "-m", "x",
         env=when)  # the same commit in both clones, whatever second each is made in
    return ["n/new"]


def _odd_names(root: Path) -> list[str]:
    _write(root, "nl\nname.txt", "a line break in the name\n")  # the batch protocols are line based
    _write(root, "g[x].txt", "a glob's characters, taken literally\n")
    _write(root, "gx.txt", "changed, but not a path given\n")
    return ["nl\nname.txt", "g[x].txt"]


def _dir_in_head(root: Path) -> list[str]:
    _write(root, "d/old/more.json", "[]\n")
    return ["d/old"]


def _traced(root: Path, fn) -> tuple[object, list[list[str]]]:
    trace = root.parent / f"trace-{root.name}.json"
    os.environ["GIT_TRACE2_EVENT"] = str(trace)
    try:
        result = fn()
    finally:
        del os.environ["GIT_TRACE2_EVENT"]
    argvs = [ev["argv"] for ev in map(json.loads, trace.read_text().splitlines()) if ev["event"] == "start"]
    trace.unlink()
    return result, argvs


@pytest.mark.parametrize("file_mode", [True, False], ids=["fileMode", "no-fileMode"])
@pytest.mark.parametrize("shape,fast", [(_new_dir, True), (_first_of_its_kind, True), (_modes, True),
                                        (_symlink, False), (_symlinked_dir, False), (_dir_in_head, False),
                                        (_file_became_dir, False), (_nested_repo, False), (_odd_names, False)],
                         ids=["promoted-dir", "first-of-its-kind", "modes", "symlink", "symlinked-dir", "dir-in-head",
                              "file-became-dir", "nested-repo", "odd-names"])
def test_tree_and_index_are_git_adds(tmp_path, shape, fast, file_mode):
    plain, ours = _base(tmp_path, file_mode)
    paths = shape(plain)
    assert shape(ours) == paths
    _git(plain, "--literal-pathspecs", "add", "--", *paths)
    want = _git(plain, "write-tree").strip()
    head = _git(ours, "rev-parse", "HEAD").strip()
    (tree, head_tree), argvs = _traced(ours, lambda: pathcommit.tree(ours, head, paths))
    assert tree == want
    assert _git(ours, "write-tree").strip() == want, "the index is not the tree committed"
    assert _git(ours, "status", "--porcelain=v1", "-uall") == _git(plain, "status", "--porcelain=v1", "-uall")
    plain_way = any(a[1:2] in (["add"], ["write-tree"]) or a[2:3] in (["add"],) for a in argvs)
    assert plain_way != fast, argvs
    assert head_tree in ((_git(ours, "rev-parse", "HEAD^{tree}").strip(),) if fast else (None,))


def test_sha256_repository(tmp_path):
    """Object ids of 64 hex digits: trees are parsed and written at that width."""
    plain, ours = _base(tmp_path, True, "sha256")
    paths = _new_dir(plain)
    assert _new_dir(ours) == paths
    _git(plain, "--literal-pathspecs", "add", "--", *paths)
    head = _git(ours, "rev-parse", "HEAD").strip()
    tree, head_tree = pathcommit.tree(ours, head, paths)
    assert len(tree) == 64 and tree == _git(plain, "write-tree").strip() == _git(ours, "write-tree").strip()
    assert head_tree == _git(ours, "rev-parse", "HEAD^{tree}").strip()


def test_the_first_commit_is_git_adds(tmp_path):
    """No HEAD yet: git stages and writes it."""
    _git(tmp_path, "init", "-q")
    _write(tmp_path, "a/b.json", "{}\n")
    tree, head_tree = pathcommit.tree(tmp_path, None, ["a"])
    assert head_tree is None and tree == _git(tmp_path, "write-tree").strip()
    assert _git(tmp_path, "ls-tree", "-r", "--name-only", tree) == "a/b.json\n"


def test_a_change_that_commits_nothing_is_the_head_tree(tmp_path):
    _, ours = _base(tmp_path, True)
    head = _git(ours, "rev-parse", "HEAD").strip()
    for paths in (["top.txt", "d/.gitignore"], ["top.txt"]):  # the root alone is the only tree read
        tree, head_tree = pathcommit.tree(ours, head, paths)
        assert tree == head_tree == _git(ours, "rev-parse", "HEAD^{tree}").strip()


def test_git_failing_is_one_line_naming_the_command(tmp_path):
    (tmp_path / "plain").mkdir()
    with pytest.raises(LedgerError, match=r"^git ls-tree failed: fatal: not a git repository") as err:
        pathcommit.changed(tmp_path / "plain", ["x.txt"])
    assert "\n" not in str(err.value)


def _busy_shapes(root: Path) -> list[str]:
    _write(root, "top.txt", "top, changed\n")  # modified
    (root / "p/run/dvc.yaml").unlink()  # deleted
    os.utime(root / "p/run/params.yaml", ns=(1_000_000_000, 1_000_000_000))  # stat only: not busy
    _write(root, "crlf.txt", b"one\r\ntwo\r\n")  # the same blob once text=auto cleans it
    (root / "tool.sh").chmod(0o755)  # busy only where git trusts the executable bit
    _write(root, "new.json", "{}\n")  # untracked
    return ["top.txt", "p/run/dvc.yaml", "p/run/params.yaml", "crlf.txt", "tool.sh", "new.json", "run.sh",
            "absent.txt"]


@pytest.mark.parametrize("file_mode", [True, False], ids=["fileMode", "no-fileMode"])
def test_busy_paths_are_what_git_status_lists(tmp_path, file_mode):
    _, ours = _base(tmp_path, file_mode)
    paths = _busy_shapes(ours)
    status = _git(ours, "status", "--porcelain=v1", "-z", "-uall", "--", *paths)
    listed = [item[3:] for item in status.split("\0") if item]
    (busy, argvs) = _traced(ours, lambda: pathcommit.changed(ours, paths))
    # git status lists crlf.txt on its size alone; cleaned, it is HEAD's blob, and `git add` would
    # commit nothing of it: the busy check compares what would be committed
    assert "crlf.txt" in listed and "crlf.txt" not in busy
    assert _git(ours, "hash-object", "crlf.txt") == _git(ours, "rev-parse", "HEAD:crlf.txt")
    assert sorted(busy) == sorted(p for p in listed if p != "crlf.txt")
    assert ("tool.sh" in busy) == file_mode
    assert not any("status" in a for a in argvs), "the busy check read the index"


def test_busy_compares_blob_ids_for_equality(tmp_path):
    """A modified file is busy whichever way its new blob id sorts against HEAD's."""
    _, ours = _base(tmp_path, True)
    was = _git(ours, "rev-parse", "HEAD:top.txt").strip()
    blob = lambda text: hashlib.sha1(b"blob %d\0%s" % (len(text), text)).hexdigest()  # noqa: E731
    texts = [b"top, version %d\n" % i for i in range(64)]
    for pick in (lambda t: blob(t) > was, lambda t: blob(t) < was):
        (ours / "top.txt").write_bytes(next(t for t in texts if pick(t)))
        assert pathcommit.changed(ours, ["top.txt"]) == ["top.txt"]


def test_busy_counts_a_file_turned_into_a_symlink(tmp_path):
    """Same content through a link: git status lists the type change, and so does the busy check."""
    _, ours = _base(tmp_path, True)
    _write(ours, "copy.txt", "top\n")
    (ours / "top.txt").unlink()
    (ours / "top.txt").symlink_to("copy.txt")
    assert pathcommit.changed(ours, ["top.txt"]) == ["top.txt"]


def test_busy_paths_taken_literally_and_renames_read_as_git_writes_them(tmp_path):
    """Where git status answers (a directory among the paths): a path is never a glob, and a
    staged rename's source path is not a path of its own."""
    _, ours = _base(tmp_path, True)
    _write(ours, "gx.txt", "changed\n")  # what the glob g[x].txt would match
    _write(ours, "d/old/more.json", "[]\n")
    assert pathcommit.changed(ours, ["g[x].txt", "d/old"]) == ["d/old/more.json"]
    _git(ours, "mv", "top.txt", "moved.txt")
    assert pathcommit.changed(ours, ["moved.txt", "top.txt", "d/old"]) == ["moved.txt", "d/old/more.json"]


def test_busy_counts_an_ignored_untracked_file_and_falls_back_for_a_directory(tmp_path):
    _, ours = _base(tmp_path, True)
    _write(ours, "d/late.log", "ignored, untracked: `git add` would refuse it")
    assert pathcommit.changed(ours, ["d/late.log", "top.txt"]) == ["d/late.log"]
    _write(ours, "d/old/more.json", "[]\n")  # a directory: `git status` answers
    assert pathcommit.changed(ours, ["d/old", "top.txt"]) == ["d/old/more.json"]


def test_a_file_where_head_has_a_directory_is_what_git_status_lists(tmp_path):
    """ls-tree writes a directory's mode as 040000: that is a directory all the same (git answers)."""
    _, ours = _base(tmp_path, True)
    (ours / "d/old/keep.json").unlink()
    (ours / "d/old").rmdir()
    _write(ours, "d/old", "now a file\n")
    status = _git(ours, "status", "--porcelain=v1", "-z", "-uall", "--", "d/old")
    assert sorted(pathcommit.changed(ours, ["d/old"])) == sorted(i[3:] for i in status.split("\0") if i)


def test_nothing_is_staged_into_a_submodule(tmp_path):
    """`HEAD:sub` of a submodule is a commit this repository lacks (cat-file: "missing"): a new dir
    below it must not replace the submodule with a tree. git refuses, and so does the commit."""
    plain, ours = _base(tmp_path, True)
    for clone in (plain, ours):
        _git(clone, "update-index", "--add", "--cacheinfo", f"160000,{'1' * 40},sub")
        _git(clone, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "-m", "a submodule")
        _write(clone, "sub/new/a.json", "{}\n")
    with pytest.raises(subprocess.CalledProcessError):
        _git(plain, "add", "--", "sub/new")
    head = _git(ours, "rev-parse", "HEAD").strip()
    with pytest.raises(LedgerError, match="submodule"):
        pathcommit.tree(ours, head, ["sub/new"])
    assert _git(ours, "ls-files", "-s", "sub").startswith("160000 " + "1" * 40)


def _sorting(root: Path) -> list[str]:
    """A new dir among names that sort around it only by git's rule (a directory's name compares
    as if it ended in "/": o/new.txt and o/new-a before o/new/, o/new0 after), a file of HEAD
    replaced and one dropped beside it, in a directory of its own."""
    _write(root, "o/new/a.json", "{}\n")
    _write(root, "o/new.txt", "changed\n")
    (root / "o/new0").unlink()
    _write(root, "o/zz", "a new file: before o/zz-a and o/zz.txt, unlike a directory of that name\n")
    return ["o/new", "o/new.txt", "o/new0", "o/zz"]


def test_a_new_dir_lands_where_git_sorts_it(tmp_path):
    plain, ours = _base(tmp_path, True)
    for clone in (plain, ours):
        for rel in ("o/new.txt", "o/new-a", "o/new0", "o/newer/x", "o/new!", "o/zz.txt", "o/zz-a"):
            _write(clone, rel, rel + "\n")
        _git(clone, "add", "o")
        _git(clone, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "-m", "o")
    paths = _sorting(plain)
    assert _sorting(ours) == paths
    _git(plain, "add", "-A", "--", *paths)
    head = _git(ours, "rev-parse", "HEAD").strip()
    tree, _ = pathcommit.tree(ours, head, paths)
    assert tree == _git(plain, "write-tree").strip()
    listed = _git(ours, "ls-tree", "--name-only", f"{tree}:o").split()
    assert listed == ["new!", "new-a", "new.txt", "new", "newer", "zz", "zz-a", "zz.txt"]
    subprocess.run(["git", "fsck", "--strict", "--no-dangling"], cwd=ours, check=True, capture_output=True)


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_a_dir_among_many_is_spliced_in_as_git_adds_it(tmp_path, where):
    """data/eval/baselines at 10,000 promotions: the new entry among many (dirs and files whose
    names sort around it), at the start, in the middle or at the end of the tree. 900 entries: the
    walk is the same at any count."""
    base = tmp_path / "base"
    base.mkdir()
    _git(base, "init", "-q")
    _write(base, "x.txt", "x\n")
    blob = _git(base, "hash-object", "-w", "x.txt").strip()
    lines = [f"100644 {blob}\tb/r{i:04d}{tail}" for i in range(1, 301) for tail in ("/f.json", ".json", "-x")]
    subprocess.run(["git", "update-index", "--add", "--index-info"], cwd=base, check=True,
                   input="\n".join(lines) + "\n", text=True)
    _git(base, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "-m", "many")
    new = {"first": "b/r0000", "middle": "b/r0150", "last": "b/r9999"}[where]
    clones = []
    for name in ("git", "ledger"):
        _git(tmp_path, "clone", "-q", str(base), name)
        clones.append(tmp_path / name)
        _write(clones[-1], f"{new}/metrics.json", "{}\n")
        if where == "middle":  # a file of HEAD replaced in the same directory
            _write(clones[-1], "b/r0150.json", "[]\n")
    plain, ours = clones
    paths = [new] + (["b/r0150.json"] if where == "middle" else [])
    _git(plain, "add", "--", *paths)
    tree, head_tree = pathcommit.tree(ours, _git(ours, "rev-parse", "HEAD").strip(), paths)
    assert tree == _git(plain, "write-tree").strip() != head_tree
    assert _git(ours, "write-tree").strip() == tree
    assert _git(ours, "cat-file", "-p", f"{tree}:{new}").split()[-1] == "metrics.json"


def test_a_tree_git_cannot_write_is_a_one_line_error(tmp_path):
    _, ours = _base(tmp_path, True)
    with pytest.raises(LedgerError) as err:
        rawtree.store(ours, {"2" * 40: b"100644 x"})  # an entry cut short: no name end, no id
    assert str(err.value).startswith("git hash-object failed: ") and "\n" not in str(err.value)


def test_a_tree_written_under_another_id_is_refused(tmp_path):
    """The ids computed here are the ones git gives: a tree whose bytes hash otherwise is an error,
    never a commit that names a tree the object store lacks."""
    _, ours = _base(tmp_path, True)
    body = subprocess.run(["git", "cat-file", "tree", "HEAD^{tree}"], cwd=ours, check=True, capture_output=True).stdout
    rawtree.store(ours, {rawtree.tree_id(body, 20): body})
    for wrong in ("0" * 40, "f" * 40):  # below and above the true id
        with pytest.raises(LedgerError, match="other ids"):
            rawtree.store(ours, {wrong: body})


@pytest.mark.parametrize("body", [b"100644 x", b"100644 x\0" + b"1" * 19, b"100644x\0" + b"1" * 20 + b"40000"])
def test_a_malformed_tree_is_a_one_line_error(body):
    tree = rawtree.Tree(body, 20, "4" * 40)
    with pytest.raises(LedgerError, match="4{40} is not a well-formed tree object"):
        tree.mode(b"y")
    tree.set(b"y", b"100644", "5" * 40)
    with pytest.raises(LedgerError, match="not a well-formed"):
        tree.encode()


@pytest.mark.parametrize("mode,name,oid", [(b"100644", b"a/b", "5" * 40), (b"100644", b"", "5" * 40),
                                           (b"100644", b"n\0", "5" * 40), (b"100644", b"y", "5" * 64),
                                           (b"100644", b"y", "5" * 38), (b"100644", b"y", "5" * 39),
                                           (b"100644", b"y", "g" * 40), (b"100 644", b"y", "5" * 40),
                                           (b"", b"y", "5" * 40)])
def test_an_entry_no_tree_can_hold_is_refused(mode, name, oid):
    tree = rawtree.Tree(b"", 20)
    with pytest.raises(LedgerError, match="not a tree entry"):
        tree.set(name, mode, oid)
    assert tree.encode() == b""


def test_every_object_the_tree_names_is_in_the_store_even_when_a_file_reads_otherwise(tmp_path):
    """A clean filter that gives another blob at every read (a stamp, say): the index's blob and the
    tree's differ, and the commit's tree must still name only objects the repository has."""
    _, ours = _base(tmp_path, True)
    _write(ours, ".gitattributes", "*.nd filter=nd\n")
    _git(ours, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qam", "nd")
    _git(ours, "config", "filter.nd.clean", "cat; od -An -N8 -tx8 /dev/urandom")
    _write(ours, "d/new/a.nd", "read twice, cleaned twice\n")
    tree, _ = pathcommit.tree(ours, _git(ours, "rev-parse", "HEAD").strip(), ["d/new"])
    blob = _git(ours, "rev-parse", f"{tree}:d/new/a.nd").strip()
    subprocess.run(["git", "cat-file", "-e", blob], cwd=ours, check=True)
    subprocess.run(["git", "fsck", "--connectivity-only", "--no-dangling", tree], cwd=ours, check=True,
                   capture_output=True)
