"""Fault injection for provider simulators: which request misbehaves, and how.

A ``Fault`` matches requests by path prefix, lets ``after`` of them through, then hits every
``every``-th one until it has hit ``times`` (0 = forever). Rules are evaluated in order; the first
that fires is applied. Counting per rule keeps scenarios deterministic under a single client.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, fields
from typing import Any

# rate_limit: 429 with Retry-After; unavailable: a 5xx; slow: answer after ``delay``; malformed: a
# body cut off mid-way; expire_token: the caller's token dies before the answer; disconnect: the
# connection closes without an answer; envelope_error: the provider's own error answer sent with
# HTTP 200 (Beget's way), with ``code`` as its error code (each simulator shapes it).
KINDS = (
    "rate_limit",
    "unavailable",
    "slow",
    "malformed",
    "expire_token",
    "disconnect",
    "envelope_error",
)


@dataclass(slots=True)
class Fault:
    kind: str
    times: int = 1
    path: str = ""
    after: int = 0
    every: int = 1
    retry_after: float = 1.0  # rate_limit: the Retry-After header, in seconds
    status: int = 503  # unavailable: 500, 502, 503 or 504
    delay: float = 0.5  # slow: seconds before answering
    code: str = ""  # envelope_error: the provider's error code (e.g. Beget's "LIMIT_ERROR")
    seen: int = 0
    hits: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {', '.join(KINDS)}")
        if self.every < 1 or self.times < 0 or self.after < 0:
            raise ValueError("every must be >= 1; times and after must be >= 0")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fault:
        allowed = {f.name for f in fields(cls)} - {"seen", "hits"}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def exhausted(self) -> bool:
        return bool(self.times) and self.hits >= self.times

    def _fires(self, path: str) -> bool:
        if not path.startswith(self.path) or self.exhausted:
            return False
        self.seen += 1
        return self.seen > self.after and (self.seen - self.after - 1) % self.every == 0


class FaultPlan:
    def __init__(self) -> None:
        self.rules: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self.rules.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def pick(self, path: str) -> Fault | None:
        with self._lock:
            chosen = None
            for rule in self.rules:
                if rule._fires(path) and chosen is None:
                    chosen = rule
            if chosen is not None:
                chosen.hits += 1
            return chosen
