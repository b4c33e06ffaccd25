"""Wire helpers shared by simulators: opaque paging tokens and offset/limit slicing.

Providers page in two ways: an opaque token the server hands out (Yandex ``pageToken``, most
gRPC-transcoded APIs) or an offset/marker the client computes (OpenStack ``marker``, Beget's VPS
``offset``). Both reduce to a position in a list the simulator holds.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any


def encode_offset(offset: int) -> str:
    """An opaque page token for position ``offset`` (clients must not parse it)."""
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def decode_offset(token: str) -> int:
    """The position in an ``encode_offset`` token; "" is 0. ValueError for anything else."""
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"invalid page token {token!r}") from exc
    if not text.startswith("o:") or not text[2:].isdigit():
        raise ValueError(f"invalid page token {token!r}")
    return int(text[2:])


def int_param(query: dict[str, str], name: str, default: int, *, low: int, high: int) -> int:
    """An integer query parameter within [low, high]; ValueError naming it otherwise."""
    raw = query.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}: invalid value {raw!r}") from None
    if not low <= value <= high:
        raise ValueError(f"{name}: value must be in range {low}..{high}")
    return value


def window(items: Sequence[Any], offset: int, size: int) -> tuple[list[Any], int | None]:
    """``items[offset:offset+size]`` and the next offset (None on the last page)."""
    chunk = list(items[offset : offset + size])
    following = offset + size
    return chunk, (following if following < len(items) else None)
