"""Per-case scores as DVC plots: every run writes per_case.json (scores.jsonl as a JSON list, the
format `dvc plots` reads) and its stage file declares it, so `dvc plots show` and `dvc plots diff
<rev>` work on a ledger repository; a promotion keeps it, signed like the other files."""

from __future__ import annotations

import json

PLOT = "data/eval/runs/lead1-news/per_case.json"


def plot_rows(box, *args: str) -> dict[str, list[dict]]:
    """{revision: rows} of PLOT, as `dvc plots ... --json --split` renders them."""
    out = json.loads(box.dvc("plots", *args, "--json", "--split").stdout)
    assert not out.get("errors"), out["errors"]
    (entry,) = [v for k, v in out["data"].items() if k.endswith(PLOT)]
    rows: dict[str, list[dict]] = {}
    for item in entry[0]["content"]["data"]["values"] if "content" in entry[0] else entry[0]["datapoints"].values():
        rows.setdefault(item["rev"], []).append(item)
    return rows


def test_dvc_plots_show_and_diff_the_per_case_scores(repo):
    scores = [json.loads(ln) for ln in (repo.root / "data/eval/runs/lead1-news/scores.jsonl").read_text().splitlines()]
    data = json.loads((repo.root / PLOT).read_text())
    assert [r["case_id"] for r in data] == [s["case_id"] for s in scores]
    assert [r["case"] for r in data] == list(range(1, len(scores) + 1))
    assert all(r["token_f1"] == s["scores"]["token_f1"] for r, s in zip(data, scores))
    assert list(data[0])[-1] == sorted(scores[0]["scores"])[-1]  # DVC's default y: the last field

    shown = json.loads(repo.dvc("plots", "show", "--json").stdout)
    assert not shown.get("errors") and any(k.endswith(PLOT) for k in shown["data"]), shown

    config = repo.root / "data/eval/configs/lead1.yaml"
    config.write_text(config.read_text().replace("sentences: 1", "sentences: 2"))
    repo.commit_all("lead1-news: two sentences")
    repo.dvc("repro", "-q")
    repo.commit_all("runs: materialize lead1-news")
    diff = json.loads(repo.dvc("plots", "diff", "HEAD~1", "--json").stdout)
    assert not diff.get("errors"), diff["errors"]
    (entry,) = [v for k, v in diff["data"].items() if k.endswith(PLOT)]
    text = json.dumps(entry)
    assert "HEAD~1" in text and "workspace" in text, text[:500]
    new = json.loads((repo.root / PLOT).read_text())
    assert [r["token_f1"] for r in new] != [r["token_f1"] for r in data]  # the two revisions differ

    proc = repo.ledger("promote", "lead1-news", "--as", "baseline", "--id", "b1", "--reason", "r")
    assert proc.returncode == 0, proc.stderr
    promoted = repo.root / "data/eval/baselines/b1/per_case.json"
    assert json.loads(promoted.read_text()) == new
    record = json.loads(repo.git("cat-file", "tag", "promote/baseline/b1").split("\n\n", 1)[1]
                        .split("-----BEGIN SSH SIGNATURE-----")[0])
    assert "per_case.json" in record["files"]
    assert repo.ledger("verify").returncode == 0
