"""A small JSON-over-HTTP client shared by adapters: timeouts, retries, call counting, redaction.

Every request has a (connect, read) timeout and goes through one retry loop (``_send``) applying
``providers.adapters.retry.RetryPolicy``: 429, 5xx and connection failures are retried with
backoff and jitter or as ``Retry-After`` says; 401/403 never are. ``sleep`` and ``rng`` are
injectable so tests can assert the waits without waiting.

All our provider calls are reads (a POST to a token or query endpoint included), so every method
is retried.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests

from providers.adapters.base import (
    ProviderAuthError,
    ProviderError,
    ProviderPermissionDenied,
    ProviderRateLimited,
    ProviderResponseError,
    ProviderUnavailable,
)
from providers.adapters.retry import TRANSPORT_ERRORS, RetryPolicy, parse_retry_after

_REDACTED = "[redacted]"


def describe(method: str, url: str, params: dict[str, Any] | None) -> str:
    """``GET /path?folderId=...`` for messages: scope parameters help the operator, paging
    parameters only add noise, and anything named like a token is left out on principle."""
    shown = {
        k: v
        for k, v in (params or {}).items()
        if "token" not in k.lower() and k != "pageSize" and v not in (None, "")
    }
    query = "?" + urlencode(shown) if shown else ""
    return f"{method} {urlsplit(url).path}{query}"


class HttpClient:
    """JSON requests with retries. Thread-safe counters; one ``requests.Session`` for keep-alive."""

    def __init__(
        self,
        *,
        provider: str,
        timeout: tuple[float, float] = (5.0, 30.0),
        max_attempts: int = 5,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        max_retry_after: float = 300.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        session: requests.Session | None = None,
        user_agent: str = "InfraZen/0.1 (+https://github.com/infrazen)",
    ) -> None:
        self.provider = provider
        self.timeout = timeout
        self.retry = RetryPolicy(
            max_attempts=max_attempts,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            max_retry_after=max_retry_after,
            sleep=sleep,
            rng=rng or random.Random(),  # noqa: S311 -- jitter, not cryptography
        )
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = user_agent
        self.api_calls = 0
        self.retries = 0
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    # -- secrets ---------------------------------------------------------------------------------

    def add_secrets(self, values: Iterable[str | None]) -> None:
        """Remember values that must never appear in an error message (tokens, keys)."""
        self._secrets.update(v for v in values if v and len(v) >= 6)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, _REDACTED)
        return text

    # -- requests --------------------------------------------------------------------------------

    def request_json(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """Send a request and return the decoded JSON body, retrying transient failures."""
        what = describe(method, url, params)
        response = self._send(
            what,
            lambda: self.session.request(
                method, url, params=params, json=json_body, headers=headers, timeout=self.timeout
            ),
        )
        return self._decode(response, what)

    def _send(self, what: str, attempt_once: Callable[[], requests.Response]) -> requests.Response:
        """Call ``attempt_once`` until it answers below 300, under the retry policy; raise the
        last failure (a ProviderError) otherwise."""
        policy = self.retry
        attempt = 0
        while True:
            attempt += 1
            with self._lock:
                self.api_calls += 1
            try:
                response = attempt_once()
            except TRANSPORT_ERRORS as exc:
                failure: ProviderError = ProviderUnavailable(
                    self.redact(f"{self.provider}: {what} failed: {type(exc).__name__}")
                )
                retry_after = None
            else:
                if response.status_code < 300:
                    return response
                failure, retry_after = self._failure(response, what)
                response.close()
                if not policy.retryable(response.status_code):
                    raise failure
            if attempt >= policy.max_attempts:
                raise failure.annotate(f"gave up after {attempt} attempts")
            with self._lock:
                self.retries += 1
            policy.sleep(policy.delay(attempt, retry_after))

    def _decode(self, response: requests.Response, what: str) -> Any:
        if not response.content:
            return {}
        try:
            return json.loads(response.content)
        except ValueError as exc:
            raise ProviderResponseError(
                f"{self.provider}: {what} answered HTTP {response.status_code} with a body that is "
                f"not valid JSON ({exc.__class__.__name__} at byte {getattr(exc, 'pos', '?')})",
                status=response.status_code,
            ) from None

    def _failure(
        self, response: requests.Response, what: str
    ) -> tuple[ProviderError, float | None]:
        status = response.status_code
        code, detail = self.error_detail(response)
        text = f"{self.provider}: {what} answered HTTP {status}"
        if code not in (None, ""):
            text += f" (code {code})"
        if detail:
            text += f": {detail}"
        text = self.redact(text)
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if status == 403:
            return ProviderPermissionDenied(text, status=status, code=code), None
        if status == 401:
            return ProviderAuthError(text, status=status, code=code), None
        if status == 429:
            return ProviderRateLimited(
                text, status=status, code=code, retry_after=retry_after
            ), retry_after
        if status >= 500 or status == 408:
            return ProviderUnavailable(text, status=status, code=code), retry_after
        return ProviderResponseError(text, status=status, code=code), None

    @staticmethod
    def error_detail(response: requests.Response) -> tuple[Any, str]:
        """(code, message) from a JSON error body; the ``{code, message, details}`` shape that
        gRPC-transcoded APIs use is the common case. Non-JSON bodies give a trimmed excerpt."""
        try:
            body = json.loads(response.content) if response.content else {}
        except ValueError:
            return None, response.text[:200].strip()
        if not isinstance(body, dict):
            return None, ""
        message = body.get("message") or body.get("error_description") or body.get("error") or ""
        for detail in body.get("details") or ():
            if isinstance(detail, dict) and detail.get("requestId"):
                message = f"{message} [request {detail['requestId']}]"
                break
        return body.get("code"), str(message)[:500]
