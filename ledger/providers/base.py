from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from ..errors import UsageError


class Provider(ABC):
    """One model/system under evaluation. Subclasses must be deterministic for a given
    (params, case) so that a promoted run can be reproduced bit for bit."""

    name: str = ""
    version: str = "0"
    task: str = ""
    # param name -> (type, default)
    params_schema: dict[str, tuple[type, Any]] = {}

    def __init__(self, params: dict[str, Any]):
        unknown = set(params) - set(self.params_schema)
        if unknown:
            raise UsageError(f"provider {self.name!r}: unknown params {sorted(unknown)}")
        self.params: dict[str, Any] = {}
        for key, (typ, default) in self.params_schema.items():
            value = params.get(key, default)
            if not isinstance(value, typ) or isinstance(value, bool) and typ is not bool:
                raise UsageError(f"provider {self.name!r}: param {key!r} must be {typ.__name__}")
            self.params[key] = value
        self.validate()

    def validate(self) -> None:
        """Extra checks on self.params; raise UsageError."""

    @abstractmethod
    def predict(self, case: dict[str, Any]) -> dict[str, Any]:
        """Returns the output fields for one case (without case_id)."""

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "task": self.task, "params": self.params}
