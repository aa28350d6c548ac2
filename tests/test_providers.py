"""The user's providers and scorers, driven through `ledger stage materialize RUN` (the command
`dvc repro` runs) in a fresh user repository: what they record, and one clear line and no run
directory for every way they can fail."""

from __future__ import annotations

import json

import pytest
import yaml

from conftest import copy_repo, declare_run, user_repo

CASES = [{"case_id": "a", "q": "2+2", "answer": "4"}, {"case_id": "b", "q": "3+3", "answer": "6"}]


@pytest.fixture(scope="module")
def proj_template(tmp_path_factory, session_env):
    """A user's repository after `ledger init`, with a dataset and an empty tools/ (once for this file)."""
    box = user_repo(tmp_path_factory.mktemp("proj") / "user", session_env)
    assert box.ledger("init").returncode == 0
    (box.root / "data.jsonl").write_text("".join(json.dumps(c) + "\n" for c in CASES))
    (box.root / "tools").mkdir()
    return box


@pytest.fixture
def proj(tmp_path, proj_template, session_env):
    """A copy of proj_template for one test."""
    return copy_repo(proj_template, tmp_path, session_env)


def declare(box, config: str, code: str = "tools", run_id: str = "r1") -> None:
    (box.root / "run.yaml").write_text(config)
    proc = box.ledger("run", "add", run_id, "--config", "run.yaml", "--dataset", "data.jsonl", "--code", code)
    assert proc.returncode == 0, proc.stderr


def stage(box, run_id: str = "r1"):
    return box.ledger("stage", "materialize", run_id)


def refused(box, needle: str, run_id: str = "r1") -> str:
    """One `error:` line, exit 2; no run directory (or the earlier one exactly as it was), no staging left."""
    runs = box.root / "data/eval/runs"
    before = {p.name: p.read_bytes() for p in (runs / run_id).iterdir()} if (runs / run_id).is_dir() else None
    proc = stage(box, run_id)
    err = proc.stderr.strip()
    assert proc.returncode == 2 and err.startswith("error: ") and "\n" not in err, (proc.returncode, proc.stderr)
    assert needle in err, err
    after = {p.name: p.read_bytes() for p in (runs / run_id).iterdir()} if (runs / run_id).is_dir() else None
    assert after == before
    assert not [p.name for p in runs.iterdir() if p.name.startswith(".") and p.name != ".gitignore"]
    return err


def run_of(box, run_id: str = "r1") -> dict:
    base = box.root / "data/eval/runs" / run_id
    return {name: json.loads((base / name).read_text()) for name in ("metrics.json", "fingerprint.json")}


EXACT = "task: qa\nmetrics: [{scorer: exact_match, field: answer}]\n"


def test_python_function_provider_and_its_provenance(proj):
    (proj.root / "tools/calc.py").write_text("def answer(case, params):\n"
                                             "    return {'answer': str(eval(case['q'])) + params['suffix']}\n")
    declare(proj, EXACT + "provider: python\nentrypoint: tools.calc:answer\nparams: {suffix: ''}\nversion: v7\n")
    assert stage(proj).returncode == 0
    run = run_of(proj)
    assert run["metrics.json"]["metrics"] == {"exact_match": 1.0}
    prov = run["fingerprint.json"]["provider"]
    assert prov["version"] == "v7" and prov["name"] == "tools.calc:answer"
    assert list(prov["source"]["files"]) == ["tools/calc.py"]
    assert run["fingerprint.json"]["comparability"] == {}


@pytest.mark.parametrize("body, needle", [
    ("def answer(case, params):\n    raise ValueError('model exploded')\n",
     "provider tools.calc:answer failed on case 'a': ValueError: model exploded"),
    ("def answer(case, params):\n    return 'four'\n", "returned str for case 'a': expected a mapping"),
    ("def answer(case, params):\n    return {'answer': float('nan')}\n", "is not JSON"),
    ("def answer(case, params):\n    return {'case_id': 'b', 'answer': '4'}\n", "names another case_id"),
    ("raise ImportError('no torch here')\n", "importing tools.calc failed: ImportError: no torch here"),
    ("x = 1\n", "tools.calc has no attribute 'answer'"),
])
def test_python_provider_failures(proj, body, needle):
    (proj.root / "tools/calc.py").write_text(body)
    declare(proj, EXACT + "provider: python\nentrypoint: tools.calc:answer\n", run_id="r1")
    refused(proj, needle)


