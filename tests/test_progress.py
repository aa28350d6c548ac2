"""Progress bars: rendered on stderr only when the CLI runs on a terminal without --json;
library calls and pipes stay silent."""

from __future__ import annotations

import fcntl
import io
import json
import os
import struct
import subprocess
import termios
import threading

import pytest

from ledger import progress
from ledger.run import fingerprint
from ledger.hashing import file_digest

from conftest import BIN

RUN1 = "lead1-news"


@pytest.fixture
def render():
    """Progress enabled into a buffer for the test, disabled afterwards."""
    buf = io.StringIO()
    progress.enable(True, buf)
    yield buf
    progress.enable(False)


def test_task_renders_bar_only_when_enabled(render):
    with progress.task("verify", total=4, unit="tags") as tick:
        for _ in range(4):
            tick()
    out = render.getvalue()
    assert "verify [" in out and "100% 4 tags/4 tags" in out and out.endswith("\n")
    assert "#" * 30 in out

    progress.enable(False)
    with progress.task("verify", total=4) as tick:
        tick()
        tick.set_total(9)
    assert render.getvalue() == out  # nothing more written while disabled


def test_set_total_later_and_bytes(render):
    with progress.task("push", unit="B") as tick:
        tick.set_total(3 << 20)
        tick(3 << 20)
    assert "100% 3.0 MB/3.0 MB" in render.getvalue()


def test_small_byte_tasks_are_silent(render):
    with progress.bytes_task("hashing", 1000) as tick:
        tick(1000)
    assert render.getvalue() == ""


def test_should_enable_rule():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    assert progress.should_enable(Tty(), ["verify"])
    assert not progress.should_enable(Tty(), ["verify", "--json"])
    assert not progress.should_enable(Tty(), ["review", "--format", "json"])
    assert not progress.should_enable(io.StringIO(), ["verify"])


def test_fingerprint_check_shows_hashing_bar_for_large_outputs(tmp_path, render):
    big = tmp_path / "predictions.jsonl"
    with open(big, "wb") as fh:
        for i in range(40):
            fh.write(bytes([i % 256]) * (1 << 20))
    fp = fingerprint.seal({"schema": fingerprint.SCHEMA, "outputs": {"predictions.jsonl": file_digest(big)}})
    (tmp_path / "fingerprint.json").write_text(json.dumps(fp))
    assert fingerprint.check(tmp_path)["outputs"]["predictions.jsonl"] == file_digest(big)
    out = render.getvalue()
    assert "hashing outputs [" in out and "100% 40.0 MB/40.0 MB" in out

    # The check still fails on a modified output, bar or not.
    with open(big, "r+b") as fh:
        fh.write(b"X")
    with pytest.raises(Exception, match="does not match its fingerprint digest"):
        fingerprint.check(tmp_path)


def run_with_tty_stderr(box, *args: str) -> tuple[int, str, str]:
    """Runs ledger with stderr on a pseudo-terminal and stdout on a pipe."""
    master, slave = os.openpty()
    # a real terminal has a size; tqdm (DVC's transfer bars) draws nothing at 0 columns
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    proc = subprocess.Popen([str(BIN / "ledger"), *args], cwd=box.root, env=box.env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    chunks: list[bytes] = []

    def pump():
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: the terminal's other end closed
                break
            if not data:
                break
            chunks.append(data)

    reader = threading.Thread(target=pump)
    reader.start()
    stdout = proc.stdout.read().decode()
    code = proc.wait(timeout=120)
    reader.join(timeout=10)
    os.close(master)
    return code, stdout, b"".join(chunks).decode(errors="replace")


def test_cli_bar_on_terminal_silent_otherwise(repo):
    for run, pid in ((RUN1, "b1"), ("lead2-news", "b2")):
        proc = repo.ledger("promote", run, "--as", "baseline", "--id", pid, "--reason", "ok")
        assert proc.returncode == 0, proc.stderr

    code, stdout, tty = run_with_tty_stderr(repo, "verify")
    assert code == 0, stdout + tty
    assert "2 promoted dir(s) checked: all OK" in stdout
    assert "verify [" in tty and "100% 2 tags/2 tags" in tty and "\r" in tty
    assert "verify [" not in stdout  # the bar never pollutes stdout

    code, stdout, tty = run_with_tty_stderr(repo, "verify", "--json")
    assert code == 0 and json.loads(stdout)["ok"] is True
    assert tty == ""

    proc = repo.ledger("verify")  # stderr is a pipe: no bar
    assert proc.returncode == 0 and proc.stderr == ""
    assert "all OK" in proc.stdout
