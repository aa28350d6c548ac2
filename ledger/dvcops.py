"""The only module that talks to DVC. `dvc.api` where it suffices; `dvc.repo.Repo`
(internal but stable in practice) for the state db, cache paths and checkout."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
from pathlib import Path
from typing import Any

import yaml

from . import progress
from .errors import LedgerError, NotFound, Refused
from .hashing import file_digest

LOCKFILE = "dvc.lock"
SMALL_FILE = 32 << 20  # bytes: below this, hashing costs less than asking DVC's state db


def _repo(root: Path):
    from dvc.repo import Repo

    return Repo(str(root))


@contextlib.contextmanager
def _terminal_output():
    """Around DVC operations that draw tqdm bars (checkout, add, push, lock waits) on a
    terminal stderr whatever its log level: stdout hints are always dropped, and the bars kept
    only where ledger shows progress (a terminal without --json); otherwise DVC is silent."""
    import logging

    # DVC's hints for its own CLI users ("Initialized DVC repository.", "To track the changes
    # with git, run: ...") go through loggers bound to the real streams: silence those loggers.
    hints = [logging.getLogger(name) for name in ("dvc.repo.init", "dvc.repo.scm_context", "dvc.dvcfile")]
    levels = [h.level for h in hints]
    for h in hints:
        h.setLevel(logging.WARNING)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            if progress.enabled():
                yield
            else:
                with contextlib.redirect_stderr(io.StringIO()):
                    yield
    finally:
        for h, level in zip(hints, levels):
            h.setLevel(level)


def tracked_md5(root: Path, path: str) -> str | None:
    """The md5 DVC recorded for a file: from `<path>.dvc` (dvc add), else from the dvc.lock
    entry of the stage that outputs it (a prepared dataset, a trained model); or None."""
    dvcfile = root / f"{path}.dvc"
    if dvcfile.is_file():
        try:
            data = yaml.safe_load(dvcfile.read_text()) or {}
        except yaml.YAMLError:
            return None
        outs = data.get("outs") if isinstance(data, dict) else None
        return outs[0].get("md5") if isinstance(outs, list) and outs and isinstance(outs[0], dict) else None
    try:
        stages = (read_lock(root).get("stages") or {}).values()
    except LedgerError:
        return None
    for entry in stages:
        for out in (entry or {}).get("outs") or []:
            if isinstance(out, dict) and out.get("path") == path:
                return out.get("md5")
    return None


def workspace_md5(root: Path, paths: list[str]) -> dict[str, str]:
    """DVC md5 of workspace files, from DVC's state db when DVC already hashed them
    (a stage's deps always are, before it runs); only unknown files are hashed.
    DVC 3 md5 of a file is the plain md5 of its bytes, so the fallback agrees.
    Files below SMALL_FILE are hashed directly: that is faster than importing and opening
    DVC (~0.45 s, the bulk of a run's provenance capture), and gives the same md5."""
    result: dict[str, str] = {}
    if not (root / ".dvc").is_dir():
        raise NotFound(f"not a DVC repository: {root} (no .dvc directory)")
    large = []
    for rel in paths:
        full = root / rel
        if not full.is_file():
            raise NotFound(f"dataset not found: {rel}")
        if full.stat().st_size < SMALL_FILE:
            result[rel] = file_digest(full, "md5")
        else:
            large.append(rel)
    if not large:
        return result
    try:
        repo = _repo(root)
    except Exception as exc:  # not a DVC repo: nothing to ask
        raise NotFound(f"not a DVC repository: {root} ({exc})") from None
    try:
        for rel in large:
            full = str(root / rel)
            if not os.path.isfile(full):
                raise NotFound(f"dataset not found: {rel}")
            got = repo.state.get(full, repo.fs)
            hash_info = got[1] if got else None
            result[rel] = hash_info.value if hash_info and hash_info.value else file_digest(full, "md5")
    finally:
        repo.close()
    return result


def read_lock(root: Path, lockfile: str = LOCKFILE) -> dict[str, Any]:
    path = root / lockfile
    if not path.is_file():
        return {}
    from .yamledit import load

    try:
        data = load(path.read_text()) or {}
    except (yaml.YAMLError, RecursionError, UnicodeDecodeError) as exc:
        raise LedgerError(f"{lockfile} is not valid YAML: {exc.__class__.__name__}") from None
    if not isinstance(data, dict):
        raise LedgerError(f"{lockfile} is not a DVC lock file (not a mapping)")
    return data


def run_out(root: Path, run_id: str, lockfile: str, stage: str) -> dict[str, Any]:
    """The lock entry of the run's output directory: {path, md5 (.dir), size, nfiles}."""
    stages = read_lock(root, lockfile).get("stages")
    entry = stages.get(stage) if isinstance(stages, dict) else None
    if not isinstance(entry, dict):
        raise Refused(f"run {run_id!r} has no entry in {lockfile}: run `dvc repro` and commit {lockfile} first")
    outs = entry.get("outs") or []
    if not isinstance(outs, list) or len(outs) != 1 or not isinstance(outs[0], dict) \
            or not str(outs[0].get("md5", "")).endswith(".dir"):
        raise Refused(f"{lockfile} entry for run {run_id!r} does not describe one output directory")
    return outs[0]


def cache_path(root: Path, md5: str) -> Path:
    return root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]


def dir_manifest(root: Path, dir_md5: str) -> dict[str, str]:
    """relpath -> md5 of a cached directory output."""
    path = cache_path(root, dir_md5)
    if not path.is_file():
        raise Refused(f"DVC cache lacks directory object {dir_md5}: run `dvc pull` or `dvc repro`")
    return {e["relpath"]: e["md5"] for e in json.loads(path.read_text())}


def write_pointer(root: Path, dest: str, md5: str, size: int) -> str:
    """Writes `<dest>.dvc` pointing at a cached object; returns its relative path."""
    dvcfile = f"{dest}.dvc"
    body = {"outs": [{"md5": md5, "size": size, "hash": "md5", "path": Path(dest).name}]}
    (root / dvcfile).write_text(yaml.safe_dump(body, sort_keys=False))
    return dvcfile


def place(root: Path, md5: str, dest: Path) -> None:
    """Puts the cached object `md5` at `dest` (replacing what is there): hard-linked when the
    cache type allows it (no copy; DVC keeps cache files read-only), else copied. Promoted
    directories are .dvcignore'd, so this does what `dvc checkout` would, without DVC."""
    import shutil
    import tempfile

    repo = _repo(root)
    try:
        obj = Path(repo.cache.local.oid_to_path(md5))
        types = repo.config["cache"].get("type") or ["copy"]
    finally:
        repo.close()
    if not obj.is_file():
        raise NotFound(f"the DVC cache lacks object {md5}: `ledger pull` fetches it")
    types = [types] if isinstance(types, str) else list(types)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
    os.close(fd)
    os.unlink(tmp)
    try:
        try:
            if "hardlink" not in types:
                raise OSError("hard links are not a configured cache type")
            os.link(obj, tmp)
        except OSError:
            shutil.copyfile(obj, tmp)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _objects(md5s: list[str]) -> list[Any]:
    from dvc_data.hashfile.hash_info import HashInfo

    return [HashInfo("md5", m) for m in sorted(set(md5s))]


def _transfer(root: Path, md5s: list[str], push: bool) -> Any:
    """Moves objects by md5 between the local cache and the default remote (what `dvc push` /
    `dvc pull` do for .dvc pointers, for pointers DVC does not walk); DVC's TransferResult."""
    import logging

    remote = default_remote(root)
    if remote is None:
        raise Refused("no default DVC remote: `ledger init --remote PATH_OR_URL` or `dvc remote add -d NAME URL`")
    missing_log = logging.getLogger("dvc.data_cloud")  # "Some of the cache files do not exist ...": ours to say
    level = missing_log.level
    missing_log.setLevel(logging.ERROR)
    repo = _repo(root)
    try:
        with _terminal_output():
            result = (repo.cloud.push if push else repo.cloud.pull)(_objects(md5s))
    except Exception as exc:
        detail = " ".join(str(exc).split()) or exc.__class__.__name__
        what = "dvc push to remote" if push else "fetching from DVC remote"
        raise LedgerError(f"{what} {remote[0]!r} ({remote[1]}) failed: {detail}") from None
    finally:
        repo.close()
        missing_log.setLevel(level)
    if push and result.failed:
        raise LedgerError(f"dvc push to remote {remote[0]!r} ({remote[1]}) failed for "
                          f"{len(result.failed)} object(s), e.g. {sorted(h.value for h in result.failed)[0]}")
    return result


def push_objects(root: Path, md5s: list[str]) -> int:
    """Pushes cached objects by md5 to the default remote; returns how many were transferred."""
    return len(_transfer(root, md5s, push=True).transferred)


def fetch_objects(root: Path, md5s: list[str]) -> set[str]:
    """Fetches objects by md5 from the default remote into the local cache; returns the md5s
    the remote did not have (or could not send)."""
    return {h.value for h in _transfer(root, md5s, push=False).failed}


def lock_has(root: Path, stage: str) -> bool:
    """Whether the root dvc.lock records the stage."""
    stages = read_lock(root).get("stages")
    return isinstance(stages, dict) and isinstance(stages.get(stage), dict)


def recommit(root: Path, stage: str) -> None:
    """`dvc commit <stage>`: records the stage's current dependency hashes in dvc.lock without
    running it (the `runs` stage after a promotion moved a run directory out of data/eval/runs,
    so that `dvc status` stays clean)."""
    repo = _repo(root)
    try:
        with _terminal_output():
            repo.commit(stage, force=True)
    except Exception as exc:
        raise LedgerError(f"dvc commit {stage} failed: {exc}") from None
    finally:
        repo.close()


def remove_lock_entry(root: Path, stage: str) -> None:
    """Drops the stage (an older project's `materialize@<run_id>`) from the root dvc.lock,
    keeping the rest byte-for-byte in style."""
    from ruamel.yaml import YAML

    from .yamledit import drop_entry

    path = root / LOCKFILE
    edited = drop_entry(path.read_text(), "stages", stage) if path.is_file() else None
    if edited is not None:
        path.write_text(edited)
        return
    ry = YAML()
    ry.preserve_quotes = True
    data = ry.load(path.read_text())
    stages = data.get("stages") or {}
    stages.pop(stage, None)
    with open(path, "w") as fh:
        ry.dump(data, fh)


def init(root: Path) -> None:
    """`dvc init` (if needed) with link-first cache and no analytics."""
    from dvc.repo import Repo

    if not (root / ".dvc").is_dir():
        with _terminal_output():
            Repo.init(str(root))
    repo = _repo(root)
    try:
        with repo.config.edit() as conf:
            conf["cache"]["type"] = ["hardlink", "symlink", "copy"]
            conf["core"]["analytics"] = False
    finally:
        repo.close()


def add(root: Path, paths: list[str]) -> None:
    repo = _repo(root)
    try:
        with _terminal_output():  # also DVC's "To track the changes..." hints on stdout
            repo.add([str(root / p) for p in paths])
    except Exception as exc:
        raise LedgerError(f"dvc add failed: {exc}") from None
    finally:
        repo.close()


def cache_files(root: Path, md5s: list[str]) -> dict[str, Path | None]:
    """cache_file() for many objects, opening DVC once."""
    if not md5s:
        return {}
    try:
        repo = _repo(root)
    except Exception as exc:
        raise NotFound(f"not a DVC repository: {root} ({exc})") from None
    try:
        paths = {m: Path(repo.cache.local.oid_to_path(m)) for m in md5s}
    finally:
        repo.close()
    return {m: (p if p.is_file() else None) for m, p in paths.items()}


def cache_file(root: Path, md5: str) -> Path | None:
    """Path of a file object in the local DVC cache (honours cache.dir), or None when the
    cache does not hold it."""
    try:
        repo = _repo(root)
    except Exception as exc:
        raise NotFound(f"not a DVC repository: {root} ({exc})") from None
    try:
        path = Path(repo.cache.local.oid_to_path(md5))
    finally:
        repo.close()
    return path if path.is_file() else None


# -- remotes (ledger init default remote, ledger promote --push) -------------
_URL = re.compile(r"^\w[\w+.-]*://")


def default_remote(root: Path) -> tuple[str, str] | None:
    """(name, url) of the default DVC remote (`core.remote`, any config level), or None."""
    repo = _repo(root)
    try:
        name = repo.config["core"].get("remote")
        if not name:
            return None
        url = (repo.config["remote"].get(name) or {}).get("url")
    finally:
        repo.close()
    if not url:
        raise Refused(f"DVC default remote {name!r} is not defined: `dvc remote add -d {name} URL`")
    return name, str(url)


def set_default_remote(root: Path, name: str, url: str, base: Path | None = None) -> str:
    """Adds (or repoints) remote `name` in .dvc/config and makes it the default. A local
    path that is relative (to `base`) is stored relative to .dvc/, so clones resolve it the
    same way; an absolute path or a URL is stored as given. Returns the stored location."""
    from dvc.config_schema import RelPath

    value: str = url
    if not _URL.match(url):
        path = Path(os.path.expanduser(url))
        value = str(path) if path.is_absolute() else RelPath(os.path.abspath((base or Path.cwd()) / path))
    repo = _repo(root)
    try:
        with repo.config.edit("repo") as conf:
            conf["remote"][name] = {"url": value}
            conf["core"]["remote"] = name
    except Exception as exc:
        raise LedgerError(f"could not configure DVC remote {name!r}: {exc}") from None
    finally:
        repo.close()
    return str(value)
