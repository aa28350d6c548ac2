"""Where things live in a ledger repository, and what a valid name is."""

from __future__ import annotations

import re
from collections import namedtuple

from .errors import UsageError

EVAL = "data/eval"
RUNS = f"{EVAL}/runs"
# One directory per declared run: its DVC stage (dvc.yaml), its declaration (params.yaml) and
# DVC's dvc.lock. A stage file per run keeps `dvc repro` linear in the number of runs.
PIPELINES = f"{EVAL}/pipelines"
BASELINES = f"{EVAL}/baselines"
REFERENCES = f"{EVAL}/references"
SILVER = f"{REFERENCES}/silver"
GOLD = f"{REFERENCES}/gold"
ENV_LOCK = f"{EVAL}/env.lock.json"
ALLOWED_SIGNERS = ".ledger/allowed_signers"
TAG_PREFIX = "promote/"

# per_case.json: scores.jsonl as DVC plots data (a JSON list, one row per case; DVC reads no JSONL)
PLOTS = "per_case.json"
RUN_FILES = ("predictions.jsonl", "scores.jsonl", PLOTS, "metrics.json", "fingerprint.json", "baseline.json",
             "config.yaml")
# Files whose sha256 the fingerprint records (baseline.json points at the fingerprint, so not it).
FINGERPRINTED = ("predictions.jsonl", "scores.jsonl", PLOTS, "metrics.json", "config.yaml")
# In a promoted dir: DVC-tracked (linked from cache) vs git-tracked (reviewable in a PR).
DVC_TRACKED = ("predictions.jsonl",)
GIT_TRACKED = ("scores.jsonl", PLOTS, "metrics.json", "fingerprint.json", "baseline.json", "config.yaml", "README.md")

_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")
_TASK = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
ROLES = ("baseline", "reference")
QUALITIES = ("silver", "gold")


def brief(value: object, limit: int = 60) -> str:
    """repr() of user input for an error line: escaped (no newline, NUL or control char can
    reach the terminal) and cut to `limit` characters so a 10k-char id stays one short line."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit - 12]}...({len(text)} chars)"


def check_id(value: str, what: str = "id") -> str:
    """Promoted ids and run ids: `[a-z0-9][a-z0-9._-]{0,99}`, no '..', no '.lock' ending
    (git refuses such ref components), so they are safe as a path and as a tag component."""
    if not isinstance(value, str) or not _ID.fullmatch(value) or ".." in value or value.endswith((".lock", ".")):
        raise UsageError(
            f"invalid {what} {brief(value)}: use 1-100 chars of [a-z0-9._-], starting with a letter or digit, "
            "no '..', not ending in '.' or '.lock'"
        )
    return value


def check_run_id(value: str, what: str = "run id") -> str:
    """A run id is a promoted-id-like name that DVC can also take as a foreach key: no '.', which
    DVC reads as nesting (`params: runs.v1.1` looks up runs -> v1 -> 1 and `dvc repro` fails)."""
    check_id(value, what)
    if "." in value:
        raise UsageError(f"invalid {what} {brief(value)}: no '.' in a run id (DVC reads runs.{value} as nested "
                         f"keys); use '-' or '_', e.g. {value.replace('.', '-')!r}")
    return value


def is_run_id(value: str) -> bool:
    try:
        check_run_id(value)
    except UsageError:
        return False
    return True


def check_task(value: str) -> str:
    if not isinstance(value, str) or not _TASK.fullmatch(value):
        raise UsageError(f"invalid task name {brief(value)}: use [a-z0-9_-], starting with a letter or digit")
    return value


class Target(namedtuple("Target", "role promoted_id quality task", defaults=(None, None))):
    """Where a promotion lands: role baseline | reference, its promoted_id, quality silver | gold
    for references, the task gold references are grouped by. Immutable; a named tuple, not a
    dataclass (whose import costs every command ~5 ms), and collections', not typing's."""

    __slots__ = ()

    @property
    def path(self) -> str:
        if self.role == "baseline":
            return f"{BASELINES}/{self.promoted_id}"
        if self.quality == "silver":
            return f"{SILVER}/{self.promoted_id}"
        return f"{GOLD}/{self.task}/{self.promoted_id}"

    @property
    def tag(self) -> str:
        return f"{TAG_PREFIX}{self.role}/{self.promoted_id}"

    @property
    def label(self) -> str:
        if self.role == "baseline":
            return f"baseline/{self.promoted_id}"
        return "reference/" + self.path.removeprefix(REFERENCES + "/")


def run_dir(run_id: str) -> str:
    return f"{RUNS}/{run_id}"


def pipeline_dir(run_id: str) -> str:
    return f"{PIPELINES}/{run_id}"
