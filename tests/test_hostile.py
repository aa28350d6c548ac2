"""Hostile promoted ids, run ids, roles and reasons: a clear one-line error (exit 2 from the
CLI), and nothing written. A handful of examples go through the real CLI; the many
property-based (hypothesis) examples call the library in-process to stay fast."""

from __future__ import annotations

import re
import subprocess

import pytest
from conftest import BIN
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import api, layout
from ledger.errors import LedgerError, UsageError
from ledger.promote import check_reason

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
VALID_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")

# Any one of these makes an id invalid wherever it appears.
FRAGMENTS = ["../", "..", "/", "\\", "\n", "\r", "\t", " ", ";", "|", "&", "$", "`", "'", '"', "\x00", "é", "日本",
             "A", "~", "^", ":", "?", "*", "[", "@{", "\u202e", "\udcff", "\u2028", "$(touch pwned)", "`id`"]
SAFE = st.text(alphabet="abz09._-", max_size=12)
hostile_ids = st.one_of(
    st.builds(lambda a, frag, b: a + frag + b, SAFE, st.sampled_from(FRAGMENTS), SAFE),
    st.text(alphabet="abc", min_size=101, max_size=10_000),  # too long
    st.sampled_from(["", ".", "..", "-x", "_x", ".hidden", "x.", "x.lock", "/etc/passwd", "/tmp/x",
                     "../../../etc/passwd", "a/../../b", "~root", "C:\\x", "x\x00y", "ok\nsecond line"]),
    st.text().filter(lambda s: not VALID_ID.fullmatch(s)),  # arbitrary unicode, NUL, surrogates
)
hostile_reasons = st.one_of(
    st.builds(lambda a, c, b: a + c + b, st.text(alphabet="okwhy", min_size=1, max_size=20),
              st.sampled_from(["\n", "\r", "\x00", "\x1b[31m", "\x7f", "\x85", "\u2028", "\u2029", "\udcff", "\ud800"]),
              st.text(alphabet="okwhy", min_size=1, max_size=20)),  # inside the text, not strippable
    st.text(min_size=501, max_size=10_000).filter(lambda s: len(s.strip()) > 500),
    st.sampled_from(["", " ", "\t", "\n\n"]),
)


def assert_clear(exc: LedgerError) -> str:
    """One short printable line: no raw control char, newline or 10k-char echo reaches stderr."""
    msg = str(exc)
    assert msg and msg.isprintable() and len(msg) <= 300, repr(msg)[:400]
    assert exc.exit_code == 2
    return msg


# ---- the library, many examples ------------------------------------------------------------


@SETTINGS
@given(value=st.one_of(st.from_regex(VALID_ID, fullmatch=True), st.text(max_size=120), hostile_ids))
def test_check_id_accepts_only_names_safe_as_path_and_tag(tmp_path, value):
    try:
        layout.check_id(value, "promoted id")
    except UsageError as exc:
        assert "invalid promoted id" in assert_clear(exc)
        return
    for target in (layout.Target("baseline", value), layout.Target("reference", value, "gold", "ner")):
        full = (tmp_path / target.path).resolve()
        assert full.is_relative_to(tmp_path / layout.EVAL) and full.name == value
        ref = subprocess.run(["git", "check-ref-format", f"refs/tags/{target.tag}"], capture_output=True)
        assert ref.returncode == 0, f"git refuses tag {target.tag!r}"


@SETTINGS
@given(value=hostile_ids)
def test_hostile_promoted_id_is_refused_and_nothing_written(repo, value):
    before = repo.snapshot()
    with pytest.raises(UsageError) as info:
        api.promote(repo.root, "lead1-news", "baseline", value, "a fine reason")
    assert "invalid promoted id" in assert_clear(info.value)
    assert repo.snapshot() == before


@SETTINGS
@given(value=hostile_ids, role=st.sampled_from(["baseline", "reference"]))
def test_hostile_run_id_is_refused_and_nothing_written(repo, value, role):
    before = repo.snapshot()
    with pytest.raises(UsageError) as info:
        api.promote(repo.root, value, role, "fine-id", "a fine reason")
    assert "invalid run id" in assert_clear(info.value)
    assert repo.snapshot() == before


@SETTINGS
@given(reason=hostile_reasons)
def test_hostile_reason_is_refused_and_nothing_written(repo, reason):
    before = repo.snapshot()
    with pytest.raises(UsageError) as info:
        api.promote(repo.root, "lead1-news", "baseline", "fine-id", reason)
    assert "--reason" in assert_clear(info.value)
    assert repo.snapshot() == before


