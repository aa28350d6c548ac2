"""`ledger verify --data`: the DVC cache objects of verified promotions, hashed against the
signed sha256."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..hashing import file_digest


def check(root: Path, findings: list[Any]) -> None:
    """`--data`: the DVC cache object of every verified promotion's predictions, hashed against
    the signed sha256; a promotion whose object is not in the local cache is named as unchecked."""
    from .. import dvcops

    todo = [f for f in findings if f.ok and f.record]
    objects = dvcops.cache_files(root, [f.record["dvc"]["predictions.jsonl"]["md5"] for f in todo])
    for f in todo:
        pred = f.record["dvc"]["predictions.jsonl"]
        obj = objects.get(pred["md5"])
        if obj is None:
            f.notes.append("predictions NOT CHECKED: not in the local DVC cache (`dvc pull`, then verify --data)")
        elif file_digest(obj) != pred["sha256"]:
            f.problems.append(f"the DVC cache object of {f.path}/predictions.jsonl (md5 {pred['md5'][:12]}) does "
                              "not match the signed sha256: replaced in the cache or the remote it came from")
        else:
            f.notes.append("predictions in the DVC cache match the signed sha256")
