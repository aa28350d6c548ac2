"""`ledger approve ID`: a further signer's signed tag on a promotion, for policy rules that
want more than one signer. Refused, writing nothing, unless the promotion verifies in every
other respect, the policy still wants a signer, and this signer counts (allowed by the rule,
not the promoter, not an approver already)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import layout
from .audit import approvals, policy, verify as _verify
from .errors import NotFound, Refused
from .gitops import Git
from .promote import check_signing, check_reason, now


def approve(root: Path, promoted_id: str, reason: str = "") -> dict[str, Any]:
    layout.check_id(promoted_id, "promoted id")
    reason = check_reason(reason) if reason else ""
    git = Git(root)
    findings = [f for f in _verify.verify(root, only=promoted_id, workspace=False) if f.promoted_id == promoted_id]
    if not findings:
        raise NotFound(f"no promotion with id {promoted_id!r} (see `ledger list`)")
    f = findings[0]
    if len(findings) != 1 or f.elsewhere or not f.record or not f.tag:
        raise Refused(f"promotion {promoted_id!r} is not one verifiable promotion in this history (see `ledger verify`)")
    others = approvals.blocking(f)
    if others:
        raise Refused(f"promotion {promoted_id!r} does not verify, refusing to approve it: {others[0]}")
    if not f.missing_approvals:
        raise Refused(f"promotion {promoted_id!r} needs no further signer under {policy.PATH} at HEAD")
    check_signing(git)
    email = (git.config("user.email") or "").strip()
    pol = policy.load(git, git.head())
    rule = pol.rule_for(f.record) if pol else None
    if rule is None or not rule.allows(email):
        raise Refused(f"{policy.PATH} {rule.describe() if rule else ''} does not count {email or '(no user.email)'} "
                      f"as a signer of {promoted_id!r}")
    if email.lower() == (f.signer or "").lower():
        raise Refused(f"you promoted {promoted_id!r}: an approval must come from another signer")
    name = approvals.tag_name(promoted_id, email)
    if git.tag_exists(name):
        raise Refused(f"you already approved {promoted_id!r} (tag {name})")
    if git.run_full("check-ref-format", f"refs/tags/{name}")[0] != 0:
        raise Refused(f"cannot name an approval tag after {email!r}: use a plain email as user.email")
    tag = git.tag_info(f.tag)
    git.create_tag(name, tag.commit, approvals.message(tag, promoted_id, email, reason, now()), sign=True)
    return {"promoted_id": promoted_id, "tag": name, "approved_by": email, "approves": f.tag,
            "still_needed": max(0, f.missing_approvals - 1)}
