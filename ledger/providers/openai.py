"""`provider: openai`: an OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, llama.cpp,
Ollama, a gateway...). One request per case: `prompt` is a template over the case's fields
(`"Summarise: {document}"`); the answer's text becomes the output field (`output_field`,
default `output`). The API key is read from the environment variable named by `api_key_env`
and is never written anywhere; base_url, model, sampling settings and the responses'
`system_fingerprint`s are recorded. Bounded concurrency, a timeout per request, retries with
exponential backoff (honouring Retry-After) on 429, 5xx and connection errors."""

from __future__ import annotations

import json
import os
import re
import string
import time
import urllib.error
import urllib.request
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Any

from .. import progress
from ..errors import LedgerError, UsageError
from ..hashing import bytes_sha256
from ..layout import brief
from .base import Provider, check_output

_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_BACKOFF = 30.0


class OpenAIProvider(Provider):
    kind = "openai"
    options = {
        "base_url": (str, ...), "model": (str, ...), "prompt": (str, ...), "system": (str, None),
        "temperature": ((int, float), 0), "seed": (int, None), "max_tokens": (int, None),
        "api_key_env": (str, None), "concurrency": (int, 4), "timeout": ((int, float), 60),
        "retries": (int, 5), "backoff": ((int, float), 1.0), "output_field": (str, "output"),
    }

    def validate(self) -> None:
        o, w = self.opts, self.where
        if not re.match(r"https?://[^\s/]+", o["base_url"]):
            raise UsageError(f"{w}: `base_url` must be an http(s) URL, e.g. https://api.openai.com/v1")
        if not 1 <= o["concurrency"] <= 64 or not 0 <= o["retries"] <= 20 or o["timeout"] <= 0 or o["backoff"] < 0:
            raise UsageError(f"{w}: concurrency 1-64, retries 0-20, timeout > 0 and backoff >= 0")
        self.fields = []
        try:
            parsed = list(string.Formatter().parse(o["prompt"]))
        except ValueError as exc:
            raise UsageError(f"{w}: `prompt` is not a valid template ({exc}); write {{{{ and }}}} for braces") from None
        for _, field, spec, conv in parsed:
            if field is None:
                continue
            if not _FIELD.fullmatch(field) or spec or conv:
                raise UsageError(f"{w}: `prompt` placeholder {{{brief(field)}}} must be a plain case field name")
            self.fields.append(field)
        self.key = None  # read when the run executes: declaring a run needs no secret
        self.version = o["model"]
        self.fingerprints: set[str] = set()

    def identity(self) -> str:
        return f"{self.opts['model']} @ {self.opts['base_url']}"

    def describe(self) -> dict[str, Any]:
        o = self.opts
        return {**super().describe(), "base_url": o["base_url"], "model": o["model"],
                "temperature": o["temperature"], "seed": o["seed"], "max_tokens": o["max_tokens"],
                "prompt_sha256": bytes_sha256(o["prompt"].encode()), "system_sha256":
                bytes_sha256(o["system"].encode()) if o["system"] else None,
                "system_fingerprint": sorted(self.fingerprints), "api_key_env": o["api_key_env"]}

    def _body(self, case: dict[str, Any]) -> bytes:
        missing = [f for f in self.fields if f not in case]
        if missing:
            raise UsageError(f"{self.where}: case {brief(case.get('case_id'))} has no field {missing[0]!r} "
                             "used by `prompt`")
        messages = ([{"role": "system", "content": self.opts["system"]}] if self.opts["system"] else [])
        messages.append({"role": "user", "content": self.opts["prompt"].format_map(
            {f: case[f] if isinstance(case[f], str) else json.dumps(case[f]) for f in self.fields})})
        body: dict[str, Any] = {"model": self.opts["model"], "messages": messages,
                                "temperature": self.opts["temperature"]}
        for key in ("seed", "max_tokens"):
            if self.opts[key] is not None:
                body[key] = self.opts[key]
        return json.dumps(body).encode()

    def _ask(self, case: dict[str, Any]) -> dict[str, Any]:
        cid = case["case_id"]
        url = self.opts["base_url"].rstrip("/") + "/chat/completions"
        headers = {"Content-Type": "application/json"}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        body, attempt = self._body(case), 0
        while True:
            wait_for = None
            try:
                req = urllib.request.Request(url, data=body, headers=headers, method="POST")
                with urllib.request.urlopen(req, timeout=self.opts["timeout"]) as resp:
                    raw = resp.read()
                return self._answer(raw, cid)
            except urllib.error.HTTPError as exc:
                if exc.code != 429 and exc.code < 500:
                    detail = exc.read()[:200].decode("utf-8", "replace")
                    raise UsageError(f"openai provider: HTTP {exc.code} from {url} for case {brief(cid)}: "
                                     f"{brief(detail, 120)}") from None
                problem = f"HTTP {exc.code}"
                wait_for = _retry_after(exc.headers.get("Retry-After"))
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
                problem = getattr(exc, "reason", None) or exc.__class__.__name__
            if attempt >= self.opts["retries"]:
                raise UsageError(f"openai provider: case {brief(cid)} failed after {attempt + 1} attempt(s): "
                                 f"{problem} from {url}")
            time.sleep(min(MAX_BACKOFF, wait_for if wait_for is not None else self.opts["backoff"] * 2 ** attempt))
            attempt += 1

    def _answer(self, raw: bytes, cid: str) -> dict[str, Any]:
        try:
            data = json.loads(raw)
            content = data["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise UsageError(f"openai provider: malformed response for case {brief(cid)} "
                             f"(no choices[0].message.content): {brief(raw[:80])}") from None
        if not isinstance(content, str):
            raise UsageError(f"openai provider: response for case {brief(cid)} has non-text content")
        fp = data.get("system_fingerprint")
        if isinstance(fp, str):
            self.fingerprints.add(fp)
        return check_output({self.opts["output_field"]: content}, cid, "openai provider")

    def predict_all(self, cases: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        env = self.opts["api_key_env"]
        if env:
            self.key = os.environ.get(env)
            if not self.key:
                raise UsageError(f"{self.where}: environment variable {env} (api_key_env) is not set")
        for case in cases.values():
            self._body(case)  # a template error is found before any request is sent
        out: dict[str, dict[str, Any]] = {}
        with ThreadPoolExecutor(max_workers=self.opts["concurrency"]) as pool, \
                progress.task("openai", total=len(cases), unit="cases") as tick:
            futures = {pool.submit(self._ask, case): cid for cid, case in sorted(cases.items())}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    exc = fut.exception()
                    if exc is not None:
                        for other in pending:
                            other.cancel()
                        if isinstance(exc, LedgerError):
                            raise exc
                        raise UsageError(f"openai provider: {exc.__class__.__name__}: {exc}")
                    out[futures[fut]] = fut.result()
                    tick()
        return dict(sorted(out.items()))


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
