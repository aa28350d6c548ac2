"""(d) `ledger verify` of N signed promotions (real promoted dirs, each tag ssh-signed)
vs the floor of one `git verify-tag` process per tag (signature only, no tree checks).

One promotion is made by `ledger promote`; the other N-1 are built in bulk with
`git fast-import` from it (same files, own digests, same DVC pointer) and signed with
`ssh-keygen -Y sign -n git`, byte-for-byte what `git tag -s` produces with gpg.format ssh."""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

from common import check_out_predictions, make_repo, real_promotion, spread, synth_promotions, timings, user_bin


def run(work: Path, n: int = 1000) -> list[dict]:
    box = make_repo(work)
    template, tdir = real_promotion(box)
    t = time.perf_counter()
    made = synth_promotions(box, n - 1, template, tdir, sign_every=1)
    check_out_predictions(box, tdir)
    build = time.perf_counter() - t

    box.env["LEDGER_VERIFY_CACHE"] = "0"  # every signature, tree and file checked each time
    results = []
    times = timings(lambda: results.append(box.sh(str(user_bin() / "ledger"), "verify", "--json", check=False)),
                    repeat=3, warmup=0)
    ledger_s = statistics.median(times)
    proc = results[-1]
    result = json.loads(proc.stdout)
    bad = [r for r in result["results"] if not r["ok"]]
    assert proc.returncode == 0 and not bad and result["checked"] == n, proc.stdout[:500]

    tags = box.git("for-each-ref", "--format=%(refname)", "refs/tags/promote/").split()
    signers = box.root / ".ledger/allowed_signers"
    t = time.perf_counter()
    for tag in tags:
        box.sh("git", "-c", f"gpg.ssh.allowedSignersFile={signers}", "verify-tag", tag)
    git_s = time.perf_counter() - t
    return [
        {"bench": "d", "what": f"build {n} signed promotions (fast-import + ssh-keygen -Y sign)",
         "seconds": build, "note": f"{made['signed'] + 1} signed tags"},
        {"bench": "d", "what": f"ledger verify, {result['checked']} promoted dirs (no verify cache)",
         "seconds": ledger_s, "note": f"{spread(times)}; {ledger_s / len(tags) * 1000:.1f} ms per tag; "
                                       "all OK, predictions checked out and hashed"},
        {"bench": "d", "what": f"git verify-tag x {len(tags)} (one process per tag)", "seconds": git_s,
         "note": f"{git_s / len(tags) * 1000:.1f} ms per tag"},
        {"bench": "d", "what": "ledger verify / git verify-tag loop", "seconds": ledger_s, "ratio": ledger_s / git_s},
    ]


if __name__ == "__main__":
    import tempfile

    from run import print_table

    with tempfile.TemporaryDirectory(prefix="ledger-bench-") as tmp:
        print_table(run(Path(tmp), int(sys.argv[1]) if len(sys.argv) > 1 else 1000))
