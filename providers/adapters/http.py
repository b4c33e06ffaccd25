"""A small JSON-over-HTTP client shared by adapters: timeouts, retries, call counting, redaction.

Every request has a (connect, read) timeout and goes through one retry loop (``_send``) applying
``providers.adapters.retry.RetryPolicy``: 429, 5xx and connection failures are retried with
backoff and jitter or as ``Retry-After`` says; 401/403 never are. ``sleep`` and ``rng`` are
injectable so tests can assert the waits without waiting.

All our provider calls are reads (a POST to a token or query endpoint included), so every method
is retried.

**Envelopes.** Some providers wrap every answer, and some report errors inside a 200 (Beget:
``{"status": "error", ...}``). A ``ResponseEnvelope`` given to the client decodes each 2xx JSON
body: it returns the payload the caller wants, or raises a ``ProviderError`` for an error the
envelope carries. That error is treated like the same failure sent as an HTTP status: refused
credentials (``ProviderAuthError``) are never retried, ``ProviderRateLimited`` and
``ProviderUnavailable`` are retried under the same policy and attempt budget as a 429 or 503.
Envelopes may also read error bodies of non-2xx answers (``error_detail``).
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
_CREDENTIAL_WORDS = ("token", "passw", "secret", "login")
_NOISE = frozenset({"pageSize", "input_data", "input_format", "output_format"})


class ResponseEnvelope:
    """How a provider wraps its JSON answers; the default is "not at all".

    ``unwrap`` gets the decoded body of every 2xx answer and returns what the caller asked for,
    or raises a ``ProviderError`` (its message should start with ``provider`` and name ``what``,
    the request as ``describe`` puts it). ``error_detail`` may give (code, message) from the JSON
    body of a non-2xx answer; None falls back to the client's generic reading.
    """

    def unwrap(self, body: Any, *, provider: str, what: str, status: int) -> Any:
        return body

    def error_detail(self, body: Any) -> tuple[Any, str] | None:
        return None


PLAIN = ResponseEnvelope()


def describe(method: str, url: str, params: dict[str, Any] | None) -> str:
    """``GET /path?folderId=...`` for messages: scope parameters help the operator, paging
    parameters only add noise, and anything named like a credential (a token, a password, a
    secret; Beget's hosting API takes ``passwd`` in the query) is left out on principle."""
    shown = {
        k: v
        for k, v in (params or {}).items()
        if not any(word in k.lower() for word in _CREDENTIAL_WORDS)
        and k not in _NOISE
        and v not in (None, "")
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
        envelope: ResponseEnvelope | None = None,
    ) -> None:
        self.provider = provider
        self.envelope = envelope or PLAIN
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
        data: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """Send a request and return the decoded JSON body (unwrapped by the client's envelope),
        retrying transient failures. ``data`` sends a form-encoded body instead of JSON."""
        what = describe(method, url, params)
        return self._send(
            what,
            lambda: self.session.request(
                method,
                url,
                params=params,
                json=json_body,
                data=data,
                headers=headers,
                timeout=self.timeout,
            ),
            decode=lambda response: self._unwrap(response, what),
        )

    def _send(
        self,
        what: str,
        attempt_once: Callable[[], requests.Response],
        *,
        decode: Callable[[requests.Response], Any] | None = None,
    ) -> Any:
        """Call ``attempt_once`` until it answers below 300, under the retry policy; raise the
        last failure (a ProviderError) otherwise. With ``decode``, a 2xx answer is decoded
        inside the loop, so that a retryable error found in the body (an envelope's rate limit)
        is retried like a 429; the decoded value is returned instead of the response."""
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
                    if decode is None:
                        return response
                    try:
                        return decode(response)
                    except ProviderError as exc:
                        if not exc.retryable:
                            raise
                        failure, retry_after = exc, getattr(exc, "retry_after", None)
                else:
                    failure, retry_after = self._failure(response, what)
                    response.close()
                    if not policy.retryable(response.status_code):
                        raise failure
            if attempt >= policy.max_attempts:
                raise failure.annotate(f"gave up after {attempt} attempts")
            with self._lock:
                self.retries += 1
            policy.sleep(policy.delay(attempt, retry_after))

    def _unwrap(self, response: requests.Response, what: str) -> Any:
        body = self._decode(response, what)
        try:
            return self.envelope.unwrap(
                body, provider=self.provider, what=what, status=response.status_code
            )
        except ProviderError as exc:
            exc.message = self.redact(exc.message)
            exc.args = (exc.message,)
            raise

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
        code, detail = self._error_detail(response)
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

    def _error_detail(self, response: requests.Response) -> tuple[Any, str]:
        if self.envelope is not PLAIN:
            try:
                body = json.loads(response.content) if response.content else None
            except ValueError:
                body = None
            found = self.envelope.error_detail(body) if body is not None else None
            if found is not None:
                return found
        return self.error_detail(response)

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
