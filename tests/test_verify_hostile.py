"""Issue 'verify means verified', attacked by class, plain and --range:

1. one enumeration: anything under the protected roots that is not a real directory with a valid
   name (symlink, file, submodule, odd name, unexpected entry) fails verify and is refused by readers;
2. nothing consumes an unverified promotion (gate, compare, score, reproduce, show, review);
7. hostile tags (missing fields, wrong types, junk) get their own finding and never hide the rest."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from ledger.run.fingerprint import seal

B1 = "data/eval/baselines/b1"


def run_ok(proc) -> str:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def fails(box, needle: str, *args) -> str:
    proc = box.ledger("verify", *args)
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert needle in proc.stdout, proc.stdout
    return proc.stdout


def refused(proc, needle: str) -> str:
    err = proc.stderr.strip()
    assert proc.returncode == 2 and err.startswith("error: ") and "\n" not in err, (proc.returncode, proc.stderr)
    assert needle in err, err
    return err


def forged_copy(box, dest: str) -> None:
    """A copy of b1's files with metrics nobody signed (outside the protected roots)."""
    src, dst = box.root / B1, box.root / dest
    dst.mkdir(parents=True)
    for p in src.iterdir():
        if p.is_file():
            (dst / p.name).write_bytes(p.read_bytes())
    metrics = json.loads((dst / "metrics.json").read_text())
    metrics["metrics"]["token_f1"] = 0.99
    (dst / "metrics.json").write_text(json.dumps(metrics))


def add_gitlink(box, path: str) -> None:
    """A submodule entry, as a checkout without the submodule has it (an empty directory)."""
    (box.root / path).mkdir(parents=True)
    box.git("update-index", "--add", "--cacheinfo", f"160000,{box.git('rev-parse', 'HEAD')},{path}")


def replaced(box, rel: str, make) -> None:
    """The directory `rel` (the project's empty silver/ or gold/) made into something else."""
    shutil.rmtree(box.root / rel)
    make(box.root / rel)