def test_python_class_provider_batch_contract(proj):
    (proj.root / "tools/calc.py").write_text(
        "class M:\n    def __init__(self, n):\n        self.n = n\n"
        "    def predict(self, cases):\n        return [{'answer': str(eval(c['q']))} for c in cases][: self.n]\n")
    declare(proj, EXACT + "provider: python\nentrypoint: tools.calc:M\nparams: {n: 2}\n")
    assert stage(proj).returncode == 0
    (proj.root / "run.yaml").write_text(EXACT + "provider: python\nentrypoint: tools.calc:M\nparams: {n: 1}\n")
    refused(proj, "predict(cases) must return a list of 2 outputs, got list of 1")


def test_a_provider_file_outside_the_code_dependency_is_refused(proj):
    (proj.root / "calc.py").write_text("def answer(case, params):\n    return {'answer': '4'}\n")
    declare(proj, EXACT + "provider: python\nentrypoint: calc:answer\n", code="tools")
    refused(proj, "data/eval/pipelines/r1/params.yaml: `code` (tools) does not cover calc.py")


COMMAND = "task: qa\nprovider: command\ncommand: python tools/model.py\nmetrics: [{scorer: exact_match, field: answer}]\n"


def test_command_provider_answers_over_stdin_stdout(proj):
    (proj.root / "tools/model.py").write_text(
        "import json, sys\nfor line in sys.stdin:\n    c = json.loads(line)\n"
        "    print(json.dumps({'case_id': c['case_id'], 'answer': str(eval(c['q']))}))\n")
    declare(proj, COMMAND)
    assert stage(proj).returncode == 0
    run = run_of(proj)
    assert run["metrics.json"]["metrics"] == {"exact_match": 1.0}
    assert run["fingerprint.json"]["provider"]["files"] == {
        "tools/model.py": run["fingerprint.json"]["provider"]["files"]["tools/model.py"]}


@pytest.mark.parametrize("script, needle", [
    ("import sys\nsys.stderr.write('CUDA out of memory\\n')\nsys.exit(3)\n", "exited with 3: 'CUDA out of memory'"),
    ("print('not json')\n", "stdout line 1 is not a JSON object"),
    ("import json\nprint(json.dumps({'case_id': 'a', 'answer': '4'}))\n", "no output for 1 case(s), e.g. 'b'"),
    ("import json\nfor _ in range(2): print(json.dumps({'case_id': 'a', 'answer': '4'}))\n", "duplicate output for case 'a'"),
    ("import json\nprint(json.dumps({'case_id': 'zz', 'answer': '4'}))\n", "output 1 is for unknown case 'zz'"),
    ("import json\nprint(json.dumps(['a']))\n", "output 1 is not an object with a string case_id"),
])
def test_command_provider_failures(proj, script, needle):
    (proj.root / "tools/model.py").write_text(script)
    declare(proj, COMMAND)
    refused(proj, needle)


def test_command_not_found_and_timeout(proj):
    declare(proj, "task: qa\nprovider: command\ncommand: no-such-binary-xyz\nmetrics: [exact_match]\n",
            code="run.yaml")
    refused(proj, "command provider 'no-such-binary-xyz': command not found")
    (proj.root / "tools/model.py").write_text("import time\ntime.sleep(30)\n")
    (proj.root / "run.yaml").write_text(COMMAND + "timeout: 1\n")
    proj.ledger("run", "rm", "r1")
    declare(proj, COMMAND + "timeout: 1\n")
    refused(proj, "no answer within 1 s")


def test_precomputed_predictions_are_imported_with_their_digest(proj):
    preds = proj.root / "tools/preds.jsonl"
    preds.write_text('{"case_id": "b", "answer": "6"}\n{"case_id": "a", "answer": "5"}\n')
    declare(proj, "task: qa\nprovider: precomputed\npredictions: tools/preds.jsonl\n"
                  "metrics: [{scorer: exact_match, field: answer}]\n")
    assert stage(proj).returncode == 0
    run = run_of(proj)
    assert run["metrics.json"]["metrics"] == {"exact_match": 0.5}
    import hashlib
    assert run["fingerprint.json"]["provider"]["predictions"] == {
        "tools/preds.jsonl": hashlib.sha256(preds.read_bytes()).hexdigest()}
    preds.write_text('{"case_id": "a", "answer": "4"}\n')
    refused(proj, "no output for 1 case(s), e.g. 'b'")


