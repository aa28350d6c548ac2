"""Shared helpers for the benchmarks: isolated environment, a real ledger repository
(git + DVC + ssh signing), timing, and bulk creation of synthetic promotions."""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any

from ledger.scaffold import copy_project

PROJECT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # this checkout's venv: dvc and gto
_USER: list[Path] = []
EMAIL = "alice@example.com"
EPOCH = 1_700_000_000


def user_bin() -> Path:
    """The bin directory of a venv holding ledger as `pip install` gives it to a user: a wheel of
    this checkout (bytecode compiled at install, no editable-install finder imported at every
    Python start), its dependencies read from this venv through a .pth line. Made once per
    process. The editable install's finder costs every Python start ~8 ms here (`python -c pass`
    16 ms instead of 8 ms), which would inflate the floor that list/log are compared with."""
    if _USER:
        return _USER[0]
    venv = Path(tempfile.mkdtemp(prefix="ledger-user-venv-"))
    atexit.register(shutil.rmtree, venv, True)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    wheels, src = venv / "wheel", venv / "src"  # built from a copy: setuptools writes build/ beside the sources
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(PROJECT / name, src / name)
    shutil.copytree(PROJECT / "ledger", src / "ledger", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                    str(wheels), str(src)], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                    "--no-deps", str(next(wheels.glob("ledger-*.whl")))], check=True, stdout=subprocess.DEVNULL)
    site = Path(subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "_ledger_bench_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _USER.append(venv / "bin")
    return _USER[0]


def isolated_env(work: Path) -> dict[str, str]:
    home = work / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GIT_", "DVC_", "LEDGER_")) and k != "PYTHONDONTWRITEBYTECODE"}
    # ledger as a user has it (user_bin), first on PATH: what DVC stages run too
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), GIT_CONFIG_NOSYSTEM="1",
               DVC_SITE_CACHE_DIR=str(work / "dvc-site"), DVC_NO_ANALYTICS="1",
               PATH=os.pathsep.join([str(user_bin()), str(BIN), os.environ.get("PATH", "")]), NO_COLOR="1")
    return env


class Box:
    def __init__(self, root: Path, env: dict[str, str]):
        self.root, self.env = root, env

    def sh(self, *cmd: str, input: str | bytes | None = None, check: bool = True,
           text: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        proc = subprocess.run(cmd, cwd=self.root, env={**self.env, **(env or {})}, input=input,
                              capture_output=True, text=text)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc

    def git(self, *args: str, **kw) -> str:
        return self.sh("git", *args, **kw).stdout.strip()

    def ledger(self, *args: str) -> subprocess.CompletedProcess:
        return self.sh(str(user_bin() / "ledger"), *args)

    def dvc(self, *args: str) -> subprocess.CompletedProcess:
        return self.sh(str(BIN / "dvc"), *args)

    def commit_all(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")

    @property
    def key(self) -> Path:
        return self.root.parent / "alice.key"


def make_repo(work: Path, name: str = "repo") -> Box:
    """A fresh ledger repository made from this checkout's files, with alice's ssh key
    configured for signing and allowed in .ledger/allowed_signers."""
    env = isolated_env(work)
    root = work / name
    copy_project(root, PROJECT)
    box = Box(root, env)
    box.git("init", "-q", "-b", "main")
    for k, v in (("user.name", "Alice"), ("user.email", EMAIL), ("gpg.format", "ssh"),
                 ("user.signingkey", str(box.key))):
        box.git("config", k, v)
    box.ledger("init", "--samples")
    if not box.key.exists():
        box.sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "alice", "-f", str(box.key))
    pub = box.key.with_suffix(".key.pub").read_text().strip()
    (root / ".ledger" / "allowed_signers").write_text(f'{EMAIL} namespaces="git" {pub}\n')
    box.commit_all("init ledger repo")
    return box


def timings(fn, repeat: int = 5, warmup: int = 1, between=None) -> list[float]:
    """Wall times of `repeat` calls of `fn()` in seconds, after `warmup` untimed calls;
    `between()` (untimed) runs after each call."""
    times = []
    for i in range(warmup + repeat):
        t = time.perf_counter()
        fn()
        if i >= warmup:
            times.append(time.perf_counter() - t)
        if between is not None:
            between()
    return times


def timeit(fn, repeat: int = 5, warmup: int = 1) -> float:
    """Median wall time of `fn()` in seconds."""
    return statistics.median(timings(fn, repeat, warmup))


def spread(times: list[float]) -> str:
    return f"median of {len(times)}, range {min(times):.3f}-{max(times):.3f} s"


def time_cmd(box: Box, *cmd: str, repeat: int = 5, warmup: int = 1) -> float:
    return timeit(lambda: box.sh(*cmd), repeat, warmup)


def tag_record(template: dict[str, Any], pid: str, i: int, files: dict[str, str] | None) -> dict[str, Any]:
    """A promotion record in the real schema (records.promotion_record), derived from a real one."""
    rec = dict(template)
    rec.update(promoted_id=pid, role="baseline", quality=None, path=f"data/eval/baselines/{pid}",
               run_id=f"run-{i:05d}", reason=f"synthetic promotion {i}",
               promoted_at=time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(EPOCH + i)))
    if files is not None:
        rec["files"] = files
    return rec


