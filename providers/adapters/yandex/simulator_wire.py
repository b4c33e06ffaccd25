"""Yandex wire conventions of the simulator: the ``google.rpc.Status`` error envelope and paging
with opaque ``pageToken``s (the token helpers are the shared ones in ``simulation.wire``)."""

from __future__ import annotations

import uuid
from typing import Any

from providers.adapters.simulation.server import SimulatedError
from providers.adapters.simulation.wire import decode_offset, encode_offset

# gRPC status code -> HTTP status, as Yandex's gateway maps them.
HTTP_STATUS = {3: 400, 5: 404, 7: 403, 8: 429, 12: 501, 13: 500, 14: 503, 16: 401}
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


class ApiError(SimulatedError):
    """An answer in the ``google.rpc.Status`` shape: ``{code, message, details}``."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(status or HTTP_STATUS.get(code, 500), message, headers=headers)
        self.code = code

    @property
    def http_status(self) -> int:
        return self.status

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
    try:
        offset = decode_offset(query.get("pageToken", ""))
    except ValueError:
        raise ApiError(3, "pageToken: invalid page token") from None
    chunk = items[offset : offset + size]
    answer: dict[str, Any] = {key: chunk} if chunk else {}
    if offset + size < len(items):
        answer["nextPageToken"] = encode_offset(offset + size)
    return answer