SHAPES = {
    "symlink baseline": (lambda b: os.symlink("../../forged", b.root / "data/eval/baselines/evil"),
                         "data/eval/baselines/evil is a symlink"),
    "symlink gold id": (lambda b: (b.root / "data/eval/references/gold/summarization").mkdir(parents=True)
                        or os.symlink("../../../../forged", b.root / "data/eval/references/gold/summarization/g1"),
                        "gold/summarization/g1 is a symlink"),
    "symlink gold task": (lambda b: os.symlink("../../../forged-task", b.root / "data/eval/references/gold/ner"),
                          "references/gold/ner is a symlink"),
    "name with a space": (lambda b: forged_copy(b, "data/eval/baselines/b1 x"),
                          "baselines/b1 x: not a valid promoted id"),
    "name with a newline": (lambda b: forged_copy(b, "data/eval/baselines/b2\nx"),
                            "baselines/b2\\nx: not a valid promoted id"),
    "file": (lambda b: (b.root / "data/eval/baselines/notes.txt").write_text("x\n"),
             "data/eval/baselines/notes.txt is a file"),
    "submodule": (lambda b: add_gitlink(b, "data/eval/references/silver/sub"),
                  "references/silver/sub is a submodule"),
    "unexpected reference kind": (lambda b: forged_copy(b, "data/eval/references/bronze/x"),
                                  "references/bronze is a directory, not silver/ or gold/"),
    # silver/ and gold/ themselves must be directories: a symlink or a file there hides nothing
    "symlink silver": (lambda b: replaced(b, "data/eval/references/silver",
                                          lambda p: os.symlink("../../../forged-task", p)),
                       "references/silver is a symlink, not silver/ or gold/"),
    "file gold": (lambda b: replaced(b, "data/eval/references/gold", lambda p: p.write_text("x\n")),
                  "references/gold is a file, not silver/ or gold/"),
    "gold task name": (lambda b: forged_copy(b, "data/eval/references/gold/Bad Task/g1"),
                       "references/gold/Bad Task: not a valid task name"),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_anything_but_a_promoted_directory_fails_plain_and_range(promoted, shape):
    box = promoted
    base = box.git("rev-parse", "HEAD")
    forged_copy(box, "forged")
    (box.root / "forged-task").mkdir()
    make, needle = SHAPES[shape]
    make(box)
    box.commit_all(f"attack: {shape}")
    fails(box, needle)
    report = json.loads(box.ledger("verify", "--json").stdout)["results"]
    odd = [r for r in report if not r["ok"]]
    assert odd and all(r["id"] == r["path"].rsplit("/", 1)[-1] for r in odd), odd  # each finding names its entry
    fails(box, needle, "--range", f"{base}..HEAD", "--signers-from", base)
    # Merged anyway: a later pull request that touches nothing of it still fails.
    (box.root / "unrelated.txt").write_text("x\n")
    box.commit_all("an unrelated PR")
    fails(box, needle, "--range", "HEAD~1..HEAD", "--signers-from", "HEAD~1")


def test_readers_refuse_a_symlinked_baseline_and_a_shadowed_dir(promoted):
    box = promoted
    forged_copy(box, "forged")
    os.symlink("../../forged", box.root / "data/eval/baselines/evil")
    box.commit_all("symlinked baseline")
    for cmd in (("gate", "lead2-news", "--baseline", "evil", "--tier", "base"), ("compare", "evil", "lead2-news"),
                ("show", "evil"), ("reproduce", "evil")):
        proc = box.ledger(*cmd)
        assert proc.returncode != 0 and "0.99" not in proc.stdout, (cmd, proc.stdout, proc.stderr)
    # The signed b1 itself, replaced in the working tree by a symlink to forged files:
    real = box.root / B1
    real.rename(box.root / "b1-moved")
    os.symlink("../../forged", real)
    refused(box.ledger("gate", "lead2-news", "--baseline", "b1", "--tier", "base"), "b1")
    refused(box.ledger("compare", "b1", "lead2-news"), "b1")
    fails(box, B1)


def test_readers_refuse_a_symlinked_file_in_a_verified_dir(promoted):
    """A file of the signed b1 replaced in the working tree by a symlink -- here to a copy of the
    same bytes, so every digest still matches: readers read a promoted dir only as itself (the
    link's target could change after it was checked)."""
    box = promoted
    metrics = box.root / B1 / "metrics.json"
    (box.root / "metrics-copy.json").write_bytes(metrics.read_bytes())
    metrics.unlink()
    os.symlink("../../../../metrics-copy.json", metrics)
    for cmd in (("gate", "lead2-news", "--baseline", "b1", "--tier", "base"), ("compare", "b1", "lead2-news")):
        refused(box.ledger(*cmd), f"{B1}/metrics.json is a symlink in the working tree: refused")


def test_reproduce_never_executes_an_unsigned_tag_claiming_the_id(promoted):
    """`promote/a/b1` (sorts before promote/baseline/b1) names an attacker's commit whose code
    would run: the id no longer verifies, so nothing runs."""
    box = promoted
    box.git("checkout", "-q", "-b", "evil")
    (box.root / "PWNED.py").write_text("open('/tmp/ledger-pwned-marker', 'w').write('x')\n")
    evil = box.commit_all("attacker commit")
    box.git("checkout", "-q", "main")
    box.git("-c", "tag.gpgSign=false", "tag", "-a", "promote/a/b1", "-m",
            box.sh("git", "tag", "-l", "--format=%(contents:body)", "promote/baseline/b1").stdout or "{}", evil)
    refused(box.ledger("reproduce", "b1"), "does not verify")
    assert box.git("worktree", "list", "--porcelain").count("worktree ") == 1
    refused(box.ledger("gate", "lead2-news", "--baseline", "b1", "--tier", "base"), "does not verify")
    fails(box, "promote/a/b1")


def test_a_resealed_fingerprint_is_refused_by_every_reader(promoted):
    """Edit the promoted metrics and fingerprint, re-seal the (unkeyed) fingerprint_sha256, commit:
    the fingerprint checks out on its own, but not against the signed record."""
    box = promoted
    fp_path, m_path = box.root / B1 / "fingerprint.json", box.root / B1 / "metrics.json"
    metrics = json.loads(m_path.read_text())
    metrics["metrics"]["token_f1"] = 0.99
    m_path.write_text(json.dumps(metrics))
    fp = json.loads(fp_path.read_text())
    fp["outputs"]["metrics.json"] = __import__("hashlib").sha256(m_path.read_bytes()).hexdigest()
    fp_path.write_text(json.dumps(seal(fp)))
    box.commit_all("re-sealed")
    for cmd in (("gate", "lead2-news", "--baseline", "b1", "--tier", "base"), ("compare", "b1", "lead2-news"),
                ("reproduce", "b1")):
        refused(box.ledger(*cmd), "does not verify")
    shown = box.ledger("show", "b1").stdout
    assert "UNVERIFIED" in shown and "verify       FAIL" in shown


def test_review_never_takes_an_unsigned_tag_as_the_current_baseline(repo):
    box = repo
    base = box.git("rev-parse", "HEAD")
    box.git("config", "--unset", "user.signingkey")
    run_ok(box.ledger("promote", "lead1-news", "--as", "baseline", "--id", "fake", "--reason", "r", "--unsigned"))
    box.git("config", "user.signingkey", str(box.root.parent / "alice.key"))
    run_ok(box.ledger("promote", "lead2-news", "--as", "baseline", "--id", "real", "--reason", "r"))
    proc = box.ledger("review", "--range", f"{base}..HEAD", "--format", "json")
    report = json.loads(proc.stdout)
    real = next(p for p in report["promotions"] if p["promoted_id"] == "real")
    assert (real.get("baseline") or {}).get("promoted_id") != "fake"


HOSTILE = {
    "promote/baseline/x1": '{"schema": "ledger.promotion/1"}',
    "promote/baseline/x2": '{"schema": "ledger.promotion/1", "promoted_at": 5, "promoted_id": ["a"], "role": {}}',
    "promote/baseline/x3": "text with \x1e record \x01 separators",
    "promote/a/b/c/x4": '{"schema": "ledger.promotion/1", "path": "../../etc"}',
}


@pytest.mark.parametrize("mode", ["plain", "range"])
def test_hostile_tags_get_their_own_finding_and_hide_nothing(promoted, mode):
    box = promoted
    base = box.git("rev-parse", "HEAD~1")
    for name, message in HOSTILE.items():
        box.git("-c", "tag.gpgSign=false", "tag", "-a", name, "-m", message, "HEAD")
    args = ("--range", f"{base}..HEAD", "--signers-from", base) if mode == "range" else ()
    out = fails(box, "promote/baseline/x1", *args)
    for name in HOSTILE:
        assert f"FAIL  {name}: " in out, out
    assert f"OK    {B1}" in out  # the real promotion is still reported, and still OK
    for cmd in (("list",), ("list", "--json"), ("log",), ("log", "--json"), ("list", "--all"), ("show", "x2"),
                ("show", "b1"), ("verify", "--json")):
        proc = box.ledger(*cmd)
        assert proc.returncode in (0, 1) and "internal error" not in proc.stderr, (cmd, proc.stderr)
    rows = box.ledger("list").stdout.splitlines()
    assert sum("INVALID RECORD" in r for r in rows) == len(HOSTILE) and any(r.split()[1] == "b1" for r in rows)
