"""Real git, real DVC, real ssh signing, in temp repos with an isolated HOME.

`project` builds a fresh ledger repository from this checkout's files; `repo` is one with
both sample runs already materialized by `dvc repro` and committed (copied from a
session-wide template, so each test starts from identical state)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.scaffold import copy_project

PROJECT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
EMAIL = "alice@example.com"


def _isolate(env_root: Path) -> dict[str, str]:
    home = env_root / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GIT_", "DVC_", "LEDGER_", "PYTEST_"))}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), GIT_CONFIG_NOSYSTEM="1",
               DVC_SITE_CACHE_DIR=str(env_root / "dvc-site"), DVC_NO_ANALYTICS="1",
               PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", NO_COLOR="1", COLUMNS="200")
    return env


@pytest.fixture(scope="session")
def session_env(tmp_path_factory) -> dict[str, str]:
    return _isolate(tmp_path_factory.mktemp("env"))


@pytest.fixture(autouse=True)
def isolated_env(session_env, monkeypatch):
    for key in list(os.environ):
        if key.startswith(("GIT_", "DVC_", "LEDGER_")):
            monkeypatch.delenv(key, raising=False)
    for key, value in session_env.items():
        monkeypatch.setenv(key, value)
    yield


class Sandbox:
    """A ledger repository on disk, driven through real commands."""

    def __init__(self, root: Path, env: dict[str, str]):
        self.root = root
        self.base_env = dict(env)  # its own copy: a test that changes it never reaches the session's

    @property
    def env(self) -> dict[str, str]:
        """The isolated environment, naming the running test to subprocesses (so coverage can
        attribute their lines to it: make mutation-map)."""
        current = {k: v for k, v in os.environ.items() if k == "PYTEST_CURRENT_TEST"}
        return {**self.base_env, **current}

    def sh(self, *cmd: str, check: bool = True, env: dict | None = None, cwd: Path | None = None
           ) -> subprocess.CompletedProcess:
        proc = subprocess.run(cmd, cwd=cwd or self.root, env={**self.env, **(env or {})},
                              capture_output=True, text=True)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc

    def git(self, *args: str, check: bool = True) -> str:
        return self.sh("git", *args, check=check).stdout.strip()

    def dvc(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.sh(str(BIN / "dvc"), *args, check=check)

    def ledger(self, *args: str, check: bool = False, env: dict | None = None) -> subprocess.CompletedProcess:
        return self.sh(str(BIN / "ledger"), *args, check=check, env=env)

    def ledger_json(self, *args: str):
        proc = self.ledger(*args, "--json")
        assert proc.stdout.strip(), proc.stderr
        return json.loads(proc.stdout)

    def read_json(self, rel: str):
        return json.loads((self.root / rel).read_text())

    def commit_all(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")

    def keygen(self, name: str) -> Path:
        key = self.root.parent / f"{name}.key"
        if not key.exists():
            self.sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key))
        return key

    def use_key(self, key: Path, email: str = EMAIL) -> None:
        self.git("config", "gpg.format", "ssh")
        self.git("config", "user.signingkey", str(key))
        self.git("config", "user.email", email)

    def allow(self, key: Path, email: str = EMAIL) -> None:
        line = f'{email} namespaces="git" {key.with_suffix(".key.pub").read_text().strip()}\n'
        path = self.root / ".ledger" / "allowed_signers"
        path.write_text(path.read_text() + line if path.exists() else line)

    def snapshot(self) -> dict:
        """Everything a promotion could touch: refs, index, HEAD, and every working-tree file."""
        files = {}
        for p in sorted(self.root.rglob("*")):
            rel = p.relative_to(self.root).as_posix()
            if rel.startswith((".git/", ".dvc/tmp", ".dvc/cache")) or p.is_dir():
                continue
            files[rel] = p.read_bytes()
        return {"head": self.git("rev-parse", "HEAD"), "refs": self.git("for-each-ref"),
                "index": self.git("ls-files", "-s"), "status": self.git("status", "--porcelain"),
                "files": files}


def declare_run(box: Sandbox, run_id: str, config: str, dataset: str = "data/eval/datasets/news_sum.jsonl",
                code: str | None = None) -> None:
    """Declares a run as `ledger run add` lays it out (its stage directory), without the checks
    `ledger run add` makes: tests also declare runs that the stage itself must refuse."""
    from ledger.run import pipeline

    pipeline.write(box.root, run_id, {"config": config, "dataset": dataset, "code": code or config})


def stage(run_id: str) -> str:
    """The DVC address of a run's stage (`dvc repro --force <it>`, `Running stage '<it>'`)."""
    from ledger.run.pipeline import Stage

    return Stage(run_id, legacy=False).address


def make_project(root: Path, env: dict[str, str]) -> Sandbox:
    copy_project(root, PROJECT)
    box = Sandbox(root, env)
    box.git("init", "-q", "-b", "main")
    box.git("config", "user.name", "Alice")
    box.git("config", "user.email", EMAIL)
    box.ledger("init", "--samples", check=True)
    key = box.keygen("alice")
    box.use_key(key)
    box.allow(key)
    box.commit_all("init ledger repo")
    return box


