"""Wire conventions shared by the simulator's endpoints: the error envelope and paging."""

from __future__ import annotations

import base64
import uuid
from typing import Any

# gRPC status code -> HTTP status, as Yandex's gateway maps them.
HTTP_STATUS = {3: 400, 5: 404, 7: 403, 8: 429, 12: 501, 13: 500, 14: 503, 16: 401}
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


class ApiError(Exception):
    """An answer in the ``google.rpc.Status`` shape: ``{code, message, details}``."""

    def __init__(self, code: int, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = HTTP_STATUS.get(code, 500)
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.RequestInfo",
                    "requestId": str(uuid.uuid4()),
                }
            ],
        }


def page(items: list[Any], query: dict[str, str], key: str) -> dict[str, Any]:
    """Slice ``items`` by ``pageSize`` (0..1000, default 100) and the opaque ``pageToken``."""
    raw_size = query.get("pageSize", "")
    try:
        size = int(raw_size) if raw_size else 0
    except ValueError:
        raise ApiError(3, f"pageSize: invalid value {raw_size!r}") from None
    if not 0 <= size <= MAX_PAGE_SIZE:
        raise ApiError(3, f"pageSize: value must be in range 0..{MAX_PAGE_SIZE}")
    size = size or DEFAULT_PAGE_SIZE
    offset = _decode_token(query.get("pageToken", ""))
    chunk = items[offset : offset + size]
    answer: dict[str, Any] = {key: chunk} if chunk else {}
    if offset + size < len(items):
        answer["nextPageToken"] = _encode_token(offset + size)
    return answer


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def _decode_token(token: str) -> int:
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        if not text.startswith("o:"):
            raise ValueError(text)
        return max(0, int(text[2:]))
    except ValueError:
        raise ApiError(3, "pageToken: invalid page token") from None
