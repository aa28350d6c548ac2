"""The promotion policy, `.ledger/policy.yaml`: who may promote what, and how many distinct
signers a promotion needs. Read from the same protected revision as allowed_signers (HEAD,
`--signers-from`, or a pull request's base), never from the change under review.

    rules:                          # tried in order; the first that matches decides
      - role: reference
        quality: gold               # references only: silver | gold | "*"
        task: "*"                   # a task name or "*"
        signers: [ann@example.com]  # principals of .ledger/allowed_signers, or "*" for any
        approvals: 2                # distinct verified signers, the promoter included (default 1)
      - role: "*"
        signers: ["*"]

A promotion that no rule matches is refused. Without the file, any allowed signer may promote
anything (one signature)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import UsageError
from ..gitops import Git

PATH = ".ledger/policy.yaml"
_FIELDS = {"role", "quality", "task", "signers", "approvals"}
_ROLES = {"baseline", "reference", "*"}
_QUALITIES = {"silver", "gold", "*"}
MAX_APPROVALS = 10


@dataclass(frozen=True)
class Rule:
    index: int
    role: str
    quality: str
    task: str
    signers: tuple[str, ...]
    approvals: int

    def matches(self, record: dict[str, Any]) -> bool:
        return (self.role in ("*", record.get("role"))
                and self.quality in ("*", record.get("quality") or "")
                and self.task in ("*", record.get("task") or ""))

    def allows(self, principal: str | None) -> bool:
        return bool(principal) and ("*" in self.signers or str(principal).lower() in self.signers)

    def describe(self) -> str:
        what = self.role if self.role != "*" else "any role"
        if self.quality != "*":
            what = f"{self.quality} {what}"
        if self.task != "*":
            what += f" of task {self.task}"
        who = "any allowed signer" if "*" in self.signers else ", ".join(self.signers)
        return f"rule {self.index + 1} ({what}: {who}" + (f"; {self.approvals} signers" if self.approvals > 1 else "") + ")"


@dataclass(frozen=True)
class Policy:
    rev: str
    rules: tuple[Rule, ...]

    def rule_for(self, record: dict[str, Any]) -> Rule | None:
        return next((r for r in self.rules if r.matches(record)), None)

    def refusal(self, record: dict[str, Any], principal: str | None) -> str | None:
        """Why `principal` may not promote `record` (None when the policy allows it)."""
        rule = self.rule_for(record)
        if rule is None:
            return f"{PATH} has no rule for a {_kind(record)} promotion"
        if not rule.allows(principal):
            return f"{PATH} {rule.describe()} does not allow {principal or 'an unverified signer'} to promote this"
        return None


def _kind(record: dict[str, Any]) -> str:
    parts = [record.get("quality") or "", str(record.get("role") or "?")]
    task = record.get("task")
    return " ".join(p for p in parts if p) + (f" ({task})" if task else "")


def load(git: Git, rev: str | None) -> Policy | None:
    """The policy committed at `rev`, or None when it has none. A file that is not a valid policy
    is a UsageError naming the revision and the first problem: an unreadable policy never means
    'no policy'."""
    if rev is None:
        return None
    raw = git.show_file(rev, PATH)
    if raw is None:
        return None
    where = f"{PATH} at {rev[:12]}"
    try:
        import yaml

        from ..yamledit import load as yaml_load

        data = yaml_load(raw.decode("utf-8"))
    except (UnicodeDecodeError, RecursionError) as exc:
        raise UsageError(f"{where} is not readable ({exc.__class__.__name__})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise UsageError(f"{where} is not valid YAML" + (f" (line {mark.line + 1})" if mark else "")) from None
    if not isinstance(data, dict) or set(data) != {"rules"} or not isinstance(data["rules"], list) or not data["rules"]:
        raise UsageError(f"{where} must be a mapping with one key, rules: a non-empty list")
    return Policy(rev, tuple(_rule(where, i, r) for i, r in enumerate(data["rules"])))


def _rule(where: str, i: int, raw: Any) -> Rule:
    at = f"{where}: rule {i + 1}"
    if not isinstance(raw, dict):
        raise UsageError(f"{at} is not a mapping")
    unknown = sorted(str(k) for k in set(raw) - _FIELDS)
    if unknown:
        raise UsageError(f"{at} has an unknown field {unknown[0]!r} (known: {', '.join(sorted(_FIELDS))})")
    role, quality, task = raw.get("role", "*"), raw.get("quality", "*"), raw.get("task", "*")
    if role not in _ROLES:
        raise UsageError(f"{at}: role must be baseline, reference or \"*\", not {role!r}")
    if quality not in _QUALITIES or (quality != "*" and role == "baseline"):
        raise UsageError(f"{at}: quality must be silver, gold or \"*\" (references only), not {quality!r}")
    if not isinstance(task, str) or not task:
        raise UsageError(f"{at}: task must be a task name or \"*\"")
    signers = raw.get("signers")
    if not isinstance(signers, list) or not signers or not all(isinstance(s, str) and s.strip() for s in signers):
        raise UsageError(f"{at}: signers must be a non-empty list of principals (emails) or \"*\"")
    approvals = raw.get("approvals", 1)
    if isinstance(approvals, bool) or not isinstance(approvals, int) or not 1 <= approvals <= MAX_APPROVALS:
        raise UsageError(f"{at}: approvals must be a whole number from 1 to {MAX_APPROVALS}")
    named = [s.strip().lower() for s in signers]
    if approvals > 1 and "*" not in named and len(set(named)) < approvals:
        raise UsageError(f"{at}: needs {approvals} distinct signers but names only {len(set(named))}")
    return Rule(i, role, quality, task, tuple(named), approvals)