def synth_promotions(box: Box, n: int, template: dict[str, Any], template_dir: Path | None,
                     sign_every: int) -> dict[str, int]:
    """Creates `n` promotions in bulk with `git fast-import` (one commit + one annotated tag
    each, tag message = a promotion record in the real schema). Every `sign_every`-th tag is
    ssh-signed with `ssh-keygen -Y sign` (exactly what `git tag -s` does with gpg.format ssh).
    With `template_dir` (a real promoted dir) each commit adds a full promoted dir, so
    `ledger verify` has real trees, digests and DVC pointers to check; without it the commits
    touch one bookkeeping file (enough for list/log, which read only the tags)."""
    from ledger.hashing import bytes_sha256
    from ledger.records import tag_message

    git_dir = Path(box.git("rev-parse", "--absolute-git-dir"))
    marks = git_dir.parent.parent / f"marks-{n}.txt"
    files_tpl = {}
    if template_dir is not None:
        files_tpl = {p.name: p.read_bytes() for p in sorted(template_dir.iterdir())
                     if p.is_file() and p.name != "predictions.jsonl"}
    head = box.git("rev-parse", "HEAD")
    stream: list[bytes] = []
    records: list[tuple[str, dict[str, Any]]] = []
    for i in range(n):
        pid = f"syn-{i:05d}"
        msg = f"promote: run-{i:05d} -> baseline/{pid}\n\nsynthetic\n\nLedger-Run: run-{i:05d}\n".encode()
        cmds = [f"commit refs/heads/main\nmark :{i + 1}\n"
                f"committer Alice <{EMAIL}> {EPOCH + i} +0000\ndata {len(msg)}\n".encode() + msg]
        if i == 0:
            cmds.append(f"from {head}\n".encode())
        digests = None
        if files_tpl:
            digests = {}
            for name, body in files_tpl.items():
                if name == "README.md":
                    body = body + f"\n{pid}\n".encode()
                digests[name] = bytes_sha256(body)
                cmds.append(f"M 100644 inline data/eval/baselines/{pid}/{name}\ndata {len(body)}\n".encode()
                            + body + b"\n")
        else:
            body = pid.encode()
            cmds.append(f"M 100644 inline .bench-last\ndata {len(body)}\n".encode() + body + b"\n")
        stream.append(b"".join(cmds) + b"\n")
        records.append((pid, tag_record(template, pid, i, digests)))
    box.sh("git", "fast-import", "--quiet", f"--export-marks={marks}", input=b"".join(stream), text=False)
    commits = {}
    for line in marks.read_text().splitlines():
        mark, sha = line.split()
        commits[int(mark[1:]) - 1] = sha

    # Each promotion's two tags, as `ledger promote` makes them: the promotion tag, then its GTO
    # tag (`<id>#baseline#1`), bound by its record to the promotion tag's object id.
    from ledger.audit import gto

    def objects(names: list[str], messages: list[bytes]) -> tuple[list[bytes], list[bytes]]:
        """(tag object bodies, fast-import commands); every `sign_every`-th one signed."""
        heads = [f"object {commits[i]}\ntype commit\ntag {name}\ntagger Alice <{EMAIL}> {EPOCH + i} +0000\n\n"
                 .encode() for i, name in enumerate(names)]
        todo = [i for i in range(len(names)) if sign_every and i % sign_every == 0]
        sigs = sign_all(box, [heads[i] + messages[i] for i in todo])
        bodies = list(messages)
        for i, sig in zip(todo, sigs):
            bodies[i] = messages[i] + sig
        cmds = [f"tag {name}\nfrom {commits[i]}\ntagger Alice <{EMAIL}> {EPOCH + i} +0000\ndata {len(bodies[i])}\n"
                .encode() + bodies[i] + b"\n" for i, name in enumerate(names)]
        return [heads[i] + bodies[i] for i in range(len(names))], cmds

    names = [f"promote/baseline/{pid}" for pid, _ in records]
    for pid, rec in records:
        rec["gto_tag"] = f"{pid}#baseline#1"
    bodies, cmds = objects(names, [tag_message(rec).encode() for _, rec in records])
    oids = [hashlib.sha1(b"tag %d\0" % len(body) + body).hexdigest() for body in bodies]
    _, gto_cmds = objects([rec["gto_tag"] for _, rec in records],
                          [gto.message(rec, name, oid).encode() for (_, rec), name, oid in zip(records, names, oids)])
    box.sh("git", "fast-import", "--quiet", input=b"".join(cmds + gto_cmds), text=False)
    box.git("reset", "-q", "--hard", "main")
    # A commit-graph an earlier `ledger promote` wrote covers none of these commits (made one by
    # one, promotions leave git gc to rewrite it every few hundred): the repository is left as
    # one git never gc'd, with none.
    info = box.root / ".git" / "objects" / "info"
    (info / "commit-graph").unlink(missing_ok=True)
    shutil.rmtree(info / "commit-graphs", ignore_errors=True)
    return {"tags": n, "signed": len(range(0, n, sign_every)) if sign_every else 0}