@pytest.mark.parametrize("scorer, needle", [
    ("def s(case, prediction):\n    return float('nan')\n", "NaN and infinity are not scores"),
    ("def s(case, prediction):\n    return 'high'\n", "returned 'high' for case 'a': expected a number"),
    ("def s(case, prediction):\n    return {'x': [1]}\n", "expected a number"),
    ("def s(case, prediction):\n    return 1 / 0\n", "failed on case 'a': ZeroDivisionError"),
])
def test_user_scorer_failures(proj, scorer, needle):
    (proj.root / "tools/calc.py").write_text("def answer(case, params):\n    return {'answer': '4'}\n")
    (proj.root / "tools/scorers.py").write_text(scorer)
    declare(proj, "task: qa\nprovider: python\nentrypoint: tools.calc:answer\n"
                  "metrics: [{entrypoint: 'tools.scorers:s'}]\n")
    refused(proj, needle)


@pytest.mark.parametrize("config, needle", [
    ("task: qa\nprovider: python\n", "provider 'python' needs `entrypoint`"),
    ("task: qa\nprovider: python\nentrypoint: 'not a spec'\nmetrics: [accuracy]\n", "must look like 'package.module:callable'"),
    ("task: qa\nprovider: nope\n", "unknown provider 'nope'"),
    ("task: qa\nprovider: command\ncommand: x\nentrypoint: a:b\n", "unknown key(s) entrypoint for provider 'command'"),
    ("task: qa\nprovider: precomputed\npredictions: tools/none.jsonl\nmetrics: [accuracy]\n", "predictions file not found"),
    ("task: qa\nprovider: precomputed\npredictions: ../x.jsonl\nmetrics: [accuracy]\n", "must be a path inside the repository"),
    ("task: qa\nprovider: command\ncommand: x\n", "task 'qa' has no default metrics"),
    ("task: qa\nprovider: command\ncommand: x\nmetrics: [bleu]\n", "unknown built-in scorer 'bleu'"),
    ("task: qa\nprovider: command\ncommand: x\nmetrics: [accuracy, accuracy]\n", "metric name 'accuracy' appears twice"),
    ("task: qa\nprovider: command\ncommand: x\nmetrics: [accuracy]\ncomparability: [1]\n", "`comparability` must map"),
])
def test_bad_configs_are_one_line(proj, config, needle):
    (proj.root / "run.yaml").write_text(config)
    declare_run(proj, "r1", "run.yaml", "data.jsonl")  # by hand: `ledger run add` would refuse it
    refused(proj, needle)


def test_run_add_and_rm_write_the_run_stage_and_refuse_what_dvc_cannot_take(proj):
    (proj.root / "run.yaml").write_text("task: qa\nprovider: precomputed\npredictions: tools/p.jsonl\n"
                                        "metrics: [accuracy]\n")
    (proj.root / "tools/p.jsonl").write_text("")
    files = lambda: {q.relative_to(proj.root).as_posix(): q.read_bytes() for q in proj.root.rglob("*")  # noqa: E731
                     if q.is_file() and not q.relative_to(proj.root).as_posix().startswith((".git/", ".dvc/tmp"))}
    before = files()
    for run_id, needle in (("v1.1", "no '.' in a run id"), ("Bad", "invalid run id"), ("../x", "invalid run id")):
        proc = proj.ledger("run", "add", run_id, "--config", "run.yaml", "--dataset", "data.jsonl")
        assert proc.returncode == 2 and needle in proc.stderr and len(proc.stderr.splitlines()) == 1, proc.stderr
    for args, needle in ((("--config", "nope.yaml", "--dataset", "data.jsonl"), "config not found"),
                         (("--config", "run.yaml", "--dataset", "/etc/passwd"), "must be a path inside")):
        proc = proj.ledger("run", "add", "r2", *args)
        assert proc.returncode == 2 and needle in proc.stderr, proc.stderr
    assert files() == before  # nothing half-written
    assert proj.ledger("run", "add", "r2", "--config", "run.yaml", "--dataset", "data.jsonl").returncode == 0
    stage_dir = proj.root / "data/eval/pipelines/r2"
    assert sorted(p.name for p in stage_dir.iterdir()) == ["dvc.yaml", "params.yaml"]
    assert yaml.safe_load((stage_dir / "params.yaml").read_text()) == {
        "config": "run.yaml", "dataset": "data.jsonl", "code": "tools/p.jsonl"}  # the file the run reads
    dup = proj.ledger("run", "add", "r2", "--config", "run.yaml", "--dataset", "data.jsonl")
    assert dup.returncode == 2 and "already declared" in dup.stderr
    assert proj.ledger("run", "rm", "r2").returncode == 0
    assert files() == before
    assert "unknown run 'r2'" in proj.ledger("run", "rm", "r2").stderr
    # A hand-written run with a dot is refused by every command that lists runs.
    declare_run(proj, "v1.1", "run.yaml", "data.jsonl")
    proc = proj.ledger("list", "--all")
    assert proc.returncode == 2 and "no '.' in a run id" in proc.stderr


