"""ledger depends on ruamel.yaml.clib, so the `dvc` commands a user runs parse dvc.yaml, dvc.lock
and params files with ruamel's C parser. That parser recurses on the C stack: a file nested
deeply enough kills the process. ledger's own processes, which read the same files through DVC
in-process, keep ruamel on its pure-Python parser (ledger/__init__.py), so such a file is a
one-line error and a rolled-back promotion, never a crash halfway through one."""

from __future__ import annotations

import subprocess

import pytest

from conftest import BIN

RUN = "lead1-news"
DEPTH = 200_000  # the C parser crashes the process here (seen at 100,000 on this machine); 10,000 does not


def parser_in(*imports: str) -> str:
    code = "".join(f"import {m}\n" for m in imports) + "from ruamel.yaml import main\nprint(main.CParser is not None)\n"
    return subprocess.run([str(BIN / "python"), "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_dvc_gets_the_c_parser_and_ledger_processes_do_not():
    assert parser_in() == "True", "ruamel.yaml.clib is not installed: DVC parses YAML in pure Python"
    assert parser_in("dvc.repo") == "True"
    assert parser_in("ledger") == "False"
    assert parser_in("ledger.main", "dvc.repo") == "False"


@pytest.mark.parametrize("where", ["params.yaml", f"data/eval/pipelines/{RUN}/params.yaml"])
def test_a_deeply_nested_params_file_is_an_error_not_a_crash(repo, where):
    """The root params.yaml, which DVC reads in ledger's process when promote re-records the `runs`
    stage (with the C parser that process crashed, -11, after the run's files had moved), and the
    run's own params file, which ledger reads first: promote refuses in one line and leaves the
    repository as it was."""
    path = repo.root / where
    path.write_text(path.read_text() + "deep: " + "[" * DEPTH + "]" * DEPTH + "\n")
    repo.commit_all("a params file nested 200,000 deep")
    before = repo.snapshot()
    proc = repo.ledger("promote", RUN, "--as", "baseline", "--id", "deep1", "--reason", "r")
    assert proc.returncode > 0, f"exit {proc.returncode} (a negative exit is a signal: the process crashed)\n{proc.stderr}"
    err = proc.stderr.strip()
    assert err.startswith("error: ") and "\n" not in err and "internal error" not in err, proc.stderr
    assert repo.snapshot() == before
