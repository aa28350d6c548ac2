"""`provider: openai` against a real OpenAI-compatible HTTP server on 127.0.0.1 (started and
stopped by the fixture): answers, retries on 429/5xx, timeouts, malformed answers, a bad key;
the key itself is never written anywhere."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

KEY = "sk-test-do-not-record-7f3a"
CASES = [{"case_id": f"c{i}", "question": f"q{i}", "answer": f"A: q{i}"} for i in range(6)]


class Server:
    def __init__(self):
        self.requests: list[dict] = []
        self.mode = "ok"
        self.failures: dict[str, int] = {}  # case question -> failures still to serve
        self.lock = threading.Lock()


@pytest.fixture
def llm():
    state = Server()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep pytest's output clean
            pass

        def _send(self, code: int, body: bytes, headers: dict | None = None):
            self.send_response(code)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            prompt = body["messages"][-1]["content"]
            with state.lock:
                state.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
                left = state.failures.get(prompt, 0)
                if left:
                    state.failures[prompt] = left - 1
            if state.mode == "auth" and self.headers.get("Authorization") != f"Bearer {KEY}x":
                return self._send(401, b'{"error": "invalid api key"}')
            if left:
                code = 429 if left % 2 else 503
                return self._send(code, b'{"error": "busy"}', {"Retry-After": "0"} if code == 429 else None)
            if state.mode == "slow":
                time.sleep(1.5)
            if state.mode == "malformed":
                return self._send(200, b'{"choices": []}')
            answer = {"choices": [{"message": {"role": "assistant", "content": prompt.replace("Answer ", "A: ")}}],
                      "system_fingerprint": "fp_test_1"}
            return self._send(200, json.dumps(answer).encode())

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    yield state
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def proj(fresh, llm):
    assert fresh.ledger("init").returncode == 0
    (fresh.root / "data.jsonl").write_text("".join(json.dumps(c) + "\n" for c in CASES))
    config = (f"task: qa\nprovider: openai\nbase_url: {llm.url}\nmodel: tiny-test\nprompt: 'Answer {{question}}'\n"
              "api_key_env: MY_LLM_KEY\nseed: 7\nmax_tokens: 16\nconcurrency: 3\nbackoff: 0.01\ntimeout: 5\n"
              "metrics: [{scorer: exact_match, field: output, reference: answer}]\n")
    (fresh.root / "llm.yaml").write_text(config)
    assert fresh.ledger("run", "add", "r1", "--config", "llm.yaml", "--dataset", "data.jsonl").returncode == 0
    return fresh


def stage(box, **env):
    return box.ledger("stage", "materialize", "r1", env={"MY_LLM_KEY": KEY, **env})


def no_key_anywhere(box) -> None:
    for path in box.root.rglob("*"):
        if path.is_file() and ".git" not in path.parts:
            assert KEY.encode() not in path.read_bytes(), path


def test_answers_are_scored_and_the_endpoint_is_provenance(proj, llm):
    llm.failures = {"Answer q1": 3, "Answer q4": 1}  # 429, 503, 429 then fine; and one 429
    proc = stage(proj)
    assert proc.returncode == 0, proc.stderr
    run = proj.root / "data/eval/runs/r1"
    assert json.loads((run / "metrics.json").read_text())["metrics"] == {"exact_match": 1.0}
    prov = json.loads((run / "fingerprint.json").read_text())["provider"]
    assert prov["base_url"] == llm.url and prov["model"] == "tiny-test" and prov["seed"] == 7
    assert prov["system_fingerprint"] == ["fp_test_1"] and prov["api_key_env"] == "MY_LLM_KEY"
    assert len(llm.requests) == len(CASES) + 4
    first = llm.requests[0]
    assert first["path"] == "/v1/chat/completions" and first["auth"] == f"Bearer {KEY}"
    assert first["body"]["model"] == "tiny-test" and first["body"]["max_tokens"] == 16 and first["body"]["seed"] == 7
    no_key_anywhere(proj)


@pytest.mark.parametrize("mode, extra, needle", [
    ("malformed", "", "malformed response for case"),
    ("auth", "", "HTTP 401 from"),
    ("slow", "timeout: 0.3\nretries: 1\n", "failed after 2 attempt(s)"),
    ("ok", "retries: 2\n", "failed after 3 attempt(s): HTTP 429"),
])
def test_failures_are_one_line_and_write_no_run(proj, llm, mode, extra, needle):
    llm.mode = mode
    if extra:
        (proj.root / "llm.yaml").write_text((proj.root / "llm.yaml").read_text().replace("timeout: 5\n", "") + extra)
    if mode == "ok":
        llm.failures = {"Answer q2": 5}
    proc = stage(proj)
    err = proc.stderr.strip()
    assert proc.returncode == 2 and err.startswith("error: ") and "\n" not in err, proc.stderr
    assert needle in err, err
    assert not (proj.root / "data/eval/runs/r1").exists()
    no_key_anywhere(proj)


def test_missing_key_and_bad_template_fail_before_any_request(proj, llm):
    proc = proj.ledger("stage", "materialize", "r1")
    assert proc.returncode == 2 and "environment variable MY_LLM_KEY (api_key_env) is not set" in proc.stderr
    config = proj.root / "llm.yaml"
    config.write_text(config.read_text().replace("Answer {question}", "Answer {missing_field}"))
    proc = stage(proj)
    assert proc.returncode == 2 and "has no field 'missing_field' used by `prompt`" in proc.stderr
    config.write_text(config.read_text().replace("Answer {missing_field}", "Answer {question.__class__}"))
    proc = stage(proj)
    assert proc.returncode == 2 and "must be a plain case field name" in proc.stderr
    assert llm.requests == []
