"""`ledger report --html DIR`, looked at in a real headless Chromium (Debian's package, installed
by `make test`): the page renders to a screenshot, needs no network, and the numbers in its DOM
are the ones `ledger compare --json` and `ledger verify` give."""

from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions"]


class Elements(HTMLParser):
    """Every element of the DOM Chromium serialised: (tag, attrs, text directly inside)."""

    def __init__(self):
        super().__init__()
        self.items: list[list] = []
        self.stack: list[list] = []

    def handle_starttag(self, tag, attrs):
        item = [tag, dict(attrs), ""]
        self.items.append(item)
        if tag not in ("circle", "line", "polyline", "meta", "br"):
            self.stack.append(item)

    def handle_endtag(self, tag):
        while self.stack and self.stack.pop()[0] != tag:
            pass

    def handle_data(self, data):
        if self.stack:
            self.stack[-1][2] += data


def dom(box, page) -> Elements:
    proc = subprocess.run([CHROMIUM, *FLAGS, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                          timeout=120, env={**box.env, "HOME": str(box.root.parent)})
    assert proc.returncode == 0 and "<body" in proc.stdout, proc.stderr[-2000:]
    parsed = Elements()
    parsed.feed(proc.stdout)
    return parsed


@pytest.fixture
def pr(repo):
    repo.ledger("promote", "lead1-news", "--as", "baseline", "--id", "news-lead1", "--reason", "first", check=True)
    base = repo.git("rev-parse", "HEAD")
    repo.git("checkout", "-q", "-b", "pr")
    repo.ledger("promote", "lead2-news", "--as", "baseline", "--id", "news-lead2", "--reason", "second", check=True)
    return repo, base


def test_the_page_renders_and_its_numbers_are_compares(pr):
    assert CHROMIUM, "chromium is not installed: `make test` installs Debian's package"
    box, base = pr
    out = box.root.parent / "report"
    proc = box.ledger("report", "--range", f"{base}..HEAD", "--html", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    page = out / "index.html"
    assert json.loads(proc.stdout) == {"path": str(page), "promotions": 2, "in_range": 1}
    text = page.read_text()
    assert "<script" not in text and "http://" not in text and "https://" not in text and "<link" not in text
    shot = box.root.parent / "report.png"
    subprocess.run([CHROMIUM, *FLAGS, f"--screenshot={shot}", "--window-size=1200,2400", page.as_uri()],
                   capture_output=True, timeout=120, env={**box.env, "HOME": str(box.root.parent)}, check=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000

    els = dom(box, page).items
    compared = json.loads(box.ledger("compare", "news-lead1", "news-lead2", "--json").stdout)
    section = [e for e in els if e[0] == "table" and e[1].get("data-baseline") == "news-lead1"]
    assert section, "no comparison table against news-lead1"
    rows = [i for i, e in enumerate(els) if e[0] == "tr" and "data-metric" in e[1] and els[i + 2][1].get("data-role")
            == "baseline"]
    seen = {}
    for i in rows:
        metric = els[i][1]["data-metric"]
        seen[metric] = {els[j][1]["data-role"]: els[j][1]["data-value"] for j in range(i + 1, i + 5)
                        if els[j][0] == "td" and "data-role" in els[j][1]}
    assert set(seen) == {m["metric"] for m in compared["metrics"]}
    for m in compared["metrics"]:
        got = seen[m["metric"]]
        assert float(got["baseline"]) == m["a"] and float(got["candidate"]) == m["b"], m
        assert abs(float(got["delta"]) - m["delta"]) < 1e-9, m
    # what changed case by case: the same counts compare gives
    f1 = compared["cases"]["metrics"]["token_f1"]
    case_rows = [i for i, e in enumerate(els) if e[0] == "tr" and e[1].get("data-metric") == "token_f1"
                 and els[i + 2][1].get("data-role") == "up"]
    assert case_rows and els[case_rows[0] + 2][2] == str(f1["up"]) and els[case_rows[0] + 3][2] == str(f1["down"])
    # the timeline: both promotions, each with the signer verify proved
    timeline = {e[1]["data-id"]: e for e in els if e[0] == "tr" and "data-verified" in e[1]}
    assert set(timeline) == {"news-lead1", "news-lead2"} and all(e[1]["data-verified"] == "true" for e in timeline.values())
    signers = [e[2] for e in els if e[0] == "td" and e[1].get("class") == "signer"]
    assert signers == ["alice@example.com", "alice@example.com"]
    # metric history: one point per verified baseline, with the signed value
    points = [e[1] for e in els if e[0] == "circle" and "data-value" in e[1]]
    lead1 = box.read_json("data/eval/baselines/news-lead1/metrics.json")["metrics"]["token_f1"]
    chart = [e for e in els if e[0] == "svg" and e[1].get("data-metric") == "token_f1"]
    assert chart and {p["data-id"] for p in points} == {"news-lead1", "news-lead2"}
    assert any(p["data-id"] == "news-lead1" and float(p["data-value"]) == lead1 for p in points)


def test_an_unverified_promotion_is_marked_and_feeds_no_chart(pr):
    box, base = pr
    path = box.root / "data/eval/baselines/news-lead1/metrics.json"
    path.write_text(path.read_text().replace("token_f1", "token_f2"))
    box.commit_all("tamper with a baseline")
    out = box.root.parent / "report2"
    assert box.ledger("report", "--html", str(out), "--range", f"{base}..HEAD").returncode == 0
    els = dom(box, out / "index.html").items
    row = next(e for e in els if e[0] == "tr" and e[1].get("data-id") == "news-lead1")
    assert row[1]["data-verified"] == "false"
    assert not any(e[0] == "circle" and e[1].get("data-id") == "news-lead1" and "data-value" in e[1] for e in els)


def test_bad_output_and_range_are_one_line(pr):
    box, base = pr
    (box.root.parent / "afile").write_text("x")
    for args, needle in ((("--html", str(box.root.parent / "afile")), "exists and is not a directory"),
                         (("--html", ""), "name the directory"),
                         (("--html", "/proc/no/such"), "cannot write there"),
                         (("--html", str(box.root.parent / "r"), "--range", "nope..HEAD"), "nope")):
        proc = box.ledger("report", *args)
        assert proc.returncode == 2 and needle in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not (box.root.parent / "r" / "index.html").exists()


def test_hostile_text_anywhere_in_the_evidence_stays_text():
    """Ids, reasons, metric names and values, case ids and problems come from files a pull
    request can write: every one is escaped, in text and in attributes."""
    from ledger.report import html

    bad = '"><script>alert(1)</script><x a=\''
    deltas = [{"metric": bad, "baseline": bad, "value": 1.0, "delta": None}]
    cases = {"cases": 1, "only_a": 0, "only_b": 0, "largest": [{"case_id": bad, "metric": bad, "a": 0.0, "b": 1.0,
                                                                  "delta": 1.0}],
             "metrics": {bad: {"up": 1, "down": 0, "same": 0, "binary": True, "flipped_up": [bad], "flipped_down": [],
                               "slices": {bad: {"up": 1, "down": 0, "same": 0}}}}}
    data = {"generated_at": bad, "head": bad,
            "timeline": [{"promoted_id": bad, "role": bad, "quality": bad, "task": bad, "run_id": bad, "promoted_at": bad,
                          "verified": False, "signer": None, "problem": bad, "metrics": {}}],
            "history": {bad: {bad: [{"promoted_id": bad, "promoted_at": bad, "value": 1.0}]}},
            "review": {"ok": False, "tier": bad, "range": {"base": bad, "head": bad}, "red_flags": [{"kind": bad, "why": bad}],
                       "promotions": [{"promoted_id": bad, "run_id": bad, "reason": bad, "ok": False,
                                       "baseline": {"promoted_id": bad}, "deltas": deltas, "cases": cases,
                                       "gates": {"status": bad, "scorecard": {"summary": bad, "gates": [
                                           {"name": bad, "value": 1.0, "threshold": 2.0, "passed": False}]}}}]}}
    page = html.render(data)
    parsed = Elements()
    parsed.feed(page)
    assert "<script" not in page and not any(tag in ("script", "x") for tag, _, _ in parsed.items)
    assert page.count("&lt;script&gt;") >= 10