def test_declared_comparability_keys_must_match_to_rank(proj):
    preds = proj.root / "tools/preds.jsonl"
    preds.write_text('{"case_id": "a", "answer": "4"}\n{"case_id": "b", "answer": "5"}\n')
    base = "task: qa\nprovider: precomputed\npredictions: tools/preds.jsonl\nmetrics: [{scorer: exact_match, field: answer}]\n"
    for run_id, policy in (("p7", "p-7"), ("p8", "p-8"), ("p7b", "p-7")):
        (proj.root / f"{run_id}.yaml").write_text(base + f"comparability: {{policy_id: {policy}}}\n")
        assert proj.ledger("run", "add", run_id, "--config", f"{run_id}.yaml", "--dataset", "data.jsonl").returncode == 0
        assert stage(proj, run_id).returncode == 0
    proc = proj.ledger("compare", "p7", "p8")
    assert proc.returncode == 2 and "comparability differs (policy_id: p-7 vs p-8)" in proc.stderr, proc.stderr
    assert proj.ledger("compare", "p7", "p7b").returncode == 0


def test_builtin_rouge_token_f1_and_entity_scorers(proj):
    (proj.root / "data.jsonl").write_text(
        json.dumps({"case_id": "a", "reference": "the cat sat on the mat", "entities": ["Paris", "Ada"]}) + "\n"
        + json.dumps({"case_id": "b", "reference": "dogs bark", "entities": ["Rome"]}) + "\n")
    (proj.root / "tools/p.jsonl").write_text(
        json.dumps({"case_id": "a", "summary": "the cat sat on the mat", "entities": ["Paris"]}) + "\n"
        + json.dumps({"case_id": "b", "summary": "cats meow", "entities": ["Rome", "Oslo"]}) + "\n")
    declare(proj, "task: mixed\nprovider: precomputed\npredictions: tools/p.jsonl\nmetrics:\n"
                  "  - {scorer: rouge, field: summary, reference: reference}\n"
                  "  - {scorer: token_f1, field: summary, reference: reference}\n"
                  "  - {scorer: entity_f1, field: entities}\n"
                  "  - {name: exact, scorer: exact_match, field: summary, reference: reference}\n")
    assert stage(proj).returncode == 0, stage(proj).stderr
    m = run_of(proj)["metrics.json"]["metrics"]
    assert m["rouge1"] == m["rouge2"] == m["rougeL"] == 0.5  # one perfect case, one with no overlap
    assert m["token_f1"] == 0.5 and m["exact"] == 0.5
    assert (m["entity_precision"], m["entity_recall"], m["entity_f1"]) == (0.666667, 0.666667, 0.666667)
    rows = [json.loads(line) for line in (proj.root / "data/eval/runs/r1/scores.jsonl").read_text().splitlines()]
    assert rows[0]["scores"]["entity_f1"] == 0.666667 and rows[1]["scores"]["rouge1"] == 0.0
    (proj.root / "tools/p.jsonl").write_text(
        json.dumps({"case_id": "a", "summary": 5, "entities": []}) + "\n" + json.dumps({"case_id": "b"}) + "\n")
    refused(proj, "scorer 'rouge': prediction of case 'a' must be text, not int")


@pytest.mark.parametrize("where", ["dataset", "config"])
def test_nan_and_infinity_never_reach_a_digest(proj, where):
    (proj.root / "tools/p.jsonl").write_text('{"case_id": "a", "answer": "4"}\n{"case_id": "b", "answer": "6"}\n')
    config = "task: qa\nprovider: precomputed\npredictions: tools/p.jsonl\nmetrics: [{scorer: exact_match, field: answer}]\n"
    if where == "dataset":
        (proj.root / "data.jsonl").write_text('{"case_id": "a", "answer": "4", "w": NaN}\n{"case_id": "b", "answer": "6"}\n')
        declare(proj, config)
        refused(proj, "data.jsonl:1: not a UTF-8 JSON object (ValueError)")
    else:
        (proj.root / "run.yaml").write_text(config + "params: {threshold: .inf}\n")
        add = proj.ledger("run", "add", "r1", "--config", "run.yaml", "--dataset", "data.jsonl", "--code", "tools")
        assert add.returncode == 2 and "NaN or infinity in a config" in add.stderr  # refused when declared...
        declare_run(proj, "r1", "run.yaml", "data.jsonl", "tools")
        refused(proj, "NaN or infinity in a config")  # ...and when run from a hand-written entry
