"""Hostile configs, datasets and params.yaml entries given to materialization: a clear
one-line UsageError, and no run dir and no half-written staging dir. Hypothesis drives
ledger.run.materialize in-process; a few examples go through the DVC stage script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from conftest import BIN, declare_run
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import layout, runs
from ledger.errors import LedgerError, UsageError
from ledger.run.materialize import materialize

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
RUN = "hostile"
CONFIG = "data/eval/configs/hostile.yaml"
DATASET = "data/eval/datasets/hostile.jsonl"
GOOD_CONFIG = b"task: summarization\nprovider: lead\nparams:\n  sentences: 1\n"
NER_CONFIG = b"task: ner_entities\nprovider: keyword_ner\n"
GOOD_CASE = {"case_id": "c1", "document": "One sentence. Two.", "reference": "One."}


def jsonl(*cases) -> bytes:
    return b"".join(json.dumps(c).encode() + b"\n" for c in cases)


@pytest.fixture
def box(repo):
    """`repo` with a run `hostile` declared (its stage directory), its inputs valid to start with."""
    declare_run(repo, RUN, CONFIG, DATASET)
    (repo.root / CONFIG).write_bytes(GOOD_CONFIG)
    (repo.root / DATASET).write_bytes(jsonl(GOOD_CASE))
    return repo


def runs_listing(box) -> list[str]:
    return sorted(os.listdir(box.root / layout.RUNS))


def assert_refused(box, config: bytes | None = None, dataset: bytes | None = None, run_id: str = RUN) -> str:
    if config is not None:
        (box.root / CONFIG).write_bytes(config)
    if dataset is not None:
        (box.root / DATASET).write_bytes(dataset)
    before = runs_listing(box)
    with pytest.raises(UsageError) as info:
        materialize(box.root, run_id)
    msg = str(info.value)
    assert msg and msg.isprintable() and len(msg) <= 300, repr(msg)[:400]
    assert runs_listing(box) == before, "materialize left something in data/eval/runs"
    assert not (box.root / layout.run_dir(RUN)).exists()
    return msg


def test_the_fixture_run_is_valid(box):
    """Control: the very same setup with valid inputs materializes (so refusals below are
    caused by the hostile input alone)."""
    out = materialize(box.root, RUN)
    assert (out / "predictions.jsonl").read_text().count("\n") == 1


# ---- configs --------------------------------------------------------------------------------

MALFORMED_YAML = [b"task: [unclosed", b"task: 'unterminated\nprovider: lead\n", b"{a: 1", b"a:\n\t- tab indent",
                  b"key: value\n  bad: indent\n- item", b"[" * 50_000, b"%YAML 9.9\n---\na: 1",
                  b"task: !!python/object/apply:os.system ['touch pwned']\nprovider: lead\n"]
BOMB = b"a: &a [x, x, x, x, x, x, x, x, x]\n" + b"".join(
    f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n".encode()
    for p, c in zip("abcdefgh", "bcdefghi")) + b"task: summarization\nprovider: lead\nnotes: *i\n"
NON_MAPPING = [b"- task\n- provider\n", b"just a string", b"42", b"null", b"", b"~", b"[]", b"--- []\n"]
BAD_PARAMS = [{"sentences": "two"}, {"sentences": -1}, {"sentences": True}, {"sentences": 1.5},
              {"unknown": 1}, "not a mapping", [1, 2], {"max_words": [1]}, {"sentences": None}]
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
json_values = st.recursive(json_scalars, lambda kids: st.lists(kids, max_size=3) | st.dictionaries(
    st.text(max_size=5), kids, max_size=3), max_leaves=8)


def dump(data) -> bytes:
    return yaml.safe_dump(data, allow_unicode=True).encode()


hostile_configs = st.one_of(
    st.sampled_from(MALFORMED_YAML + NON_MAPPING + [BOMB]),
    st.binary(max_size=200),  # random bytes: non-UTF-8 or not a config
    st.builds(lambda junk: GOOD_CONFIG + b"# " + junk, st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80"])),
    st.builds(lambda t, p: dump({"task": t, "provider": p}),  # wrong types (at least one)
              st.one_of(st.integers(), st.lists(st.text(max_size=3)), st.none(), st.booleans()), json_values),
    st.builds(lambda name: dump({"task": "summarization", "provider": name}),  # unknown provider
              st.text(max_size=300).filter(lambda s: s not in ("lead", "keyword_ner"))),
    st.builds(lambda params: dump({"task": "summarization", "provider": "lead", "params": params}),
              st.sampled_from(BAD_PARAMS)),
    st.just(dump({"task": "ner_entities", "provider": "lead"})),  # provider does another task
    st.just(dump({"task": "x" * 100_000, "provider": "lead"})),  # huge value
    st.just(GOOD_CONFIG + b"notes: " + b"x" * (2 << 20) + b"\n"),  # huge file
)


@SETTINGS
@given(config=hostile_configs)
def test_hostile_config_is_refused_and_nothing_written(box, config):
    assert_refused(box, config=config)


def test_specific_config_errors_say_what_is_wrong(box):
    assert "aliases" in assert_refused(box, config=BOMB)
    assert "too big" in assert_refused(box, config=GOOD_CONFIG + b"n: " + b"x" * (2 << 20))
    assert "not valid UTF-8 YAML" in assert_refused(box, config=GOOD_CONFIG + b"# \xff\n")
    assert "mapping" in assert_refused(box, config=b"- a\n")
    assert "(RecursionError)" in assert_refused(box, config=b"[" * 50_000)
    assert "unknown provider" in assert_refused(box, config=dump({"task": "summarization", "provider": "gpt"}))
    assert "must be int" in assert_refused(box, config=dump({"task": "summarization", "provider": "lead",
                                                             "params": {"sentences": "2"}}))
    assert not (box.root / "pwned").exists()


# ---- datasets -------------------------------------------------------------------------------

hostile_datasets = st.one_of(
    st.sampled_from([b"", b"\n\n  \n", b"{not json\n", b"[1, 2]\n", b"42\n", b'"case"\n', b"[" * 100_000 + b"\n",
                     jsonl(GOOD_CASE) + b'{"case_id": "c2", "document": "\xff\xfe"}\n',
                     jsonl(GOOD_CASE, GOOD_CASE),  # duplicate case_id
                     jsonl(GOOD_CASE, {"document": "no id"}),
                     b'{"case_id": "x", "document": "' + b"a" * 5_000_000 + b"\n"]),  # a huge, broken line
    st.builds(lambda cid: jsonl({**GOOD_CASE, "case_id": cid}),  # not a non-empty string
              st.one_of(st.integers(), st.none(), st.just(""), st.lists(st.integers(), max_size=2), st.booleans())),
    st.builds(lambda doc: jsonl({"case_id": "c1", "document": doc}), json_values.filter(lambda v: not isinstance(v, str))),
    st.builds(lambda good, junk: jsonl(good) + junk + b"\n", st.just(GOOD_CASE),
              st.binary(min_size=1, max_size=50).filter(lambda b: b.strip() and not b.strip().startswith(b"{"))),
)


@SETTINGS
@given(dataset=hostile_datasets)
def test_hostile_dataset_is_refused_and_nothing_written(box, dataset):
    assert_refused(box, dataset=dataset)


@SETTINGS
@given(entities=json_values, text=json_values)
def test_ner_dataset_of_any_json_shape_never_crashes(box, entities, text):
    """Whatever JSON a NER case carries, materialize either succeeds or refuses cleanly."""
    (box.root / CONFIG).write_bytes(NER_CONFIG)
    (box.root / DATASET).write_bytes(jsonl({"case_id": "c1", "text": text, "entities": entities}))
    try:
        materialize(box.root, RUN)
    except LedgerError as exc:
        assert str(exc).isprintable() and len(str(exc)) <= 300
        assert not (box.root / layout.run_dir(RUN)).exists()
    else:
        assert isinstance(text, str)
        metrics = json.loads((box.root / layout.run_dir(RUN) / "metrics.json").read_text())
        assert 0 <= metrics["metrics"]["entity_f1"] <= 1
        shutil.rmtree(box.root / layout.run_dir(RUN))
    assert [n for n in runs_listing(box) if n.startswith(f".{RUN}.")] == []  # no staging dir left


def test_specific_dataset_errors_say_where(box):
    assert "has no cases" in assert_refused(box, dataset=b"")
    assert ":2: duplicate case_id 'c1'" in assert_refused(box, dataset=jsonl(GOOD_CASE, GOOD_CASE))
    assert ":1: not a UTF-8 JSON object" in assert_refused(box, dataset=b'{"case_id": "\xff"}\n')
    assert ":2: each line must be an object" in assert_refused(box, dataset=jsonl(GOOD_CASE, {"x": 1}))
    assert ":1: not a UTF-8 JSON object (RecursionError)" in assert_refused(box, dataset=b"[" * 100_000 + b"\n")
    assert "'entities' must be a list of strings" in assert_refused(
        box, config=NER_CONFIG, dataset=jsonl({"case_id": "c1", "text": "Acme", "entities": [{"x": 1}]}))


# ---- params.yaml entries and run ids --------------------------------------------------------


@pytest.mark.parametrize("key", ["config", "dataset"])
@pytest.mark.parametrize("path", ["../outside.yaml", "/etc/passwd", "data/../../outside.yaml", "", " ",
                                  "data/eval/link-out", "x\x00y"])
def test_params_paths_outside_the_repository_are_refused(box, key, path):
    outside = box.root.parent / "outside.yaml"
    outside.write_bytes(GOOD_CONFIG if key == "config" else jsonl(GOOD_CASE))
    (box.root / "data/eval/link-out").symlink_to(outside)  # inside by name, outside by target
    decl = box.root / layout.pipeline_dir(RUN) / "params.yaml"
    target = CONFIG if key == "config" else DATASET
    text = decl.read_text()
    assert f"{key}: {json.dumps(target)}" in text
    decl.write_text(text.replace(f"{key}: {json.dumps(target)}", f"{key}: {json.dumps(path)}", 1))
    assert "must be a path inside the repository" in assert_refused(box)


@SETTINGS
@given(run_id=st.text(max_size=200).filter(lambda s: not layout._ID.fullmatch(s)))
def test_hostile_run_id_to_materialize_is_refused(box, run_id):
    assert "invalid run id" in assert_refused(box, run_id=run_id)


def test_non_mapping_declarations_are_refused(box):
    """The run's own declaration (data/eval/pipelines/<run>/params.yaml) in every broken shape."""
    decl = box.root / layout.pipeline_dir(RUN) / "params.yaml"
    good = decl.read_bytes()
    for text in (b"[a, b]\n", b"config: 1\ndataset: x\n", b"config: [1]\ndataset: x\n", b"- not\n- a mapping\n",
                 b"config: [unclosed\n", b"config: \xff\n", b"\xff\xfe", b"", b"config: a\ndataset: b\nextra: c\n",
                 b"config: /etc/passwd\ndataset: x\n", b"config: " + b"[" * 40000 + b"\n"):
        decl.write_bytes(text)
        assert f"{layout.pipeline_dir(RUN)}/params.yaml" in assert_refused(box)
    decl.write_bytes(good)


