"""Promotion transactions: a process lock, a journal in .git/ledger/, and idempotent
roll-back that works after a raise *and* after a kill (recovered by the next command)."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from .errors import InjectedFault, LedgerError, Refused, UsageError
from .gitops import Git

FAULT_ENV = "LEDGER_FAULT_AT"
SLOW_ENV = "LEDGER_SLOW_AT"
TIMEOUT_ENV = "LEDGER_LOCK_TIMEOUT"


def lock_timeout(default: float = 60.0) -> float:
    """Seconds to wait for another promotion's lock: LEDGER_LOCK_TIMEOUT, else `default`."""
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise UsageError(f"{TIMEOUT_ENV} must be a number of seconds (0 or more), not {raw!r}")
    return value


def state_dir(root: Path, create: bool = True) -> Path:
    common = Git(root).run("rev-parse", "--git-common-dir")
    path = (root / common / "ledger").resolve()
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def no_live_promotion(root: Path, timeout: float | None = None) -> Iterator[None]:
    """For read-only commands: wait while a promotion holds the lock (a shared flock on the
    existing lock file, opened read-only), and create nothing (a read-only .git works)."""
    wait = lock_timeout() if timeout is None else timeout
    path = state_dir(root, create=False) / "promote.lock"
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # no promotion ever ran here (or .git is unreadable): nothing to wait for
        yield
        return
    try:
        _flock(fd, fcntl.LOCK_SH, wait, f"a ledger promotion holds {path}")
        yield
    finally:
        os.close(fd)