def user_repo(root: Path, env: dict[str, str]) -> Sandbox:
    """A brand-new git repository of a user, outside this checkout, with nothing of ledger in it:
    their identity and ssh signing key configured, as a user would have them."""
    root.mkdir(parents=True)
    box = Sandbox(root, env)
    box.git("init", "-q", "-b", "main")
    box.git("config", "user.name", "Alice")
    box.use_key(box.keygen("alice"))
    return box


@pytest.fixture
def fresh(tmp_path, session_env) -> Sandbox:
    """An empty user repository (see user_repo): `ledger init` has not run."""
    return user_repo(tmp_path / "user", session_env)


@pytest.fixture(scope="session")
def template(tmp_path_factory, session_env) -> Sandbox:
    root = tmp_path_factory.mktemp("template") / "repo"
    # make mutation builds the template once per worker, from unmutated code, and names it here:
    # each mutant then starts from the same repository instead of rebuilding it (never in make test)
    cache = os.environ.get("LEDGER_TEST_TEMPLATE")
    if cache and Path(cache, "repo").is_dir():
        shutil.copytree(Path(cache, "repo"), root, symlinks=True)
        for key in Path(cache).glob("*.key*"):
            shutil.copy2(key, root.parent / key.name)
        box = Sandbox(root, session_env)
        box.git("config", "user.signingkey", str(root.parent / "alice.key"))
        return box
    box = make_project(root, session_env)
    box.dvc("repro", "-q")
    box.commit_all("runs: materialize lead1-news, lead2-news")
    if cache:
        shutil.copytree(root, Path(cache, "repo"), symlinks=True)
        for key in root.parent.glob("*.key*"):
            shutil.copy2(key, Path(cache, key.name))
    return box


@pytest.fixture
def project(tmp_path, session_env) -> Sandbox:
    """A fresh, initialised ledger repo with no runs materialized yet."""
    return make_project(tmp_path / "repo", session_env)


def copy_repo(src: Sandbox, parent: Path, env: dict[str, str]) -> Sandbox:
    """A copy of `src` (a repository and, beside it, its keys) in `parent`, signing with the copied key."""
    dst = parent / "repo"
    shutil.copytree(src.root, dst, symlinks=True)
    for key in src.root.parent.glob("*.key*"):
        shutil.copy2(key, parent / key.name)
    box = Sandbox(dst, env)
    box.git("config", "user.signingkey", str(parent / "alice.key"))
    return box


@pytest.fixture
def repo(tmp_path, template, session_env) -> Sandbox:
    """Both sample runs materialized and committed; alice's ssh key signs and is allowed."""
    return copy_repo(template, tmp_path, session_env)


@pytest.fixture(scope="session")
def promoted_template(tmp_path_factory, template, session_env) -> Sandbox:
    """The template with lead1-news promoted to baseline b1 by `ledger promote`, once per worker."""
    box = copy_repo(template, tmp_path_factory.mktemp("promoted"), session_env)
    proc = box.ledger("promote", "lead1-news", "--as", "baseline", "--id", "b1", "--reason", "first")
    assert proc.returncode == 0, proc.stderr
    return box


@pytest.fixture
def promoted(tmp_path, promoted_template, session_env) -> Sandbox:
    """`repo` with lead1-news promoted to baseline b1 (signed by alice): a copy of one real
    promotion (the same commit, tags and files in every test that asks for it)."""
    return copy_repo(promoted_template, tmp_path, session_env)


# `python -c` running the ledger command from whatever `ledger` package is first on PYTHONPATH
LEDGER_MAIN = "import sys; sys.argv = ['ledger', *sys.argv[1:]]; from ledger.main import main; main()"


def ledger_copy(pkg: Path) -> dict[str, str]:
    """A copy of this checkout's ledger package in `pkg`/ledger; returns the environment that
    makes `python -c LEDGER_MAIN` run it."""
    shutil.copytree(Path(__file__).resolve().parents[1] / "ledger", pkg / "ledger",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return {"PYTHONPATH": str(pkg)}


def bytecode_only_ledger(box: Sandbox, tmp_path: Path) -> dict[str, str]:
    """A copy of the ledger package with its .py files compiled beside them and removed (as some
    installers ship it); returns the environment that makes `python -c LEDGER_MAIN` run it,
    after checking that it does."""
    pkg = tmp_path / "bytecode-only"
    env = ledger_copy(pkg)
    subprocess.run([sys.executable, "-m", "compileall", "-q", "-b", str(pkg / "ledger")], check=True)
    for source in (pkg / "ledger").rglob("*.py"):
        source.unlink()
    where = box.sh(sys.executable, "-c", "import ledger.main as m; print(m.__file__)", env=env).stdout
    assert where.strip() == str(pkg / "ledger" / "main.pyc"), where
    return env