def test_non_mapping_runs_in_an_older_projects_params_are_refused(box):
    """Projects made by an older ledger declare runs under `runs:` in params.yaml: still read,
    so still checked."""
    (box.root / layout.pipeline_dir(RUN) / "params.yaml").unlink()  # declared in params.yaml only
    params = box.root / "params.yaml"
    good = params.read_text()
    for text in ("runs: [a, b]\n", "runs: {hostile: [1]}\n", "runs: {hostile: {config: 1, dataset: x}}\n",
                 "- not\n- a mapping\n", "runs: {hostile: {config: [unclosed\n", "runs:\n  hostile: \xff\n"):
        params.write_text(text)
        assert_refused(box)
    params.write_bytes(b"runs: \xff\xfe\n")
    assert "params.yaml" in assert_refused(box)
    params.write_text(good + f"runs:\n  {RUN}: {{config: {CONFIG}, dataset: {DATASET}, code: {CONFIG}}}\n")
    assert (materialize(box.root, RUN) / "predictions.jsonl").is_file()  # the older layout still runs


def test_stage_script_reports_one_error_line(box):
    """The DVC stage (what `dvc repro` runs) turns the same refusals into one `error:` line."""
    (box.root / CONFIG).write_bytes(BOMB)
    proc = subprocess.run([str(BIN / "ledger"), "stage", "materialize", RUN], cwd=box.root, env=box.env,
                          capture_output=True, text=True)
    assert proc.returncode != 0
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "aliases" in lines[0], proc.stderr
    assert not (box.root / layout.run_dir(RUN)).exists()
    assert runs.declared_runs(box.root)[RUN]["config"] == CONFIG


