"""Reading Beget's values whatever JSON type they come in.

Beget sends the same field as a number in one answer and a string in the next (``"11.50"`` and
``11.5``, ``"1"`` and ``true``, ``"0"`` for "no date"), so every field the adapter uses goes
through one of these. A value that cannot be what the field is raises ``ProviderResponseError``
naming the field, never a bare Python error.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from providers.adapters.base import ProviderResponseError

PROVIDER = "Beget"
# Dates without a zone ("2021-10-24 15:01:40") are Moscow time (inferred: Beget is a Moscow
# company and its control panel shows Moscow time); connections may name another zone.
DEFAULT_TIME_ZONE = "Europe/Moscow"
_NO_DATE = ("", "0", "0000-00-00", "0000-00-00 00:00:00", "null", "none")


def text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 125.0 and "125" are the same id
    return str(value).strip()


def integer(value: Any, field: str, *, default: int | None = None) -> int | None:
    """An int from 12, 12.0, "12" or "12.0"; ``default`` for null or ""."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return int(value)
    try:
        number = Decimal(str(value).strip())
        if not number.is_finite():
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        raise ProviderResponseError(
            f"{PROVIDER}: {field} is not a number ({value!r:.40})"
        ) from None
    return int(number)


def decimal(value: Any, field: str, *, default: Decimal | None = None) -> Decimal | None:
    """A Decimal from 11.5, "11.50" or "11,50" (money: floats go through their shortest repr)."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise ProviderResponseError(f"{PROVIDER}: {field} is not a number ({value!r})")
    try:
        number = Decimal(str(value).strip().replace(",", "."))
        if not number.is_finite():
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        raise ProviderResponseError(
            f"{PROVIDER}: {field} is not a number ({value!r:.40})"
        ) from None
    return number


def flag(value: Any) -> bool:
    """True from true, 1, "1", "true", "yes", "y"; everything else is False."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    return text(value).lower() in ("1", "true", "yes", "y", "on")


def date(value: Any, field: str) -> str | None:
    """An ISO date ("YYYY-MM-DD") from "2026-10-24", "2026-10-24 00:00:00" or a timestamp;
    None for Beget's "no date" values (0, "0", "0000-00-00")."""
    raw = text(value)
    if raw.lower() in _NO_DATE:
        return None
    if raw.isdigit():
        return dt.datetime.fromtimestamp(int(raw), dt.UTC).date().isoformat()
    try:
        return dt.date.fromisoformat(raw[:10]).isoformat()
    except ValueError:
        raise ProviderResponseError(f"{PROVIDER}: {field} is not a date ({raw[:40]!r})") from None


def moment(value: Any, field: str, tz: zoneinfo.ZoneInfo) -> dt.datetime | None:
    """An aware datetime from "2026-01-05 10:00:00" (in ``tz``), ISO 8601 with an offset, or
    unix seconds; None for "no date" values."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, dt.UTC) if value else None
    raw = text(value)
    if raw.lower() in _NO_DATE:
        return None
    if raw.isdigit():
        return dt.datetime.fromtimestamp(int(raw), dt.UTC)
    try:
        parsed = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ProviderResponseError(f"{PROVIDER}: {field} is not a time ({raw[:40]!r})") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(dt.UTC)


def items(value: Any, what: str) -> list[dict]:
    """A list of objects; Beget answers an empty list as [] or, for some methods, {} or null.
    A dict keyed by id (older methods) is read as its values."""
    if value is None or value == {} or value == "":
        return []
    if isinstance(value, dict):
        value = list(value.values())
    if not isinstance(value, list):
        raise ProviderResponseError(
            f"{PROVIDER}: {what} answered {type(value).__name__}, not a list"
        )
    return [item for item in value if isinstance(item, dict)]
