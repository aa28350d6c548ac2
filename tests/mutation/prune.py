"""Mark the mutants a run need not test, with the reason, before `cosmic-ray exec` (run.py).

Two kinds, both listed as SKIPPED in the report rather than silently dropped:
- a mutant inside a type annotation: every security module starts with
  `from __future__ import annotations`, so an annotation is never evaluated and the mutant is
  equivalent by construction (`str | None` -> `str - None` changes nothing);
- all but one replacement of the same arithmetic/bitwise operator at the same place: cosmic-ray
  makes ten (`+` -> `-`, `*`, `/`, `//`, `%`, `**`, `<<`, `>>`, `&`, `|`, `^`); one tells whether
  a test depends on the operator there, and the nine others cost a test run each.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from cosmic_ray.work_db import use_db
from cosmic_ray.work_item import WorkerOutcome, WorkResult

BINARY = re.compile(r"core/ReplaceBinaryOperator_([A-Za-z]+)_([A-Za-z]+)$")


def annotation_spans(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    spans = []
    for node in ast.walk(ast.parse(source)):
        notes = []
        if isinstance(node, ast.arg) and node.annotation is not None:
            notes.append(node.annotation)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns is not None:
            notes.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            notes.append(node.annotation)
        spans += [((n.lineno, n.col_offset), (n.end_lineno, n.end_col_offset)) for n in notes]
    return spans


def prune(db_path: Path, root: Path) -> dict[str, int]:
    counts = {"annotation": 0, "operator sibling": 0}
    with use_db(str(db_path)) as db:
        done = {job_id for job_id, _ in db.results}
        seen: set[tuple] = set()
        spans_of: dict[Path, list] = {}
        for item in sorted(db.work_items, key=lambda w: w.job_id):
            if item.job_id in done or len(item.mutations) != 1:
                continue
            m = item.mutations[0]
            if m.module_path not in spans_of:
                source = (root / m.module_path).read_text()
                assert "from __future__ import annotations" in source, m.module_path
                spans_of[m.module_path] = annotation_spans(source)
            start = tuple(m.start_pos)
            # cosmic-ray counts lines from 1 and columns from 0, as ast does
            if any(a <= start < b for a, b in spans_of[m.module_path]):
                reason, kind = "equivalent: inside a type annotation, which is never evaluated", "annotation"
            else:
                op = BINARY.match(m.operator_name)
                key = (str(m.module_path), start, op and op.group(1))
                if not op or key not in seen:
                    seen.add(key)
                    continue
                reason, kind = f"another replacement of {op.group(1)} at {start} is tested", "operator sibling"
            db.set_result(item.job_id, WorkResult(worker_outcome=WorkerOutcome.SKIPPED, output=reason))
            counts[kind] += 1
    return counts
