"""`ledger verify`: every promoted dir is exactly what its signed tag says, and nothing
touched it after its promotion commit."""

from __future__ import annotations

import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .. import layout, progress, records
from . import approvals as _approvals, assignments as _assignments, cache as _cache, data as _data
from . import gto as _gto, policy as _policy, prcheck as _prcheck, promoted as _promoted, sshsig
from ..errors import LedgerError, NotFound
from ..gitops import Git, TagInfo
from ..hashing import bytes_sha256, file_digest

_FEW = 200  # more tags to read in full than this: one listing of every tag instead of naming each
_SSH_GOOD = re.compile(r'^Good "git" signature for (\S+) with', re.M)


@dataclass
class Finding:
    promoted_id: str
    path: str | None
    tag: str | None
    signer: str | None = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    record: dict[str, Any] | None = field(default=None, repr=False)  # the signed record (when parsed)
    commit: str | None = None  # the commit its tag names
    cached: bool = False  # its git-side checks passed before under the same key (cache.py)
    elsewhere: bool = False  # a tag of a branch not merged here: no dir at HEAD, never was, commit not in history
    missing_approvals: int = 0  # signers the policy still wants (`ledger approve`)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.promoted_id, "path": self.path, "tag": self.tag, "ok": self.ok,
                "signer": self.signer, "problems": self.problems, "notes": self.notes,
                "elsewhere": self.elsewhere}


