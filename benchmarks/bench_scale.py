"""(e) ledger at N signed promotions (default 10,000), a working repository: every promoted dir
has its predictions checked out, so verify hashes them all.

Times, each a median with its range over repeated runs, each result checked:
- full `ledger verify`, cold (LEDGER_VERIFY_CACHE=0: everything checked) and warm (the
  verify cache remembers passes by object ids; the working tree is still stat-checked);
- `ledger show ID` (verifies that one promotion only);
- `ledger verify --range main..pr --signers-from main` for a PR adding ONE promotion, cold (an
  empty cache directory: a fresh CI runner) and warm (after a full verify);
- `ledger log --json --limit 10` and `ledger log --json` vs `git for-each-ref refs/tags/promote/`
  (packed refs; bench (a) times the text output);
- `ledger promote` here vs the same promote in a fresh repository (undone between repeats), and
  the first promote here on its own (it writes the commit-graph the repository lacks)."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

from common import check_out_predictions, BIN, make_repo, real_promotion, spread, synth_promotions, timings, user_bin

LEDGER = str(user_bin() / "ledger")
PROMOTE = ("promote", "lead2-news", "--as", "baseline", "--id", "p-bench", "--reason", "benchmark")


def _verify(box, *args: str, env: dict | None = None, want: int | None = None, cached: int | None = None) -> None:
    proc = box.sh(LEDGER, "verify", "--json", *args, check=False, env=env)
    out = json.loads(proc.stdout)
    assert proc.returncode == 0 and out["ok"], f"verify did not pass: {proc.stdout[:500]}"
    assert want is None or out["checked"] == want, (out["checked"], want)
    assert cached is None or out["cached"] == cached, (out["cached"], cached)


def _undo_promotion(box) -> None:
    box.git("reset", "-q", "--hard", "HEAD~1")
    box.git("tag", "-d", "promote/baseline/p-bench", "p-bench#baseline#1")
    shutil.rmtree(box.root / "data/eval/baselines/p-bench")
    box.dvc("checkout", "-q")


def _row(what: str, times: list[float], **kw) -> dict:
    return {"bench": "e", "what": what, "seconds": statistics.median(times),
            "note": spread(times) + (f"; {kw.pop('note')}" if "note" in kw else ""), **kw}


def run(work: Path, n: int = 10000) -> list[dict]:
    rows = []
    fresh = make_repo(work / "fresh")
    fresh.dvc("repro", "-q")
    fresh.commit_all("runs")
    box = make_repo(work / "big")
    template, tdir = real_promotion(box)
    t = time.perf_counter()
    synth_promotions(box, n - 1, template, tdir, sign_every=1)
    check_out_predictions(box, tdir)
    box.git("pack-refs", "--all")
    rows.append({"bench": "e", "what": f"build {n} signed promotions, predictions checked out",
                 "seconds": time.perf_counter() - t})
    time.sleep(2.1)  # files older than the verify cache's racy window, as in any repository

    cold = timings(lambda: _verify(box, env={"LEDGER_VERIFY_CACHE": "0"}, want=n, cached=0), repeat=3, warmup=0)
    rows.append(_row(f"ledger verify, {n} promotions, cold (nothing remembered)", cold))
    _verify(box, want=n)  # remembers every pass
    warm = timings(lambda: _verify(box, want=n, cached=n), repeat=5, warmup=0)
    rows.append(_row(f"ledger verify, {n} promotions, warm (verify cache)", warm, target="<= 5 s",
                     ok=statistics.median(warm) <= 5))

    def show():
        out = box.sh(LEDGER, "show", f"syn-{n // 2:05d}").stdout
        assert "verify       OK" in out, out
    shown = timings(show, repeat=5)
    rows.append(_row(f"ledger show ID ({n} promotions)", shown, target="<= 0.5 s", ok=statistics.median(shown) <= 0.5))

    floor = timings(lambda: box.sh("git", "for-each-ref", "refs/tags/promote/"), repeat=7)  # not the GTO tags
    py = timings(lambda: box.sh(str(user_bin() / "python"), "-c", "pass"), repeat=7)  # as bench (a)
    base = statistics.median(floor) + statistics.median(py)
    rows.append(_row(f"floor: git for-each-ref refs/tags/promote/ ({n} packed) + python -c pass",
                     [f + p for f, p in zip(floor, py)]))

    def log(*args: str, count: int):
        out = box.sh(LEDGER, "log", "--json", *args).stdout
        assert out.count('"tag": "promote/') == count
    remembered = Path(box.env["HOME"]) / ".cache" / "ledger" / "tag-rows"  # what list/log remember
    forget = lambda: shutil.rmtree(remembered, ignore_errors=True)  # noqa: E731
    forget()
    first = timings(lambda: log("--limit", "10", count=10), repeat=5, warmup=0, between=forget)
    rows.append(_row(f"ledger log --json --limit 10 ({n}), no rows remembered (first run)", first,
                     ratio=statistics.median(first) / base, target="<= 3x floor+python",
                     ok=statistics.median(first) / base <= 3))
    for args, count in ((("--limit", "10"), 10), ((), n)):
        times = timings(lambda: log(*args, count=count), repeat=5)
        rows.append(_row(f"ledger log --json {' '.join(args)} ({n})".replace("  ", " "), times,
                         ratio=statistics.median(times) / base, target="<= 3x floor+python",
                         ok=statistics.median(times) / base <= 3))

    # The repository was written by fast-import and git never gc'd it: no commit-graph, as in a
    # fresh clone. The first promote writes one (gitops/upkeep.py, as gc would), timed on its own;
    # the repeats run as in a repository of promotions made by `ledger promote`.
    graph = box.root / ".git" / "objects" / "info" / "commit-graph"
    assert not graph.exists()
    first = timings(lambda: box.sh(LEDGER, *PROMOTE), repeat=1, warmup=0, between=lambda: _undo_promotion(box))
    assert graph.is_file(), "the first promote wrote no commit-graph"
    for name, repo in (("fresh repository", fresh), (f"{n} promotions", box)):
        times = timings(lambda: repo.sh(LEDGER, *PROMOTE), repeat=5, warmup=1, between=lambda: _undo_promotion(repo))
        rows.append(_row(f"ledger promote, {name}", times))
    rows[-1]["ratio"] = rows[-1]["seconds"] / rows[-2]["seconds"]
    rows[-1]["target"], rows[-1]["ok"] = "<= 1.2x fresh", rows[-1]["ratio"] <= 1.2
    rows.append(_row(f"ledger promote, {n} promotions, the first one (no commit-graph yet: it writes one)", first,
                     ratio=first[0] / rows[-2]["seconds"]))
    graph.unlink()  # the rest measures the repository as built (a CI runner's clone has none either)

    def dvc(repo, *cmd: str) -> None:  # `dvc status` exits 1 on changes (the always-changed envlock)
        proc = repo.sh(str(BIN / "dvc"), *cmd, check=False)
        assert proc.returncode in (0, 1) and "ERROR" not in proc.stderr, proc.stderr
    base_status = None
    for cmd, what in ((("status",), "dvc status"), (("repro", "-q"), "no-op dvc repro")):
        none = timings(lambda: dvc(fresh, *cmd), repeat=5)
        base_status = base_status or statistics.median(none)
        rows.append(_row(f"{what}, 0 promotions", none))
        many = timings(lambda: dvc(box, *cmd), repeat=5)
        rows.append(_row(f"{what}, {n} promoted dirs (.dvcignore'd)", many,
                         ratio=statistics.median(many) / statistics.median(none), target="<= 1.5x 0 promotions",
                         ok=statistics.median(many) / statistics.median(none) <= 1.5))
    ignore = box.root / ".dvcignore"
    kept = ignore.read_text()
    ignore.write_text("\n".join(ln for ln in kept.splitlines() if not ln.startswith("/data/eval/")) + "\n")
    walked = timings(lambda: dvc(box, "status"), repeat=1, warmup=0)
    rows.append(_row(f"dvc status, {n} promoted dirs that DVC walks (without those .dvcignore lines)", walked,
                     ratio=walked[0] / base_status))
    ignore.write_text(kept)

    box.git("checkout", "-q", "-b", "pr")
    box.sh(LEDGER, *PROMOTE)
    graph.unlink(missing_ok=True)  # that promote wrote one again; a CI runner's clone has none
    rng = ("--range", "main..pr", "--signers-from", "main")
    empty = work / "empty-cache"  # cold: a fresh CI runner, whose cache directory has nothing yet
    for label, env, cached in (("cold", {"XDG_CACHE_HOME": str(empty)}, 0), ("warm", None, None)):
        if env is None:
            _verify(box, *rng, want=1)  # remembers
        times = timings(lambda: _verify(box, *rng, env=env, want=1, cached=cached), repeat=3, warmup=0,
                        between=lambda: shutil.rmtree(empty, ignore_errors=True))
        rows.append(_row(f"ledger verify --range, PR adding 1 promotion to {n}, {label}", times,
                         target="<= 1 s", ok=statistics.median(times) <= 1))
    return rows


if __name__ == "__main__":
    import tempfile

    from run import print_table

    os.environ.pop("LEDGER_VERIFY_CACHE", None)
    with tempfile.TemporaryDirectory(prefix="ledger-bench-") as tmp:
        print_table(run(Path(tmp), int(sys.argv[1]) if len(sys.argv) > 1 else 10000))