@SETTINGS
@given(role=st.text(max_size=40).filter(lambda s: s not in layout.ROLES),
       quality=st.one_of(st.none(), st.text(max_size=40).filter(lambda s: s not in ("", *layout.QUALITIES))))
def test_hostile_role_or_quality_is_refused_and_nothing_written(repo, role, quality):
    before = repo.snapshot()
    with pytest.raises(UsageError) as info:
        api.promote(repo.root, "lead1-news", role, "fine-id", "a fine reason", quality=quality)
    assert_clear(info.value)
    assert repo.snapshot() == before


@settings(max_examples=200, deadline=None)
@given(reason=st.text(max_size=600))
def test_accepted_reasons_are_one_printable_utf8_line(reason):
    try:
        kept = check_reason(reason)
    except UsageError as exc:
        assert_clear(exc)
        return
    assert kept == kept.strip() and 0 < len(kept) <= 500
    assert "\n" not in kept and "\r" not in kept and len(kept.splitlines()) == 1
    kept.encode("utf-8")  # no lone surrogates: it goes into a commit message and a tag


# ---- the real CLI, a handful --------------------------------------------------------------


def cli(box, *args: str | bytes) -> subprocess.CompletedProcess:
    """Runs ledger with raw argv (bytes allowed: non-UTF-8 arguments)."""
    return subprocess.run([str(BIN / "ledger"), *args], cwd=box.root, env=box.env, capture_output=True)


def assert_refused(proc: subprocess.CompletedProcess, *needles: str) -> str:
    err = proc.stderr.decode("utf-8")
    lines = err.splitlines()
    assert proc.returncode == 2, (proc.returncode, err)
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err and proc.stdout == b""
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


PROMOTE = ["promote", "lead1-news", "--as", "baseline"]


@pytest.mark.parametrize("bad_id", ["../../etc", "/abs/path", "a;touch pwned", "$(touch pwned)", "`touch pwned`",
                                    "two\nlines", "x" * 5000, "Ünïcode", "a|b&c", "x'\"y"])
def test_cli_refuses_hostile_ids(repo, bad_id):
    before = repo.snapshot()
    line = assert_refused(cli(repo, *PROMOTE, "--id", bad_id, "--reason", "r"), "invalid promoted id")
    assert len(line) < 300
    assert repo.snapshot() == before
    assert not (repo.root / "pwned").exists() and not (repo.root.parent / "pwned").exists()


@pytest.mark.parametrize("reason", [b"two\nlines", b"bell\x07", b"esc \x1b[2J clear", b"x" * 10_000,
                                    b"not utf-8 \xff\xfe", b"   ", "line\u2028sep".encode()])
def test_cli_refuses_hostile_reasons(repo, reason):
    before = repo.snapshot()
    assert_refused(cli(repo, *PROMOTE, "--id", "fine-id", "--reason", reason), "--reason")
    assert repo.snapshot() == before


def test_cli_refuses_hostile_run_ids_and_roles(repo):
    before = repo.snapshot()
    assert_refused(cli(repo, "promote", "../runs/lead1-news", "--as", "baseline", "--id", "x", "--reason", "r"),
                   "invalid run id")
    assert_refused(cli(repo, "promote", b"lead1-news\xff", "--as", "baseline", "--id", "x", "--reason", "r"),
                   "invalid run id")
    assert_refused(cli(repo, *PROMOTE[:3], "../baseline", "--id", "x", "--reason", "r"), "--as")
    assert_refused(cli(repo, *PROMOTE[:2], "--as", "reference", "--quality", "platinum", "--id", "x",
                       "--reason", "r"), "--quality")
    assert_refused(cli(repo, "show", "../../etc/passwd"))
    assert repo.snapshot() == before


def test_a_legitimate_unicode_reason_is_kept_verbatim(repo):
    """Hostility checks must not reject honest text: accents, CJK, quotes, shell characters."""
    reason = "résumé 日本語 'quoted' \"double\" ; | & $HOME `x`"
    proc = repo.ledger(*PROMOTE, "--id", "fine-id", "--reason", reason)
    assert proc.returncode == 0, proc.stderr
    shown = repo.ledger_json("show", "fine-id")
    assert shown["reason"] == reason
    assert repo.ledger("verify").returncode == 0