def _tag_id(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def _signature(git: Git, tag: TagInfo, signers: Path | None,
               fast: sshsig.Checker | None = None) -> tuple[str | None, str | None]:
    """(signer principal, problem). An ed25519 signature that checks out in process is
    accepted without git; everything else (and every rejection) is `git verify-tag`'s call."""
    problem = _signature_kind(tag, signers)
    if problem:
        return None, problem
    if fast is not None:
        principal = fast.principal(git.object_bytes(f"refs/tags/{tag.name}"), tag.tagger_email)
        if principal:
            return principal, None
    status, out = git.verify_tag(tag.name, signers)
    match = _SSH_GOOD.search(out)  # only SSH signatures get here
    principal = match.group(1) if match else None
    if status != 0 or not principal:
        last = [ln for ln in out.splitlines() if ln.strip() and not ln.startswith("[GNUPG:]")]
        return None, f"bad or untrusted signature ({last[-1].strip() if last else 'verify-tag failed'})"
    if principal.lower() != tag.tagger_email.strip("<>").lower():
        return principal, f"signed by {principal} but the tagger claims {tag.tagger_email}"
    return principal, None


def _signature_kind(tag: TagInfo, signers: Path | None) -> str | None:
    """What is wrong with a tag's signature before any key is looked at: none, nothing to check
    it against, or not an ssh signature."""
    if not tag.signature.strip():
        return "tag is not signed"
    if signers is None:
        return f"no {layout.ALLOWED_SIGNERS} committed: cannot check signatures"
    if sshsig.MARKER.decode() not in tag.signature:  # OpenPGP, x509: trusted by a keyring, not by the repo
        kind = "OpenPGP" if "BEGIN PGP SIGNATURE" in tag.signature else "non-SSH"
        return (f"{kind} signature: only ssh signatures by keys committed in {layout.ALLOWED_SIGNERS} "
                "are accepted (a keyring on the verifier's machine is not the repository's allow-list)")
    return None


def _check_tree(git: Git, f: Finding, tag: TagInfo, record: dict[str, Any], head: str) -> None:
    path, commit = record["path"], tag.commit
    at_tag = git.ls_tree(commit, path)
    if not at_tag:
        f.problems.append(f"tag points at {commit[:12]}, which does not contain {path} (tag re-pointed?)")
        return
    parents = git.parents(commit)
    if parents and git.object_id(f"{parents[0]}:{path}"):
        f.problems.append(f"tag points at {commit[:12]}, not at the commit that promoted {path} (tag re-pointed?)")
    for name, digest in sorted(record.get("files", {}).items()):
        oid = at_tag.get(name)
        if oid is None or bytes_sha256(git.object_bytes(oid) or b"") != digest:
            f.problems.append(f"{path}/{name} at the tagged commit does not match the signed record")
    pointer = at_tag.get("predictions.jsonl.dvc")
    md5 = record.get("dvc", {}).get("predictions.jsonl", {}).get("md5")
    if pointer is None or md5 is None or f"md5: {md5}" not in (git.object_bytes(pointer) or b"").decode("utf-8", "replace"):
        f.problems.append(f"{path}/predictions.jsonl.dvc does not point at the recorded DVC object")
    if git.object_id(f"{commit}:{path}") != git.object_id(f"{head}:{path}"):
        now = git.ls_tree(head, path)
        changed = sorted(n for n in set(at_tag) | set(now) if at_tag.get(n) != now.get(n))
        later = git.commits_touching(f"{commit}..{head}", path)
        what = "deleted" if not now else f"modified ({', '.join(changed)})"
        f.problems.append(f"{path} was {what} after promotion" + (f" by {later[0][:12]}" if later else ""))


def _check_reach(f: Finding, commit: str, reaches: Callable[[str], bool]) -> None:
    """A promotion commit outside HEAD's history is how squash and rebase merges leave it: the
    evidence is the signed record and the tagged tree, which the dir at HEAD must equal (checked
    by _check_tree), not the identity of the commit that carried it to this branch."""
    if not reaches(commit):
        f.notes.append(f"promotion commit {commit[:12]} is not in this history (merged by squash or rebase): "
                       "the promoted tree here is the tagged one")


def _elsewhere(git: Git, tag: TagInfo, head: str, reaches: Callable[[str], bool]) -> bool:
    """A tag with no promoted dir at HEAD whose commit is not in HEAD's history and whose
    record's path never was in it: a promotion of a branch not merged here (an open pull
    request that pushed its tag). A dir deleted after a squash merge is not elsewhere: its path
    is in the history."""
    if reaches(tag.commit):
        return False
    try:
        path = records.parse_tag(tag).get("path")
    except LedgerError:
        return False  # a malformed tag gets every check, and fails them
    return isinstance(path, str) and bool(path) and not git.ever_touched(head, path)


def _from_cache(f: Finding, tag: TagInfo, signer: str, reaches: Callable[[str], bool]) -> None:
    """A promotion whose every git-side check passed before under the same key (cache.py):
    the same finding, with reachability checked again."""
    f.tag, f.commit, f.signer, f.cached = tag.name, tag.commit, signer, True
    f.record = records.parse_tag(tag)
    _check_reach(f, tag.commit, reaches)


def _workspace(root: Path, f: Finding, record: dict[str, Any], cache: _cache.Verdicts, key: str) -> None:
    base = root / record["path"]
    files = [base / name for name in sorted(record.get("files", {}))] + [base / "predictions.jsonl"]
    notes = cache.workspace(key, files)
    if notes is not None:
        f.notes.extend(notes)
        return
    before, started = len(f.notes), time.time()
    _check_workspace(root, f, record)
    if f.ok:
        cache.workspace_passed(key, files, f.notes[before:], started)


def _check_workspace(root: Path, f: Finding, record: dict[str, Any]) -> None:
    base = root / record["path"]
    for name, digest in sorted(record.get("files", {}).items()):
        p = base / name
        if not p.is_file():
            f.problems.append(f"{record['path']}/{name} is missing from the working tree")
        elif file_digest(p) != digest:
            f.problems.append(f"{record['path']}/{name} in the working tree differs from the signed record")
    pred = base / "predictions.jsonl"
    want = record.get("dvc", {}).get("predictions.jsonl", {}).get("sha256")
    if not pred.is_file():
        f.notes.append("predictions.jsonl not in the working tree (dvc pull / dvc checkout)")
    elif want and file_digest(pred) != want:
        f.problems.append(f"{record['path']}/predictions.jsonl in the working tree differs from the signed record")


def _allowed_signers(git: Git, rev: str) -> bytes | None:
    return git.show_file(rev, layout.ALLOWED_SIGNERS)


def verify(root: Path, rng: str | None = None, signers_rev: str | None = None,
           allow_unsigned: bool = False, workspace: bool = True, only: str | None = None,
           data: bool = False) -> list[Finding]:
    """Every promotion (or `only` that id) against its signed tag, plus a finding for anything
    under the protected roots that is not a promoted directory."""
    git = Git(root)
    head = git.head()
    if head is None:
        raise NotFound("repository has no commits")
    base = None
    if rng:
        if ".." not in rng:
            raise LedgerError(f"--range must look like BASE..HEAD, not {rng!r}")
        base_rev, head_rev = rng.split("..", 1)
        base, head = git.rev_parse(base_rev + "^{commit}"), git.rev_parse((head_rev or "HEAD") + "^{commit}")
        if not base or not head:
            raise NotFound(f"unknown revision in range {rng!r}")
        workspace = False
    if signers_rev and not git.rev_parse(signers_rev + "^{commit}"):
        raise NotFound(f"--signers-from: unknown revision {signers_rev!r} (git fetch it first?)")
    signers_blob = _allowed_signers(git, signers_rev or base or head)
    pol = _policy.load(git, signers_rev or base or head)
    approval_tags = _approvals.by_id(git, only) if pol and any(r.approvals > 1 for r in pol.rules) else {}
    findings: list[Finding] = []
    with tempfile.TemporaryDirectory() as tmp, progress.task("verify", unit="tags") as tick:
        signers = None
        fast = sshsig.Checker(signers_blob, revocation_configured=bool(git.config("gpg.ssh.revocationFile")))
        if signers_blob is not None:
            signers = Path(tmp) / "allowed_signers"
            signers.write_bytes(signers_blob)
        # one id: only the tags that can claim it (any depth under promote/), and reachability
        # by one merge-base instead of listing all history -- O(1) in the number of promotions
        cache = _cache.Verdicts(git, signers_blob, git.config("gpg.ssh.revocationFile"))
        remembered = cache.remembered()
        # every tag body read (a full verify, or --range with nothing remembered: a fresh CI
        # runner): git reads them while the promoted dirs are listed (0.26 s at 10,000)
        pending = git.tags_started("") if only is None and not (rng and remembered) else None
        entries, odd = _promoted.enumerate_at(git, head)
        # --range: a promotion whose dir is the same tree as at BASE and whose commit is not in
        # the range is the base's (a full verify checks it); the range's own get every check
        at_base = {e.path: e.tree for e in _promoted.enumerate_at(git, base)[0]} if base else {}
        # --range: names and objects first, bodies below as needed, when passes are remembered for
        # nearly every dir; else (a fresh CI runner) one listing of every body: 1.2 s -> 0.95 s at 10,000
        light = bool(rng) and remembered > 0 and remembered + _FEW >= len(entries)
        if only is None:  # one listing: the promotion tags, and every tag GTO could read
            every = pending() if pending else git.tags_light("") if light else git.tags("")
            tags = {t.name: t for t in every if t.name.startswith(layout.TAG_PREFIX)}
            claims = _gto.by_artifact(every)
        else:
            tags = {t.name: t for t in _promoted.tags(git, only)}
            claims = {only: _gto.claiming(git, only)}
        signature = lambda t: _signature(git, t, signers, fast)  # noqa: E731
        any_tags = bool(tags) or (only is not None and git.has_refs(f"refs/tags/{layout.TAG_PREFIX}"))
        reaches = (lambda c: git.is_ancestor(c, head)) if only is not None or rng else git.reachable(head).__contains__
        by_id: dict[str, list[TagInfo]] = {}
        for t in tags.values():
            by_id.setdefault(_tag_id(t.name), []).append(t)
        dirs = [(e.path, e.promoted_id) for e in entries if only is None or e.promoted_id == only]
        trees = {e.path: e.tree for e in entries}
        for problem in odd:
            f = Finding(problem.path.rsplit("/", 1)[-1], problem.path, None)
            f.problems.append(problem.what)
            findings.append(f)
        settled = _prcheck.settled(git, base, head, at_base, trees) if base else (lambda path, tag: False)
        dir_ids = {pid for _, pid in dirs}
        keys = {path: _prcheck.key(cache, by_id[pid][0], claims.get(pid, []), path, trees.get(path))
                for path, pid in dirs if len(by_id.get(pid, [])) == 1}  # object ids only: light tags do
        if light:  # what no earlier pass under the same key covers is read in full
            need = _prcheck.needs(dirs, by_id, claims, dir_ids, settled, cache, keys)
            full = {t.name: t for t in (git.tags("") if len(need) > _FEW else
                                        git.tags_matching([f"refs/tags/{n}" for n in sorted(need)]) if need else [])}
            tags = {n: full.get(n, t) for n, t in tags.items()}
            claims = {a: [full.get(t.name, t) for t in ts] for a, ts in claims.items()}
            by_id = {pid: [full.get(t.name, t) for t in ts] for pid, ts in by_id.items()}
        tick.set_total(len(dirs) + sum(len(m) for pid, m in by_id.items() if pid not in dir_ids))
        seen = set()
        for path, pid in dirs:
            seen.add(pid)
            f = Finding(pid, path, None)
            findings.append(f)
            tick()
            mine = by_id.get(pid, [])
            if len(mine) != 1:
                f.problems.append(("no promotion tag" + (" (a fork's merged pull request? `ledger adopt <fork>`)" if any_tags
                                                         else " (this clone has no promote/ tags at all: "
                                                         "`git fetch --tags`)")) if not mine else
                                  f"{len(mine)} tags claim this id: {', '.join(t.name for t in mine)}")
                continue
            tag, gto_tags = mine[0], claims.get(pid, [])
            key = keys[path]
            is_settled = settled(path, tag)
            if is_settled and (signer := cache.signer(key)):  # every check passed under this key: the
                f.tag, f.commit, f.signer, f.cached = tag.name, tag.commit, signer, True  # settled subset too
            elif is_settled:
                _check_tag(git, f, tag, head, signers, fast, allow_unsigned, expect_path=path, settled=True)
                if f.record:
                    _gto.check(f, tag, gto_tags, signature, allow_unsigned, settled=True)
            elif signer := cache.signer(key):
                _from_cache(f, tag, signer, reaches)
            else:
                _check_tag(git, f, tag, head, signers, fast, allow_unsigned, expect_path=path)
                if f.record:
                    _gto.check(f, tag, gto_tags, signature, allow_unsigned)
                if f.ok and f.signer and not f.notes:
                    cache.passed(key, f.signer)
                if f.record:
                    _check_reach(f, tag.commit, reaches)
            if not is_settled and f.ok:
                _approvals.check(pol, f, tag, approval_tags.get(pid, []), signature)
            if workspace and f.ok and f.record:
                _workspace(root, f, f.record, cache, key)
        for pid, mine in sorted(by_id.items()):
            if pid in seen:
                continue
            for t in mine:
                f = Finding(pid, None, t.name)
                findings.append(f)
                tick()
                f.elsewhere = _elsewhere(git, t, head, reaches)
                _check_tag(git, f, t, head, signers, fast, allow_unsigned, expect_path=None,
                           settled=f.elsewhere)
                if f.record:
                    _gto.check(f, t, claims.get(pid, []), signature, allow_unsigned, settled=f.elsewhere)
                if f.record and not f.elsewhere:
                    _check_reach(f, t.commit, reaches)
        if only is None:
            findings += _check_assignments(git, findings, tags, signature)
            promoted_ids = {f.promoted_id for f in findings} | set(by_id)
            findings += [Finding(name, None, name, problems=[why]) for name, why in _gto.orphans(claims, promoted_ids)]
        cache.save(keep_old=only is not None or base is not None)
    if base:
        findings = _in_range(git, base, head, findings, set(at_base))
    if data:
        _data.check(root, findings)
    return findings


def _check_assignments(git: Git, findings: list[Finding], tags: dict[str, TagInfo],
                       signature: Callable[[TagInfo], tuple[str | None, str | None]]) -> list[Finding]:
    """Every deploy/ tag (ledger assign): one finding each, named by the tag (never an id a
    reader could take for a promotion)."""
    good = {f.promoted_id for f in findings if f.ok and f.path and not f.elsewhere}
    return [Finding(name, None, name, signer=signer, problems=problems)
            for name, problems, signer in _assignments.check_all(git, good, tags, signature)]


def _check_tag(git, f, tag, head, signers, fast, allow_unsigned, expect_path, settled=False) -> None:
    """Every check of one promotion tag. `settled` (--range mode, a promotion the range neither
    adds nor changes): only what the tag itself shows -- annotated, a well-formed record naming
    this dir, an ssh signature present; its signature and content are the full verify's."""
    f.tag, f.commit = tag.name, tag.commit
    if tag.objecttype != "tag":
        f.problems.append("lightweight tag: a promotion tag must be annotated and signed")
        return
    try:
        record = records.parse_tag(tag)
    except LedgerError as exc:
        f.problems.append(str(exc))
        return
    f.record = record
    role_dir = layout.Target(record.get("role", ""), f.promoted_id, record.get("quality"), record.get("task"))
    if record.get("promoted_id") != f.promoted_id or tag.name != role_dir.tag or record.get("path") != role_dir.path:
        f.problems.append(f"tag {tag.name} record names {record.get('path')}, which is not where it belongs")
    if expect_path and record.get("path") != expect_path:
        f.problems.append(f"signed record is for {record.get('path')}, not {expect_path}")
    f.path = f.path or record.get("path")
    signer, problem = (None, _signature_kind(tag, signers)) if settled else _signature(git, tag, signers, fast)
    f.signer = signer
    if problem == "tag is not signed" and allow_unsigned:
        f.notes.append("UNSIGNED tag (allowed by --allow-unsigned)")
    elif problem:
        f.problems.append(problem)
    if f.elsewhere:
        f.notes.append(f"promotion commit {tag.commit[:12]} is not in this history and its dir never was: "
                       "a branch not merged here (its signature and content are checked where it is)")
        return
    if settled:
        f.notes.append("unchanged since BASE: its signature and content are checked by a full `ledger verify`")
        return
    _check_tree(git, f, tag, record, head)


def _in_range(git: Git, base: str, head: str, findings: list[Finding], existing: set[str]) -> list[Finding]:
    """PR mode: promotions new in BASE..HEAD, any change to a dir that existed at BASE, and every
    failure at HEAD that a tag or tree shows without checking signatures or content: what slipped
    into the base unverified (an unsigned promotion merged by an earlier PR, a symlink under a
    protected root, an id claimed twice) keeps failing until it is fixed. A bad signature on a
    promotion the range does not touch is the full verify's (the shipped workflow runs both)."""
    kept = []
    for f in findings:
        if not f.ok or (not f.elsewhere and f.path and f.path not in existing and git.tree_id(base, f.path) is None):
            kept.append(f)
    for status, path in git.changed_paths(base, head, layout.BASELINES, layout.REFERENCES):
        parts = path.split("/")  # the promoted dir holding it, if any: one of its ancestors
        owner = next((d for d in ("/".join(parts[:i]) for i in range(1, len(parts))) if d in existing), None)
        if owner:
            f = Finding(owner.rsplit("/", 1)[-1], owner, None)
            f.problems.append(f"{path}: {'modified' if status == 'M' else 'changed'} ({status}) in an existing promoted dir")
            kept.append(f)
    return kept


def verified(root: Path, promoted_id: str, workspace: bool = True, signers_rev: str | None = None) -> Finding:
    """The promotion `promoted_id` as every reader must take it: exactly one promotion tag and
    one promoted directory, signature valid for the committed allowed signers, signed record,
    tagged tree and (with `workspace`) the working-tree files all agreeing. Anything less is
    refused with the first problem; unknown ids are NotFound."""
    return accepted(verify(root, signers_rev=signers_rev, workspace=workspace, only=promoted_id), promoted_id)


def accepted(findings: list[Finding], promoted_id: str) -> Finding:
    """The rule of verified(), over findings already made (e.g. one verify pass for many ids)."""
    from ..errors import Refused

    findings = [f for f in findings if f.promoted_id == promoted_id]
    if not findings:
        raise NotFound(f"no promotion with id {promoted_id!r} (see `ledger list`)")
    bad = [f for f in findings if not f.ok]
    if bad:
        raise Refused(f"promotion {promoted_id!r} does not verify, refusing to use it: {bad[0].problems[0]} "
                      "(see `ledger verify`)")
    if len(findings) == 1 and findings[0].elsewhere:
        raise Refused(f"promotion {promoted_id!r} is not in this branch's history (its tag names "
                      f"{(findings[0].commit or '')[:12]}, on a branch not merged here): merge it first")
    if len(findings) != 1 or findings[0].record is None or not findings[0].path:
        raise Refused(f"promotion {promoted_id!r} does not verify, refusing to use it: "
                      f"{len(findings)} tags or directories claim it (see `ledger verify`)")
    return findings[0]
