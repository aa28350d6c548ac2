"""`ledger list` / `ledger log` are answered without typer (ledger.main): same output, same
errors and exit codes as the typer commands (`python -m ledger.cli ...`), and typer not loaded."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from ledger.main import fast_args

RUN1, RUN2 = "lead1-news", "lead2-news"


@pytest.mark.parametrize("argv, expected", [
    (["list"], {"cmd": "list", "limit": None}),
    (["list", "--json", "--all"], {"cmd": "list", "limit": None, "--json": True, "--all": True}),
    (["log", "--limit", "3"], {"cmd": "log", "limit": 3}),
    (["log", "--json", "--limit=12"], {"cmd": "log", "limit": 12, "--json": True}),
    (["log", "--limit", "0"], {"cmd": "log", "limit": 0}),  # api refuses it, with typer's message
])
def test_fast_args_understood(argv, expected):
    assert fast_args(argv) == expected


@pytest.mark.parametrize("argv", [
    [], ["show", "x"], ["list", "--help"], ["log", "--all"], ["list", "--limit", "1"],
    ["log", "--limit"], ["log", "--limit", "-1"], ["log", "--limit", "x"], ["log", "--limit", "1", "--limit", "2"],
    ["log", "--limit", "1" * 10], ["list", "--"], ["list", "extra"], ["log", "--jso"],
])
def test_fast_args_defers_to_typer(argv):
    assert fast_args(argv) is None


def _typer(box, *args):
    return box.sh(sys.executable, "-m", "ledger.cli", *args, check=False)


def _same(box, *args):
    fast, slow = box.ledger(*args), _typer(box, *args)
    assert (fast.returncode, fast.stdout, fast.stderr) == (slow.returncode, slow.stdout, slow.stderr), args
    return fast


def test_fast_paths_print_what_the_typer_commands_print(repo):
    assert _same(repo, "list").stdout == "no promotions yet\n"
    assert repo.ledger("promote", RUN1, "--as", "baseline", "--id", "b1", "--reason", "first").returncode == 0
    assert repo.ledger("promote", RUN2, "--as", "reference", "--id", "r1", "--reason", "silver",
                       "--unsigned").returncode == 0
    for args in (["list"], ["list", "--json"], ["list", "--all"], ["list", "--all", "--json"], ["log"],
                 ["log", "--json"], ["log", "--limit", "1"], ["log", "--json", "--limit=1"]):
        proc = _same(repo, *args)
        assert proc.returncode == 0 and proc.stdout.strip()
    listed = json.loads(repo.ledger("list", "--json").stdout)
    assert sorted(p["promoted_id"] for p in listed) == ["b1", "r1"]
    assert [e["id"] for e in json.loads(repo.ledger("log", "--json", "--limit", "1").stdout)] == ["r1"]

    bad = _same(repo, "log", "--limit", "0")
    assert bad.returncode == 2 and bad.stderr == "error: --limit must be a positive number, not 0\n"


def test_fast_path_outside_a_repository(tmp_path, repo):
    outside = tmp_path / "not-a-repo"
    outside.mkdir()
    for args in (["list"], ["log", "--json"]):
        fast = repo.sh(str(Path(sys.executable).parent / "ledger"), *args, check=False, cwd=outside)
        slow = repo.sh(sys.executable, "-m", "ledger.cli", *args, check=False, cwd=outside)
        assert fast.returncode == slow.returncode == 2
        assert fast.stderr == slow.stderr and fast.stderr.startswith("error: not inside a git repository")
        assert fast.stdout == slow.stdout == ""


def _blocked(*modules: str) -> str:
    return (f"import sys; sys.modules.update(dict.fromkeys({list(modules)!r})); sys.argv = ['ledger'] + sys.argv[1:]; "
            "from ledger.main import main; main()")


def test_fast_path_does_not_load_typer_hashlib_or_typing(promoted):
    # made unimportable, the fast path still answers (and ends the process itself, so nothing
    # after main() runs): typer (~0.15 s with pydantic), hashlib (OpenSSL, ~2.5 ms), typing
    # (~1.3 ms); --help, which typer answers, fails to import it
    # (list --all reads the workspace's runs, list --json whole records: those load more)
    lean = _blocked("typer", "hashlib", "_hashlib", "typing")
    for args in (["list", "--all"], ["log", "--limit", "1"], ["list", "--json"], ["log"], ["list"], ["log", "--json"]):
        probe = _blocked("typer") if args[1:2] in (["--all"], ["--json"]) and args[0] == "list" else lean
        proc = promoted.sh(sys.executable, "-c", probe, *args, check=False)
        assert proc.returncode == 0 and proc.stderr == "" and proc.stdout == promoted.ledger(*args).stdout, proc.stderr
    # the same with the rows remembered (the run above remembered them): still none of the three
    proc = promoted.sh(sys.executable, "-c", lean, "list", check=False)
    assert proc.returncode == 0 and "b1" in proc.stdout, proc.stderr
    proc = promoted.sh(sys.executable, "-c", _blocked("typer"), "list", "--help", check=False)
    assert proc.returncode != 0 and "ModuleNotFoundError" in proc.stderr and "typer" in proc.stderr, proc.stderr


def test_fast_path_ends_the_process_after_writing_everything(promoted):
    # main() ends the process itself (os._exit): everything is written first, and code after
    # main() never runs
    probe = "import sys; sys.argv = ['ledger'] + sys.argv[1:]; from ledger.main import main; main(); print('after')"
    for args in (["log"], ["list", "--json"]):
        expected = _typer(promoted, *args).stdout
        assert "b1" in expected
        proc = promoted.sh(sys.executable, "-c", probe, *args, check=False)
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, expected, "")