def sign_all(box: Box, payloads: list[bytes], batch: int = 500) -> list[bytes]:
    """ssh signatures (namespace git) of `payloads`, as `git tag -s` makes them: one ssh-keygen
    per `batch` files instead of one per tag."""
    out: list[bytes] = []
    with tempfile.TemporaryDirectory() as tmp:
        for start in range(0, len(payloads), batch):
            files = []
            for k, payload in enumerate(payloads[start:start + batch]):
                files.append(Path(tmp, f"{start + k}"))
                files[-1].write_bytes(payload)
            box.sh("ssh-keygen", "-q", "-Y", "sign", "-n", "git", "-f", str(box.key), *map(str, files))
            out += [Path(f"{f}.sig").read_bytes() for f in files]
    return out


def check_out_predictions(box: Box, template_dir: Path) -> None:
    """Every synthetic promoted dir gets the template's predictions.jsonl, as after `dvc
    checkout`: a working repository, where verify hashes them."""
    pred = (template_dir / "predictions.jsonl").read_bytes()
    for d in (box.root / "data/eval/baselines").iterdir():
        if not (d / "predictions.jsonl").exists():
            (d / "predictions.jsonl").write_bytes(pred)


def real_promotion(box: Box, run_id: str = "lead1-news", pid: str = "real-1") -> tuple[dict[str, Any], Path]:
    """Materializes and promotes one real run (`dvc repro` + `ledger promote`); returns its
    signed record and promoted dir, the templates for synthetic promotions."""
    box.dvc("repro", "-q")
    box.commit_all("runs")
    out = json.loads(box.ledger("promote", run_id, "--as", "baseline", "--id", pid, "--reason",
                                "benchmark template", "--json").stdout)
    for k in ("commit", "tag"):
        out.pop(k, None)
    return out, box.root / "data/eval/baselines" / pid
