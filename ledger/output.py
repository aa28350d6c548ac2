"""What the CLI prints: JSON, the one-line error, and the `list`/`log` tables. No typer here, so
the fast entry point (ledger.main) can print exactly what the typer commands print."""

from __future__ import annotations

import json
import os
import sys

TYPE_CHECKING = False  # annotations only: importing typing costs `ledger list`/`log` ~1.3 ms
if TYPE_CHECKING:
    from typing import Any, Optional


# what json.dumps(r, sort_keys=True, default=str) builds anew for every record of a list
_RECORD = json.JSONEncoder(sort_keys=True, default=str)


def to_json(data: Any) -> str:
    """Objects indented; a list as a JSON array with one compact record per line: still one JSON
    document, greppable, and ~3x faster for 10,000 records (`indent` disables json's C encoder)."""
    if isinstance(data, list):
        return "[\n" + ",\n".join(map(_RECORD.encode, data)) + "\n]" if data else "[]"
    return json.dumps(data, indent=2, sort_keys=True, default=str)


# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional overrides/isolates:
# what could move a terminal's cursor, recolour it, or reorder what a reader sees.
_UNSAFE = {c: f"\\x{c:02x}" for c in [*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0)]}
_UNSAFE.update({c: f"\\u{c:04x}" for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]})


def printable(text: str) -> str:
    """Human output as text: tag records, reasons and file contents are anyone's to write, so
    every control character in them is shown escaped, never sent to the terminal."""
    return text.translate(_UNSAFE)


def emit(data: Any, as_json: bool, text: str) -> None:
    # a plain write: click's echo regex-scans all output for ANSI codes when stdout is no terminal
    try:
        sys.stdout.write((to_json(data) if as_json else printable(text)) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # `ledger log | head`: stop quietly, as git does (128 + SIGPIPE)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(141)


def fail(message: str, code: int) -> None:
    """One line on stderr (red on a terminal), then exit with `code`."""
    line = printable(f"error: {' '.join(message.split())}")
    sys.stderr.write((f"\x1b[31m{line}\x1b[0m" if sys.stderr.isatty() else line) + "\n")
    sys.exit(code)


def fail_for(exc: Exception) -> None:
    """The one line for an error that reached the CLI: a LedgerError with its own exit code,
    anything else as an internal error (exit 3; re-raised with LEDGER_DEBUG set)."""
    from .errors import LedgerError

    if isinstance(exc, LedgerError):
        fail(str(exc), exc.exit_code)
    if os.environ.get("LEDGER_DEBUG"):
        raise exc
    fail(f"internal error: {exc.__class__.__name__}: {exc}", 3)


def gate_suffix(g: Optional[dict]) -> str:
    """`list --all`: a gated run shows its latest gate result; an ungated one shows nothing (JSON: "not gated")."""
    if not g or g.get("status") == "not gated":
        return ""
    if g["status"] == "unreadable":
        return f"  gate: unreadable scorecard {g.get('path')}"
    text = "passed" if g["status"] == "passed" else "FAILED (" + ", ".join(g.get("failed") or ["nothing checked"]) + ")"
    against = f"vs {g['baseline_id']}" if g.get("baseline_id") else "without a baseline"
    return (f"  gate {text} at {g.get('tier')} {against}"
            + (f"  ({g['skipped']} skipped: not checked)" if g.get("skipped") else "")
            + (f"  (OVERRIDE of measured {', '.join(g['overrides'])})" if g.get("overrides") else "")
            + ("  (stale: run re-executed since)" if g.get("stale") else ""))


def list_text(items: list[dict]) -> str:
    """One row per promotion and run, in aligned columns. list/log read the tags and check no
    signature: a tag that carries one says "signed (unverified)"; `ledger verify` (or show) is
    what proves it."""
    roles, idents = [], []  # each row's first two columns, for the widths; one pass, no repeated lookups
    for p in items:
        role = p.get("role")
        if role == "run":
            roles.append("run")
            idents.append(str(p["run_id"]))
        else:
            quality = p.get("quality")
            roles.append(f"{role}/{quality}" if quality else str(role))
            idents.append(str(p.get("alias") if role == "alias" else p.get("promoted_id")))
    rw = max(10, max(map(len, roles), default=0))
    iw = max(28, max(map(len, idents), default=0))
    rows: list[str] = []
    add = rows.append
    for p, role, ident in zip(items, roles, idents):
        kind = p.get("role")
        if kind == "alias":
            add(f"{'alias':<{rw}} {str(p['alias']):<{iw}} " + (f"INVALID ({p['invalid']})" if p.get("invalid") else
                f"-> {p['holder']}  rollback {p.get('rollback') or 'none'}  tier {p['tier']}"
                + ("  signed (unverified)" if p.get("signed") else "  UNSIGNED")))
        elif kind == "run":
            add(f"{role:<{rw}} {ident:<{iw}} {p['path']}"
                + ("" if p.get("materialized") else "  (not materialized)")
                + (f"  ({p['unreadable']})" if p.get("unreadable") else "") + gate_suffix(p.get("gate")))
        else:  # a promotion: thousands of these
            add(f"{role.ljust(rw)} {ident.ljust(iw)} {p.get('path', '?')}  from {p.get('run_id', '?')} at "
                f"{p.get('promoted_at', '?')}{'  signed (unverified)' if p.get('signed') else '  UNSIGNED'}"
                f"{'  INVALID RECORD' if p.get('invalid') else ''}")
    return "\n".join(rows) if rows else "no promotions yet"


def empty_hint(text: str, untagged: int) -> str:
    """"no promotions yet" -- unless HEAD holds promoted directories and the clone no tags."""
    if text != "no promotions yet" or not untagged:
        return text
    return (f"no promotion tags in this clone, but HEAD holds {untagged} promoted director"
            f"{'y' if untagged == 1 else 'ies'}: `git fetch --tags` (the audit trail is the tags)")


def log_text(entries: list[dict]) -> str:
    rows = []
    for e in entries:
        role = (e["role"] or "?") + (f"/{e['quality']}" if e.get("quality") else "")
        rows.append(f"{e.get('promoted_at') or '?':<25} {role:<17} {e['id']:<28} run {e.get('run') or '?'}  "
                    f"by {e.get('promoted_by') or '?'}  {(e.get('commit') or '')[:12]} "
                    f"{'signed (unverified)' if e.get('signed') else 'UNSIGNED'}"
                    + ("  INVALID RECORD" if e.get("invalid") else f"  \"{e.get('reason') or ''}\""))
    return "\n".join(rows) if rows else "no promotions yet"
