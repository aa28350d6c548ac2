"""Loading a user's code named as `pkg.module:attr` (providers, scorers), and the provenance of
that code: the sha256 of its source when it lives in the repository, the distribution and
version when it comes from an installed package."""

from __future__ import annotations

import importlib
import re
import sys
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

from .errors import UsageError
from .hashing import file_digest, json_sha256
from .layout import brief

_SPEC = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def check_spec(spec: Any, what: str) -> str:
    if not isinstance(spec, str) or not _SPEC.fullmatch(spec):
        raise UsageError(f"{what}: entrypoint {brief(spec)} must look like 'package.module:callable'")
    return spec


def _import(root: Path, module: str, what: str) -> ModuleType:
    top = str(root)
    if top not in sys.path:
        sys.path.insert(0, top)  # the user's repository first: their code, not a namesake
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and (module == exc.name or module.startswith(exc.name + ".")):
            raise UsageError(f"{what}: module {module!r} not found (neither in the repository nor installed)") from None
        raise UsageError(f"{what}: importing {module} failed: ModuleNotFoundError: {exc}") from None
    except Exception as exc:  # the user's module raised while importing: one line, not a traceback
        raise UsageError(f"{what}: importing {module} failed: {exc.__class__.__name__}: {exc}") from None


def load(root: Path, spec: str, what: str) -> tuple[Any, dict[str, Any]]:
    """(the object `spec` names, its source provenance)."""
    check_spec(spec, what)
    module_name, attr = spec.split(":")
    module = _import(root, module_name, what)
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise UsageError(f"{what}: {module_name} has no attribute {attr!r}") from None
    if not callable(obj):
        raise UsageError(f"{what}: {spec} is not callable")
    return obj, source_of(root, module)


def source_of(root: Path, module: ModuleType) -> dict[str, Any]:
    """In the repository: every .py file of the module's top-level package (or the module file)
    with its sha256 and one digest over them. Installed: distribution name and version."""
    file = getattr(module, "__file__", None)
    top = module.__name__.split(".")[0]
    if file:
        path = Path(file).resolve()
        base = root.resolve()
        if path.is_relative_to(base):
            top_mod = sys.modules.get(top)
            top_file = Path(getattr(top_mod, "__file__", None) or path).resolve()
            files = sorted(top_file.parent.rglob("*.py")) if top_file.name == "__init__.py" else [path]
            digests = {f.relative_to(base).as_posix(): file_digest(f) for f in files
                       if "__pycache__" not in f.parts}
            return {"module": module.__name__, "files": digests, "source_sha256": json_sha256(digests)}
    dists = metadata.packages_distributions().get(top) or []
    if dists:
        return {"module": module.__name__, "package": dists[0], "version": metadata.version(dists[0])}
    return {"module": module.__name__, "package": None}


def repo_paths(source: dict[str, Any]) -> list[str]:
    """Repository files a source record names (to check they are DVC dependencies)."""
    return sorted(source.get("files") or {})
