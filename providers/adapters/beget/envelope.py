"""Beget hosting API envelopes: errors arrive with HTTP 200, in two styles.

Every answer of ``https://api.beget.com/api/<section>/<method>`` is wrapped twice::

    {"status": "success", "answer": {"status": "success", "result": ...}}

and an error is *not* an HTTP status (provider-apis.md §4.1):

- a request-level error (credentials, transport, an unknown method)::

    {"status": "error", "error_code": "AUTH_ERROR", "error_text": "Username/password incorrect"}

- a method-level error, inside a successful envelope::

    {"status": "success", "answer": {"status": "error",
                                     "errors": [{"error_code": "INVALID_DATA", "error_text": "…"}]}}

``BegetEnvelope.unwrap`` returns ``result`` and raises the ``ProviderError`` each error amounts
to, so adapters and the sync service treat them exactly like the same failure sent as an HTTP
status. The error's ``status`` is the HTTP status it stands for (401, 404, 429, ...), so that
per-unit listing outcomes work unchanged (an unknown method is "absent", 404). The code tables
are partly inferred (the AUTH_ERROR and INVALID_DATA codes are documented by community clients;
LIMIT_ERROR, NO_SUCH_METHOD and INCORRECT_REQUEST by the Russian rules page): unknown codes are
plain response errors, never retried, with the code and text in the message.
"""

from __future__ import annotations

from typing import Any

from providers.adapters.base import (
    ProviderAuthError,
    ProviderError,
    ProviderPermissionDenied,
    ProviderRateLimited,
    ProviderResponseError,
    ProviderUnavailable,
)
from providers.adapters.http import ResponseEnvelope

# error_code -> (the error class, the HTTP status it stands for).
REQUEST_ERRORS: dict[str, tuple[type[ProviderError], int]] = {
    "AUTH_ERROR": (ProviderAuthError, 401),
    "NO_ACCESS": (ProviderPermissionDenied, 403),
    "NO_SUCH_METHOD": (ProviderResponseError, 404),
    "INCORRECT_REQUEST": (ProviderResponseError, 400),
    "LIMIT_ERROR": (ProviderRateLimited, 429),
    "INTERNAL_ERROR": (ProviderUnavailable, 503),
}
METHOD_ERRORS: dict[str, tuple[type[ProviderError], int]] = {
    "INVALID_DATA": (ProviderResponseError, 400),
    "ACCESS_DENIED": (ProviderPermissionDenied, 403),
    "NO_ACCESS": (ProviderPermissionDenied, 403),
    "LIMIT_ERROR": (ProviderRateLimited, 429),
    "METHOD_FAILED": (ProviderResponseError, 500),
}
# How long to wait after a rate-limit error (Beget sends no Retry-After).
LIMIT_RETRY_AFTER_S = 5.0


class BegetEnvelope(ResponseEnvelope):
    def unwrap(self, body: Any, *, provider: str, what: str, status: int) -> Any:
        if not isinstance(body, dict):
            raise ProviderResponseError(f"{provider}: {what} answered no Beget envelope")
        outer = str(body.get("status", "")).lower()
        if outer == "error":
            code = str(body.get("error_code") or "")
            raise _error(REQUEST_ERRORS, code, body.get("error_text"), provider, what)
        if outer != "success":
            raise ProviderResponseError(
                f"{provider}: {what} answered an unknown envelope status {body.get('status')!r}"
            )
        answer = body.get("answer")
        if not isinstance(answer, dict):
            raise ProviderResponseError(f"{provider}: {what} answered no 'answer' object")
        inner = str(answer.get("status", "")).lower()
        if inner == "error":
            code, text = _first_error(answer.get("errors"))
            raise _error(METHOD_ERRORS, code, text, provider, what)
        if inner != "success":
            raise ProviderResponseError(
                f"{provider}: {what} answered an unknown answer status {answer.get('status')!r}"
            )
        return answer.get("result")

    def error_detail(self, body: Any) -> tuple[Any, str] | None:
        if isinstance(body, dict) and body.get("error_code"):
            return body["error_code"], str(body.get("error_text") or "")[:500]
        return None


def _first_error(errors: Any) -> tuple[str, str]:
    """(code, text) of a method error; Beget sends a list of objects, sometimes of strings, and
    older methods a single object."""
    if isinstance(errors, dict):
        errors = [errors]
    if not isinstance(errors, list) or not errors:
        return "", ""
    texts, code = [], ""
    for error in errors:
        if isinstance(error, dict):
            code = code or str(error.get("error_code") or "")
            if error.get("error_text"):
                texts.append(str(error["error_text"]))
        elif error not in (None, ""):
            texts.append(str(error))
    return code, "; ".join(texts)


def _error(table, code: str, text: Any, provider: str, what: str) -> ProviderError:
    cls, status = table.get(code, (ProviderResponseError, 400))
    message = f"{provider}: {what} answered an error"
    if code:
        message += f" (code {code})"
    if text:
        message += f": {str(text)[:500]}"
    if cls is ProviderRateLimited:
        return ProviderRateLimited(
            message, status=status, code=code, retry_after=LIMIT_RETRY_AFTER_S
        )
    return cls(message, status=status, code=code)
