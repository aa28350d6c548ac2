"""`provider: python`: the user's own code, `entrypoint: "pkg.module:callable"`.

- a function `(case: dict, params: dict) -> dict`, called once per case, or
- a class, constructed as `Class(**params)`, whose `predict(cases: list[dict]) -> list[dict]`
  answers a batch in order (load a model once, predict many).

The module is imported from the user's repository (its root is first on sys.path) or from an
installed package; packaged providers can also register a name in the `ledger.providers`
entry-point group and be selected as `provider: <name>`."""

from __future__ import annotations

import inspect
from importlib import metadata
from typing import Any

from .. import entrypoints
from ..errors import LedgerError, UsageError
from .base import Provider, check_output

GROUP = "ledger.providers"


class PythonProvider(Provider):
    kind = "python"
    options = {"entrypoint": (str, ...), "version": ((str, int, float), None)}

    def validate(self) -> None:
        spec = self.opts["entrypoint"]
        self.obj, self.source = entrypoints.load(self.root, spec, f"{self.where}: provider")
        self.who = f"provider {spec}"
        explicit = self.opts.get("version")
        self.version = str(explicit) if explicit is not None else (
            self.source.get("version") or (self.source.get("source_sha256") or "unknown")[:12])

    def identity(self) -> str:
        return self.opts["entrypoint"]

    def predict_all(self, cases: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        ordered = sorted(cases.items())
        if inspect.isclass(self.obj):
            model = _call(self.who, "constructing it with params", self.obj, **self.params)
            predict = getattr(model, "predict", None)
            if not callable(predict):
                raise UsageError(f"{self.who}: a provider class needs a predict(cases) method")
            outs = _call(self.who, "predict", predict, [dict(c) for _, c in ordered])
            if not isinstance(outs, (list, tuple)) or len(outs) != len(ordered):
                raise UsageError(f"{self.who}: predict(cases) must return a list of {len(ordered)} outputs, "
                                 f"got {type(outs).__name__}" + (f" of {len(outs)}" if isinstance(outs, (list, tuple)) else ""))
            return {cid: check_output(o, cid, self.who) for (cid, _), o in zip(ordered, outs)}
        return {cid: check_output(_call(self.who, f"case {cid!r}", self.obj, dict(case), dict(self.params)),
                                  cid, self.who) for cid, case in ordered}

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "source": self.source}

    def repo_files(self) -> list[str]:
        return entrypoints.repo_paths(self.source)


def _call(who: str, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except LedgerError:
        raise
    except Exception as exc:  # the user's code failed: one line naming it, no run written
        raise UsageError(f"{who} failed on {what}: {exc.__class__.__name__}: {exc}") from None


def entry_point_spec(name: str) -> str | None:
    """The `module:attr` a packaged provider registered under `name`, or None."""
    for ep in metadata.entry_points(group=GROUP):
        if ep.name == name:
            return ep.value.replace(" ", "")
    return None


def registered() -> list[str]:
    return sorted(ep.name for ep in metadata.entry_points(group=GROUP))
