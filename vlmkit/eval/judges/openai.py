"""``openai``: a judge behind any OpenAI-compatible ``POST {base_url}/chat/completions`` endpoint.

Settings come from the options or else the environment: ``VLMKIT_JUDGE_BASE_URL`` (default
``https://api.openai.com/v1``), ``VLMKIT_JUDGE_MODEL`` and ``VLMKIT_JUDGE_API_KEY`` (else
``OPENAI_API_KEY``). The key is sent only in the ``Authorization`` header: it is never logged, never
part of an error message, and hidden from ``repr``.

Timeouts, connection errors, HTTP 429 and 5xx, and replies that are not chat completions are retried
``max_retries`` times with exponential backoff (``Retry-After`` is honoured up to ``max_wait``);
then :class:`JudgeError` says which failure it was. Other HTTP errors (401, 404, ...) fail at once.
Only the standard library is used.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import urllib.error
import urllib.request

from vlmkit.eval.judges.base import Judge, JudgeError

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
RETRIED_STATUS = {429, 500, 502, 503, 504}


class OpenAIJudge(Judge):
    """Chat completions from ``model`` at ``base_url`` (see the module doc for the defaults)."""

    def __init__(self, model: str | None = None, base_url: str | None = None, api_key: str | None = None, timeout: float = 60.0,
                 max_retries: int = 3, backoff: float = 1.0, max_wait: float = 30.0) -> None:
        self.model = model or os.environ.get("VLMKIT_JUDGE_MODEL")
        if not self.model:
            raise ValueError("the openai judge needs a model: set VLMKIT_JUDGE_MODEL or the judge option model (e.g. gpt-4-0613)")
        self.base_url = (base_url or os.environ.get("VLMKIT_JUDGE_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self._key = api_key or os.environ.get("VLMKIT_JUDGE_API_KEY") or os.environ.get("OPENAI_API_KEY")
        if max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, got {max_retries}")
        self.timeout, self.max_retries, self.backoff, self.max_wait = timeout, max_retries, backoff, max_wait
        self.calls = 0  # HTTP requests sent, retries included

    def __repr__(self) -> str:
        return f"OpenAIJudge(model={self.model!r}, base_url={self.base_url!r}, api_key={'set' if self._key else 'unset'})"

    def complete(self, prompt: str, *, system: str | None = None, temperature: float = 0.0, max_tokens: int = 1024) -> str:
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
        body = json.dumps({"model": self.model, "messages": messages, "temperature": temperature, "max_tokens": max_tokens}).encode()
        failure = JudgeError("connection", "no request was sent")
        for attempt in range(self.max_retries + 1):
            try:
                return self._post(body)
            except _Retry as retry:
                failure = retry.error
                if attempt < self.max_retries:
                    wait = min(self.max_wait, retry.after if retry.after is not None else self.backoff * 2**attempt)
                    log.info("judge %s: %s; retry %d of %d in %.1fs", self.model, failure, attempt + 1, self.max_retries, wait)
                    time.sleep(wait)
        raise JudgeError(failure.reason, f"{failure} (after {self.max_retries + 1} attempts)")

    def _post(self, body: bytes) -> str:
        headers = {"Content-Type": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        request = urllib.request.Request(f"{self.base_url}/chat/completions", data=body, headers=headers, method="POST")
        self.calls += 1
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            reason = "rate_limited" if exc.code == 429 else "http_error"
            error = JudgeError(reason, f"{self.base_url} answered HTTP {exc.code}")
            if exc.code in RETRIED_STATUS:
                raise _Retry(error, _retry_after(exc.headers.get("Retry-After"))) from None
            raise error from None
        except (TimeoutError, socket.timeout):
            raise _Retry(JudgeError("timeout", f"{self.base_url} did not answer within {self.timeout:g}s")) from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, (TimeoutError, socket.timeout)):
                raise _Retry(JudgeError("timeout", f"{self.base_url} did not answer within {self.timeout:g}s")) from None
            raise _Retry(JudgeError("connection", f"cannot reach {self.base_url}: {exc.reason}")) from None
        try:
            return json.loads(raw)["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise _Retry(JudgeError("malformed", f"{self.base_url} sent a reply that is not a chat completion ({raw[:60]!r})")) from None


class _Retry(Exception):
    def __init__(self, error: JudgeError, after: float | None = None) -> None:
        self.error, self.after = error, after


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
