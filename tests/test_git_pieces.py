"""gitops._proc.git_pieces: a git command's output cut at a separator and handed over while git
writes it (list/log read promotion tags this way). Real git: a blob of known bytes shown by
`git cat-file`, read in chunks of every small size so that pieces and the separator itself are
cut across chunks."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ledger.errors import LedgerError
from ledger.gitops._proc import git_pieces

SEP = b"\0\x01"


def _blob(root, data: bytes) -> str:
    return subprocess.run(["git", "-C", str(root), "hash-object", "-w", "--stdin"], input=data, check=True,
                          capture_output=True).stdout.decode().strip()


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    root = tmp_path_factory.mktemp("pieces")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


@pytest.mark.parametrize("data", [
    b"a" + SEP + b"bb" + SEP + SEP + b"ccc",  # an empty piece, a last piece without a separator
    SEP + b"x" + SEP,  # a separator first and last
    b"\0\0\x01\x01" + SEP + b"\x01\0",  # the separator's bytes beside it, alone, reversed
    b"no separator at all",
    "caf\u00e9 \u00fcber".encode() + SEP + b"\xff\xfe" + SEP,  # multi-byte and invalid UTF-8 stay bytes
    (b"r" * 70000 + SEP) * 3,  # pieces longer than a chunk
])
def test_pieces_are_the_split_output_whatever_the_chunk_size(repo, data):
    oid = _blob(repo, data)
    expected = data.split(SEP)
    if expected[-1] == b"":  # what follows the last separator is handed over only when not empty
        expected.pop()
    for size in (1, 2, 3, 5, 64, 1 << 16):
        assert list(git_pieces(repo, ["cat-file", "-p", oid], SEP, size)) == expected, size


def test_a_failing_git_raises_its_message_after_its_output(repo):
    pieces = git_pieces(repo, ["cat-file", "-p", "0" * 40], SEP)
    with pytest.raises(LedgerError, match=r"^git cat-file failed: fatal: Not a valid object name 0{40}$"):
        list(pieces)
    with pytest.raises(LedgerError, match="not a git repository"):
        list(git_pieces(repo.parent, ["for-each-ref"], SEP))


def test_a_caller_that_stops_early_stops_git(repo):
    # 4 MB in 8-byte pieces: far more than a pipe holds, so git is still writing when the caller
    # stops; closing the generator must end git (not wait for a reader that is gone)
    oid = _blob(repo, (b"1234567" + SEP[:1]) * 500_000)
    pieces = git_pieces(repo, ["cat-file", "-p", oid], SEP[:1], 4096)
    assert next(pieces) == b"1234567"
    pieces.close()
    assert list(git_pieces(repo, ["cat-file", "-p", oid], SEP[:1]))[-1] == b"1234567"


def test_started_returns_and_raises_what_run_does(repo, tmp_path):
    # Git.started: run() begun in a thread (list/log list tag names while they load what they
    # remember); its result is run's, its failures run's
    from ledger.errors import NotFound
    from ledger.gitops import Git

    git = Git(repo)
    oid = _blob(repo, b"x" * 200_000 + b"\n")  # more than a pipe holds: the thread drains it
    assert git.started("cat-file", "-p", oid)() == git.run("cat-file", "-p", oid) == "x" * 200_000
    assert git.started("cat-file", "-p", oid, strip=False)() == "x" * 200_000 + "\n"
    with pytest.raises(LedgerError) as started:
        git.started("cat-file", "-p", "0" * 40)()
    with pytest.raises(LedgerError) as ran:
        git.run("cat-file", "-p", "0" * 40)
    assert str(started.value) == str(ran.value) == f"git cat-file failed: fatal: Not a valid object name {'0' * 40}"
    gone = tmp_path / "gone"
    gone.mkdir()
    waiting = Git(gone)
    gone.rmdir()
    with pytest.raises(NotFound, match="cannot run git in"):
        waiting.started("status")()


def test_a_failed_git_is_its_last_line_of_stderr_else_of_stdout(repo):
    # `git update-index` of a missing path writes two lines ("error: ...", then "fatal: ..."): the
    # message is the last; `git diff --exit-code` fails with the diff on stdout and nothing on
    # stderr: the message is the diff's last line
    from ledger.gitops import Git

    with pytest.raises(LedgerError, match=r"^git update-index failed: fatal: Unable to process path missing\.txt$"):
        Git(repo).run("update-index", "--add", "--", "missing.txt")
    with pytest.raises(LedgerError, match=r"^git update-index failed: fatal: Unable to process path missing\.txt$"):
        list(git_pieces(repo, ["update-index", "--add", "--", "missing.txt"], SEP))
    (repo / "tracked.txt").write_text("one\n")
    subprocess.run(["git", "-C", str(repo), "add", "tracked.txt"], check=True)
    (repo / "tracked.txt").write_text("one\ntwo, the last line of the diff\n")
    try:
        with pytest.raises(LedgerError, match=r"^git diff failed: \+two, the last line of the diff$"):
            Git(repo).run("diff", "--exit-code", "--", "tracked.txt")
    finally:
        subprocess.run(["git", "-C", str(repo), "rm", "-q", "-f", "--cached", "tracked.txt"], check=True)
        (repo / "tracked.txt").unlink()


def test_pieces_of_a_directory_gone_and_git_reading_no_stdin(repo, tmp_path):
    from ledger.errors import NotFound

    gone = tmp_path / "gone"
    gone.mkdir()
    gone.rmdir()
    with pytest.raises(NotFound, match="cannot run git in"):
        list(git_pieces(gone, ["status"], SEP))
    # a git command given no input reads none: not the caller's stdin (here a pipe with data)
    probe = ("import sys; from ledger.gitops._proc import git_bytes; "
             "sys.stdout.write(git_bytes(sys.argv[1], ['hash-object', '--stdin']).stdout.decode())")
    out = subprocess.run([sys.executable, "-c", probe, str(repo)], input=b"data on the caller's stdin\n",
                         capture_output=True, check=True).stdout.decode().strip()
    assert out == _blob(repo, b"")  # the empty blob
