"""`ledger pull [ID ...]`: the predictions of verified promotions, into the working tree.

Promoted directories are .dvcignore'd: DVC does not walk them, so 10,000 promotions cost
`dvc status` and `dvc repro` nothing, and `dvc pull` does not fetch them either. This does:
for each promotion that verifies (signature, record, tagged tree), it fetches the object its
signed record names by md5 from the default DVC remote into the cache (when the cache lacks
it), checks the object against the sha256 the record signs, and links it into place. An
object that does not match is never placed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import dvcops, layout
from .errors import LedgerError
from .hashing import file_digest

NAME = "predictions.jsonl"


def _wanted(root: Path, ids: list[str]) -> tuple[list[tuple[str, str, str, str]], list[dict[str, str]]]:
    """(id, path, md5, sha256) of each promotion to pull, and the ones refused (with why)."""
    from .audit.verify import accepted, verify

    for pid in ids:
        layout.check_id(pid, "promoted id")
    named = bool(ids)  # ids given: each must verify (else one error line, nothing placed)
    # One id: verify that promotion only (as `ledger show` does), not all of history.
    findings = verify(root, workspace=False, only=ids[0] if len(set(ids)) == 1 else None)
    if not named:
        ids = sorted({f.promoted_id for f in findings if not f.elsewhere and f.path})
    todo, refused = [], []
    for pid in dict.fromkeys(ids):
        try:
            found = accepted(findings, pid)
        except LedgerError as exc:
            if named:
                raise
            refused.append({"id": pid, "why": str(exc)})
            continue
        signed = ((found.record or {}).get("dvc") or {}).get(NAME) or {}
        todo.append((pid, str(found.path), str(signed.get("md5")), str(signed.get("sha256"))))
    return todo, refused


def pull(root: Path, ids: list[str]) -> dict[str, Any]:
    from .audit.promoted import real_dir

    todo, failed = _wanted(root, ids)
    present, need = [], []
    for pid, path, md5, sha in todo:
        dest = real_dir(root, path) / NAME
        if dest.is_file() and file_digest(dest) == sha:
            present.append(pid)
        else:
            need.append((pid, path, md5, sha, dest))
    cached = dvcops.cache_files(root, [md5 for _, _, md5, _, _ in need])
    missing = {md5 for md5, obj in cached.items() if obj is None}
    if missing:
        dvcops.fetch_objects(root, sorted(missing))
        cached = dvcops.cache_files(root, [md5 for _, _, md5, _, _ in need])
    pulled = []
    for pid, path, md5, sha, dest in need:
        obj = cached.get(md5)
        if obj is None:
            failed.append({"id": pid, "why": f"the DVC remote does not have {path}/{NAME} (md5 {md5})"})
        elif file_digest(obj) != sha:
            failed.append({"id": pid, "why": f"the object for {path}/{NAME} does not match the sha256 its signed "
                                             "record holds (the DVC cache or remote object was replaced): not placed"})
        else:
            dvcops.place(root, md5, dest)
            pulled.append(pid)
    return {"pulled": pulled, "present": present, "failed": failed, "ok": not failed}
