"""Environment lockfile: python, platform and the full installed package list.
Never environment variables, paths or secrets."""

from __future__ import annotations

import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from ..hashing import dump_json, json_sha256


def capture() -> dict[str, Any]:
    packages: dict[str, str] = {}
    for dist in metadata.distributions():
        name = (dist.metadata["Name"] or "").strip()
        if name:
            packages[canonicalize_name(name)] = dist.version  # ruamel.yaml == ruamel-yaml == Ruamel_YAML
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": f"{sys.platform}-{platform.machine()}",
        "packages": dict(sorted(packages.items())),
    }


def lock_sha256(lock: dict[str, Any]) -> str:
    return json_sha256({k: lock[k] for k in ("python", "implementation", "platform", "packages") if k in lock})


def write(path: str | Path) -> dict[str, Any]:
    lock = capture()
    lock["lock_sha256"] = lock_sha256(lock)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(dump_json(lock))
    tmp.replace(target)
    return lock
