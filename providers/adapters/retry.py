"""The retry policy of every outbound HTTP call (provider APIs, object storage, the CBR).

What is retried: 408, 429 and 5xx answers and failures before any answer (connection refused or
reset, timeouts, a body cut off mid-stream); 401/403 and other 4xx never are. How long to wait:
exponential backoff with full jitter, or the server's ``Retry-After`` (capped, plus up to 10%
jitter so that workers throttled together do not return together). ``sleep`` and ``rng`` are
injectable so tests can assert the waits without waiting. ``HttpClient._send`` is the one loop
that applies it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

import requests

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# Failures before any answer arrived; retried like a 503.
TRANSPORT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass
class RetryPolicy:
    max_attempts: int = 5
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    max_retry_after: float = 300.0
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)  # jitter, not cryptography

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def retryable(self, status: int) -> bool:
        return status in RETRYABLE_STATUSES

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        if retry_after is not None:
            wait = min(retry_after, self.max_retry_after)
            return wait + self.rng.uniform(0, wait * 0.1)
        # Full jitter: spreads retries of many workers evenly instead of in synchronized waves.
        return self.rng.uniform(0, min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1)))
