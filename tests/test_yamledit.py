"""yamledit.drop_entry: a text edit that is returned only when libyaml reads it as exactly the
old document minus the one entry; otherwise None (the caller falls back to a ruamel round-trip)."""

from __future__ import annotations

import yaml
from hypothesis import given, settings, strategies as st

from ledger.yamledit import drop_entry

KEYS = st.from_regex(r"[a-z][a-z0-9@._-]{0,12}", fullmatch=True).filter(
    lambda k: k not in ("yes", "no", "on", "off", "true", "false", "null", "y", "n") and not k.endswith("."))
VALUES = st.recursive(st.one_of(st.integers(), st.text("abc xyz#:'\"-", max_size=8), st.booleans(), st.none()),
                      lambda inner: st.dictionaries(KEYS, inner, max_size=3) | st.lists(inner, max_size=3),
                      max_leaves=6)
COMMENTS = st.lists(st.sampled_from(["", "# note", "  # indented note", "    # deeper"]), max_size=2)


@settings(max_examples=300, deadline=None)
@given(runs=st.dictionaries(KEYS, VALUES, min_size=1, max_size=5), other=st.dictionaries(KEYS, VALUES, max_size=3),
       comments=st.lists(COMMENTS, min_size=8, max_size=8), style=st.booleans(), pick=st.integers(0, 10))
def test_drop_entry_is_exact_or_declines(runs, other, comments, style, pick):
    other.pop("runs", None)
    doc = yaml.safe_dump({"runs": runs, **other}, default_flow_style=None if style else False, sort_keys=False)
    lines = doc.splitlines(keepends=True)
    for i, extra in enumerate(comments):  # comments and blank lines sprinkled between lines
        at = (i * 7 + pick) % (len(lines) + 1)
        lines[at:at] = [c + "\n" for c in extra]
    text = "".join(lines)
    key = sorted(runs)[pick % len(runs)]
    out = drop_entry(text, "runs", key)
    if out is None:
        return
    before = yaml.safe_load(text)
    assert yaml.safe_load(out) == {**before, "runs": {k: v for k, v in before["runs"].items() if k != key}}
    src, dst = text.splitlines(keepends=True), out.splitlines(keepends=True)
    head = next((i for i, (a, b) in enumerate(zip(src, dst)) if a != b), len(dst))
    assert src[:head] == dst[:head] and src[len(src) - (len(dst) - head):] == dst[head:]  # one cut, nothing else


def test_the_shapes_ledger_writes_are_edited_not_round_tripped():
    params = ("# runs\nruns:\n  <<: {}\n  a-1:\n    config: c.yaml  # mine\n    dataset: d.jsonl\n\n"
              "  b-2:\n    config: c2.yaml\n\n# gates\ngates: {}\n")
    assert drop_entry(params, "runs", "a-1") == "# runs\nruns:\n  <<: {}\n\n  b-2:\n    config: c2.yaml\n\n# gates\ngates: {}\n"
    lock = ("schema: '2.0'\nstages:\n  materialize@a-1:\n    cmd: ledger stage materialize a-1\n    deps:\n"
            "    - path: x\n      md5: 1\n  materialize@b-2:\n    cmd: ledger stage materialize b-2\n")
    assert drop_entry(lock, "stages", "materialize@a-1") == \
        "schema: '2.0'\nstages:\n  materialize@b-2:\n    cmd: ledger stage materialize b-2\n"
    for text, key in (("runs: {a: 1, b: 2}\n", "a"), ("runs:\n  a: 1\n", "a"), ("runs:\n  a: 1\n", "zz"),
                      ("runs: [1]\n", "a"), ("runs:\n  a: 1\n  a: 2\n", "a"), (": [\n", "a")):
        assert drop_entry(text, "runs", key) is None, text


def test_deep_nesting_never_reaches_libyaml():
    """libyaml crashes the process (SIGSEGV) on ~30,000 nested brackets: such text goes to the
    pure-Python loader, whose RecursionError callers turn into one line."""
    import pytest

    from ledger.yamledit import load

    assert load("a: [1, {b: 2}]\n") == {"a": [1, {"b": 2}]}
    for text in ("[" * 40000 + "]" * 40000, "a: " + "{x: " * 40000 + "1" + "}" * 40000):
        with pytest.raises(RecursionError):
            load(text)
        assert drop_entry("runs:\n  a: 1\n  b: " + text + "\n", "runs", "a") is None


def test_a_deeply_nested_params_or_lock_is_one_line_not_a_crash(repo):
    for name in ("params.yaml", "dvc.lock"):
        path = repo.root / name
        saved = path.read_text()
        path.write_text(saved + "deep: " + "[" * 40000 + "]" * 40000 + "\n")
        proc = repo.ledger("promote", "lead1-news", "--as", "baseline", "--id", "b1", "--reason", "r")
        err = proc.stderr.strip()
        assert proc.returncode == 2 and err.startswith("error: ") and "\n" not in err, (name, proc.returncode, err)
        assert repo.git("tag", "-l", "promote/*") == ""
        path.write_text(saved)
