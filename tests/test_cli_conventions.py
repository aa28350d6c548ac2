"""CLI conventions a typer/click user expects, and no internal error from a file a user can edit."""

from __future__ import annotations

import shutil
from importlib import metadata

import pytest

from conftest import BIN


def test_no_arguments_help_short_help_and_version(project):
    bare = project.ledger()
    assert bare.returncode == 0 and "Usage: ledger" in bare.stdout and "promote" in bare.stdout
    short = project.ledger("-h")
    assert short.returncode == 0 and short.stdout == project.ledger("--help").stdout
    assert project.ledger("gate", "-h").returncode == 0
    version = project.ledger("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"ledger {metadata.version('ledger')}"
    assert (BIN / "ledger").is_file()


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b'{"metrics": [1]}', b"\xff\xfe", None])
def test_list_all_reports_a_broken_metrics_file_on_its_row(repo, content):
    metrics = repo.root / "data/eval/runs/lead1-news/metrics.json"
    metrics.unlink()
    if content is None:
        metrics.mkdir()
    else:
        metrics.write_bytes(content)
    for args in (("list", "--all"), ("list", "--all", "--json")):
        proc = repo.ledger(*args)
        assert proc.returncode == 0 and "internal error" not in proc.stderr, (args, proc.stderr)
    row = next(r for r in repo.ledger("list", "--all").stdout.splitlines() if "lead1-news" in r)
    assert "data/eval/runs/lead1-news/metrics.json is unreadable" in row
    if content is None:
        shutil.rmtree(metrics)


def test_signers_from_an_unknown_revision_is_bad_input(promoted):
    proc = promoted.ledger("verify", "--signers-from", "nope")
    assert proc.returncode == 2 and proc.stderr.strip() == \
        "error: --signers-from: unknown revision 'nope' (git fetch it first?)"
