"""The `ledger` console script. `ledger list` and `ledger log`, the read-only commands scripts and
CI call over thousands of promotions, are answered without loading typer: its import and
argument parsing (which pulls in pydantic) cost ~0.15 s, more than reading 1,000 promotion
tags. Anything these two fast paths do not recognise exactly -- --help, a bad or repeated
--limit, an unknown option -- goes to the typer CLI (ledger.cli), which owns every message."""

from __future__ import annotations

import os
import re
import sys

_FLAGS = {"list": {"--all", "--json"}, "log": {"--json"}}


def fast_args(argv: list[str]) -> dict | None:
    """The options of `list`/`log` when argv is nothing but known flags (and one --limit N for
    log); None means: let typer handle it."""
    if not argv or argv[0] not in _FLAGS:
        return None
    cmd, rest, opts = argv[0], argv[1:], {"cmd": argv[0], "limit": None}
    while rest:
        arg = rest.pop(0)
        if arg in _FLAGS[cmd]:
            opts[arg] = True
            continue
        if cmd != "log" or opts["limit"] is not None:
            return None
        if arg == "--limit" and rest:
            arg = "--limit=" + rest.pop(0)
        m = re.fullmatch(r"--limit=([0-9]{1,9})", arg)
        if not m:
            return None
        opts["limit"] = int(m.group(1))
    return opts


def main() -> None:
    if sys.argv[1:2] == ["stage"]:  # what DVC stages run: no typer, one plain line on error
        from .run.stage import main as stage_main

        sys.exit(stage_main(sys.argv[2:]))
    opts = fast_args(sys.argv[1:])
    if opts is None:
        from .cli import main as typer_main

        return typer_main()
    import gc

    # A short-lived process that builds ~10 container objects per promotion and frees none:
    # the cyclic collector would only walk them all, again and again (3-5 ms of a 10,000-row
    # list or log). Reference counting still frees everything that is not a cycle.
    gc.disable()
    from . import api, output

    try:
        root = api.root_of()
        as_json = bool(opts.get("--json"))
        if opts["cmd"] == "list":
            items = api.list_items(root, bool(opts.get("--all")), whole=as_json)
            output.emit(items, as_json, "" if as_json else  # the table only when it is printed
                        output.empty_hint(output.list_text(items), 0 if items else api.untagged_dirs(root)))
        else:
            entries = api.log(root, opts["limit"])
            output.emit(entries, as_json, "" if as_json else
                        output.empty_hint(output.log_text(entries), 0 if entries else api.untagged_dirs(root)))
    except Exception as exc:  # one line, as in ledger.cli
        output.fail_for(exc)
    # Everything is written (emit flushed stdout) and nothing is left to run: leave without the
    # interpreter tearing down the ~10 objects a row holds one by one (~5 ms of a 10,000-row
    # list or log). The process ends here, as sys.exit would end it.
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
