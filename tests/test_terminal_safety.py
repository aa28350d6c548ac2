"""Tag records, reasons and other text anyone can push are printed as text: no control
character or bidirectional override from them reaches the terminal of `ledger list`, `log`,
`show`, `review` or an error line."""

from __future__ import annotations

import json

from test_verify import make_tag

HOSTILE = "x\x1b]0;owned\x07\x1b[2J\x9b31m\u202eevil\x7f"


def test_a_hostile_tag_record_is_printed_escaped(promoted):
    box = promoted
    commit = box.git("rev-parse", "HEAD")
    record = json.loads(box.git("cat-file", "tag", "promote/baseline/b1").split("\n\n", 1)[1].split("-----BEGIN")[0])
    record.update({"reason": HOSTILE, "promoted_by": HOSTILE, "run_id": HOSTILE, "promoted_id": "b9",
                   "path": "data/eval/baselines/b9"})
    make_tag(box, "promote/baseline/b9", commit, json.dumps(record))  # unsigned: anyone can push this
    outputs = {}
    for args in (("list",), ("log",), ("show", "b9"), ("verify",), ("review", "--range", f"{commit}~1..HEAD")):
        proc = box.ledger(*args)
        outputs[args[0]] = proc.stdout + proc.stderr
    for name, out in outputs.items():
        assert not any(c in out for c in "\x1b\x07\x9b\u202e\x7f"), (name, out)
    assert "\\x1b]0;owned\\x07" in outputs["log"] and "\\u202eevil" in outputs["log"]
    proc = box.ledger("show", "b1\x1b[2J")
    assert proc.returncode == 2 and "\x1b" not in proc.stderr
