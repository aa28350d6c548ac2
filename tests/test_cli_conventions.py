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
    # typer detects the shell from the parent process (the option takes no value): ask from bash,
    # as a bash user does, not from whatever shell runs the test suite (make's is sh)
    completion = project.sh("bash", "-c", f"{BIN / 'ledger'} --show-completion; exit $?")  # no exec
    assert completion.returncode == 0 and "_ledger_completion()" in completion.stdout  # shell completion


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


def test_a_clone_without_tags_is_told_to_fetch_them(promoted, tmp_path):
    clone = tmp_path / "clone"
    promoted.sh("git", "clone", "-q", "--no-tags", str(promoted.root), str(clone))
    for args in (("list",), ("log",)):
        proc = promoted.sh(str(BIN / "ledger"), *args, cwd=clone)
        assert proc.stdout.strip() == ("no promotion tags in this clone, but HEAD holds 1 promoted directory: "
                                       "`git fetch --tags` (the audit trail is the tags)"), proc.stdout
    proc = promoted.sh(str(BIN / "ledger"), "verify", cwd=clone, check=False)
    assert proc.returncode == 1 and "no promotion tag (this clone has no promote/ tags at all: `git fetch --tags`)" \
        in proc.stdout
    assert promoted.sh(str(BIN / "ledger"), "list", "--json", cwd=clone).stdout.strip() == "[]"


def _commands():
    import typer

    from ledger.cli import app

    root = typer.main.get_command(app)
    out = []
    for name, cmd in sorted(root.commands.items()):
        if hasattr(cmd, "commands"):
            out += [((name, sub), c) for sub, c in sorted(cmd.commands.items())]
        else:
            out.append(((name,), cmd))
    return out


def test_every_help_text_renders_as_written_and_flags_take_no_value(project):
    seen = 0
    for path, cmd in _commands():
        proc = project.ledger(*path, "--help")
        assert proc.returncode == 0, (path, proc.stderr)
        shown = " ".join(proc.stdout.split())
        for param in cmd.params:
            text = " ".join((getattr(param, "help", None) or "").split())
            if text:
                assert text in shown, (path, param.name, text)  # no markup ate [a-z0-9] or the like
                seen += 1
            if getattr(param, "is_flag", False):
                for opt in param.opts:
                    assert f"{opt} <bool>" not in shown and f"{opt} BOOLEAN" not in shown, (path, opt)
        json_opt = next((p for p in cmd.params if "--json" in p.opts), None)
        assert json_opt is None or json_opt.help, path  # every --json says what it does
    assert seen > 30
    assert "Immutable id: [a-z0-9][a-z0-9._-]{0,99}" in project.ledger("promote", "--help").stdout


def test_list_columns_align_across_roles_and_long_ids(repo):
    ok = [repo.ledger("promote", "lead1-news", "--as", "reference", "--quality", "silver", "--id",
                      "a-rather-long-reference-identifier-x", "--reason", "r"),
          repo.ledger("promote", "lead2-news", "--as", "baseline", "--id", "b1", "--reason", "r")]
    assert all(p.returncode == 0 for p in ok), [p.stderr for p in ok]
    rows = repo.ledger("list").stdout.splitlines()
    assert len(rows) == 2
    starts = {row.index("data/eval/") for row in rows}
    assert len(starts) == 1, rows  # the path column starts at the same place in every row