def _flock(fd: int, mode: int, timeout: float, holder: str) -> None:
    """Take the flock `mode` on `fd`, polling until `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise Refused(f"{holder} (waited {timeout:g}s; {TIMEOUT_ENV} sets how long)") from None
            time.sleep(0.05)


def pending(root: Path) -> str | None:
    """The interrupted promotion a journal describes, for read-only commands to report."""
    journal = state_dir(root, create=False) / "txn" / "journal.json"
    if not journal.is_file():
        return None
    try:
        run_id = json.loads(journal.read_text()).get("run_id")
    except (OSError, ValueError, AttributeError):
        run_id = None
    return (f"an interrupted promotion of {run_id!r} is pending (journal {journal}): "
            "run `ledger recover` to finish or undo it")


def checkpoint(step: str) -> None:
    """Test hooks: LEDGER_FAULT_AT=<step> raises here; <step>:kill exits the process hard.
    LEDGER_SLOW_AT=<step>:<seconds> sleeps here (holding the lock: makes overlaps real)."""
    slow_step, _, seconds = os.environ.get(SLOW_ENV, "").partition(":")
    if slow_step == step:
        time.sleep(float(seconds or 1))
    want = os.environ.get(FAULT_ENV, "")
    if not want:
        return
    name, _, mode = want.partition(":")
    if name == step:
        if mode == "kill":
            os._exit(137)
        raise InjectedFault(f"injected fault at step {step!r}")


@contextmanager
def locked(root: Path, timeout: float | None = None) -> Iterator[None]:
    """Serialises promotions in one repository (flock: released by the kernel if we die)."""
    wait = lock_timeout() if timeout is None else timeout
    path = state_dir(root) / "promote.lock"
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        _flock(fd, fcntl.LOCK_EX, wait, f"another ledger promotion holds {path}")
        yield
    finally:
        os.close(fd)


class Journal:
    """What a promotion has done so far, on disk, so that any failure can be undone."""

    def __init__(self, root: Path):
        self.root = root
        self.dir = state_dir(root) / "txn"
        self.file = self.dir / "journal.json"
        self.data: dict[str, Any] = {}

    def begin(self, **data: Any) -> None:
        if self.dir.exists():
            shutil.rmtree(self.dir)
        (self.dir / "backup").mkdir(parents=True)
        self.data = dict(data, steps=[])
        self._save()

    def backup(self, rel: str) -> None:
        src = self.root / rel
        dst = self.dir / "backup" / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.exists():
            shutil.copy2(src, dst)
        self.data.setdefault("backups", {})[rel] = src.exists()
        self._save()

    def step(self, name: str) -> None:
        self.data["steps"].append(name)
        self._save()
        checkpoint(name)

    def _save(self) -> None:
        tmp = self.file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1))
        tmp.replace(self.file)

    def load(self) -> bool:
        if not self.file.is_file():
            return False
        self.data = json.loads(self.file.read_text())
        return True

    def end(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def rollback(self) -> None:
        """Restores the exact previous state. Idempotent: safe to run on a half-done journal."""
        d, git = self.data, Git(self.root)
        for name in (d.get("gto_tag"), d.get("tag")):
            if name and git.tag_exists(name):
                git.delete_tag(name)
        head = git.head()
        new_head = d.get("new_head") or self._unrecorded_commit(git, head)
        if new_head and head == new_head and d.get("old_head"):
            git.reset_branch(d["old_head"], d.get("touched", []))
        elif d.get("touched"):
            git.unstage(*d["touched"])
        if d.get("dest"):
            shutil.rmtree(self.root / d["dest"], ignore_errors=True)
            if d.get("touched"):
                git.unstage(d["dest"])
        for rel, existed in (d.get("backups") or {}).items():
            saved = self.dir / "backup" / rel
            if existed:  # a run's stage directory may be gone as a whole
                (self.root / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(saved, self.root / rel)
            elif (self.root / rel).exists():
                (self.root / rel).unlink()
        aside, run_path = d.get("aside"), d.get("run_path")
        if aside and run_path and Path(aside).exists() and not (self.root / run_path).exists():
            os.replace(aside, self.root / run_path)
        self.end()

    def _unrecorded_commit(self, git: Git, head: str | None) -> str | None:
        """A crash right after `git commit` and before the journal named the new HEAD: HEAD is
        then our promotion commit, directly on top of old_head."""
        d = self.data
        if not head or not d.get("old_head") or head == d["old_head"] or "run_removed" not in d.get("steps", []):
            return None
        if git.parents(head) == [d["old_head"]] and \
                git.commit_message(head).startswith(f"promote: {d.get('run_id')} -> "):
            return head
        return None

    def check_not_moved_on(self) -> None:
        """Recovery may only touch the state the journal describes: HEAD still the commit before
        the promotion, or the promotion commit itself. Once the user committed on top (or moved
        the branch), undoing would delete their work: refuse, changing nothing."""
        d, git = self.data, Git(self.root)
        head = git.head()
        ours = d.get("new_head") or self._unrecorded_commit(git, head)
        if head not in (d.get("old_head"), ours):
            raise Refused(f"an interrupted promotion of {d.get('run_id')!r} was journaled at "
                          f"{str(d.get('old_head'))[:12]}, but HEAD has moved on to {str(head)[:12]}: nothing was "
                          f"changed; inspect the repository, then `ledger recover --discard` drops the journal "
                          f"({self.file})")

    def finish_or_rollback(self) -> str:
        """After a crash: a promotion whose tag exists is complete; anything less is undone."""
        self.check_not_moved_on()
        d, git = self.data, Git(self.root)
        tagged = git.tag_exists(d["tag"]) and (not d.get("gto_tag") or git.tag_exists(d["gto_tag"]))
        if "tagged" in d.get("steps", []) and tagged and git.head() == d.get("new_head"):
            if d.get("push") and "git_pushed" not in d["steps"]:
                from . import remote  # `promote --push` killed before its push was recorded: ask origin

                if not remote.pushed(self.root, d):
                    self.rollback()
                    return "rolled back (it had not reached the remote)"
            aside = d.get("aside")
            if aside:
                shutil.rmtree(aside, ignore_errors=True)
            self.end()
            return "completed"
        self.rollback()
        return "rolled back"


def recover(root: Path, discard: bool = False) -> str | None:
    """Called (under the lock) before a promotion and by `ledger recover`, never by a read-only
    command: finishes or undoes an interrupted promotion. `discard` drops the journal and
    changes nothing else. Returns what it did, or None."""
    journal = Journal(root)
    if not journal.load():
        return None
    if discard:
        journal.end()
        return f"interrupted promotion of {journal.data.get('run_id')!r}: journal discarded, nothing else changed"
    try:
        return f"interrupted promotion of {journal.data.get('run_id')!r} {journal.finish_or_rollback()}"
    except OSError as exc:
        raise LedgerError(f"could not recover interrupted promotion: {exc} (the journal is kept: "
                          "fix the cause and run `ledger recover` again)") from None
