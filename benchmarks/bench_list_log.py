"""(a) `ledger list` / `ledger log` over N promotions vs the floor `git for-each-ref refs/tags/promote/`
(packed refs, as after `git gc` or in any clone), and vs what git alone needs to hand over the
records those commands print (`git for-each-ref --format=%(contents) refs/tags/promote/`); side
by side at the first size, GTO (`gto show`) over the same N promotions as GTO tags.

Tags are created in bulk with `git fast-import` (records in the real schema, derived from
one real `ledger promote`); 1 tag in 100 is ssh-signed, the rest are unsigned annotated
tags -- signing does not change what list/log read (one for-each-ref)."""

from __future__ import annotations

import shutil
import statistics
import sys
from pathlib import Path

from common import BIN, make_repo, real_promotion, spread, synth_promotions, time_cmd, timings, user_bin

PY = str(user_bin() / "python")
LEDGER = str(user_bin() / "ledger")


def startup(box) -> dict[str, float]:
    # the floor's python start is the user install's (common.user_bin); the editable install's,
    # for comparison, pays its finder's imports at every start (the 0.028 s floor had it)
    return {"python -c pass": time_cmd(box, PY, "-c", "pass", repeat=7),
            "python -c pass (this checkout's editable install, not used)": time_cmd(box, str(BIN / "python"), "-c", "pass", repeat=7),
            "python -c 'import ledger.cli'": time_cmd(box, PY, "-c", "import ledger.cli", repeat=7)}


def run(work: Path, sizes=(1000, 10000)) -> list[dict]:
    rows = []
    start = None
    for n in sizes:
        box = make_repo(work / f"list-{n}")
        template, _ = real_promotion(box)
        made = synth_promotions(box, n - 1, template, None, sign_every=100)
        if start is None:
            start = startup(box)
            for k, v in start.items():
                rows.append({"bench": "a", "what": k, "seconds": v})
        box.git("pack-refs", "--all")  # as after `git gc`, or in any clone
        floor = time_cmd(box, "git", "for-each-ref", "refs/tags/promote/", repeat=7)  # not the GTO tags
        rows.append({"bench": "a", "what": f"git for-each-ref refs/tags/promote/ ({n} tags, packed, {made['signed'] + 1} signed)",
                     "seconds": floor})
        bodies = time_cmd(box, "git", "for-each-ref", "--format=%(contents)", "refs/tags/promote/", repeat=7)
        rows.append({"bench": "a", "what": f"git for-each-ref --format=%(contents) refs/tags/promote/ ({n})",
                     "seconds": bodies, "note": "git alone handing over every record list/log print"})
        rows_cache = Path(box.env["HOME"]) / ".cache" / "ledger" / "tag-rows"  # what list/log remember
        forget = lambda: shutil.rmtree(rows_cache, ignore_errors=True)  # noqa: E731
        for args in (("list",), ("list", "--json"), ("log",), ("log", "--json")):
            for first in (True, False) if "--json" not in args or args[0] == "log" else (False,):
                if first:
                    forget()
                times = (timings(lambda: box.sh(LEDGER, *args), repeat=5, warmup=0, between=forget) if first
                         else timings(lambda: box.sh(LEDGER, *args), repeat=5))  # its warm-up remembers the rows
                t = statistics.median(times)
                r1 = t / (floor + start["python -c pass"])
                r2 = t / (bodies + start["python -c pass"])
                rows.append({"bench": "a", "what": f"ledger {' '.join(args)} ({n})" + (", first run (no rows remembered)" if first else ""),
                             "seconds": t, "note": spread(times), "ratio": r1, "ratio2": r2,
                             "target": "<= 3x (floor + python start); ratio2: vs (records + python)", "ok": r1 <= 3})
        out = box.ledger("log", "--json").stdout
        assert out.count('"tag": "promote/') == n, "log did not list every promotion"
        if n == sizes[0]:
            rows += gto_side_by_side(box, n)
    return rows


def gto_side_by_side(box, n: int) -> list[dict]:
    """The same N promotions through GTO (each promotion's own GTO tag, `<id>#baseline#1`, as
    ledger promote makes it): `gto show` vs `ledger list` in the same repository."""
    import json

    shown = json.loads(box.sh(str(BIN / "gto"), "show", "--json").stdout)
    assert sum(1 for a in shown.values() if a.get("stage", {}).get("baseline")) == n, "gto show missed promotions"
    gto = time_cmd(box, str(BIN / "gto"), "show", repeat=3)
    ours = time_cmd(box, LEDGER, "list", repeat=5)
    return [{"bench": "a", "what": f"gto show ({n} GTO stage tags, same repository)", "seconds": gto},
            {"bench": "a", "what": f"ledger list ({n} promotions, beside {n} GTO tags)", "seconds": ours,
             "ratio": ours / gto, "target": "ratio = ledger / gto"}]


if __name__ == "__main__":
    import tempfile

    from run import print_table

    with tempfile.TemporaryDirectory(prefix="ledger-bench-") as tmp:
        print_table(run(Path(tmp), tuple(int(x) for x in sys.argv[1:]) or (1000, 10000)))