@pytest.mark.parametrize("runs_yaml", ['"../../..": {config: a, dataset: b}', "1: {config: a, dataset: b}",
                                       "ok-run: [1]", '"a/b": {config: a, dataset: b}'])
def test_hostile_run_keys_in_params_fail_listing_cleanly(box, runs_yaml):
    """`ledger list --all` walks every declared run: a key that is not a run id (a path, a
    number) or an entry that is not a mapping is one error line, not a traceback or a read
    outside data/eval/runs."""
    params = box.root / "params.yaml"
    params.write_text(params.read_text() + f"runs:\n  {runs_yaml}\n")
    before = box.snapshot()
    proc = box.ledger("list", "--all")
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0].startswith(("error: params.yaml: runs.", "error: invalid run id in params.yaml")), lines[0]
    assert box.snapshot() == before


@pytest.mark.parametrize("name", ["Bad", "v1.1", "-x", "a b", "x" * 101])
def test_hostile_run_directories_fail_listing_cleanly(box, name):
    """A directory under data/eval/pipelines whose name is not a run id (DVC would read a dot
    as nesting; a path, a space): one error line from every command that lists runs."""
    declare_run(box, name, CONFIG, DATASET)
    before = box.snapshot()
    proc = box.ledger("list", "--all")
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "data/eval/pipelines" in lines[0], proc.stderr
    assert box.snapshot() == before
