"""Shared helpers for the OpenStack providers' adapter tests (Selectel, VK Cloud): adapters over
real HTTP with recorded (not slept) retry waits."""

from __future__ import annotations

import random

from providers.adapters.http import HttpClient


def fast_http(provider: str, sleeps: list[float], **options) -> HttpClient:
    return HttpClient(
        provider=provider,
        sleep=sleeps.append,
        rng=random.Random(0),
        timeout=options.pop("timeout", (2.0, 5.0)),
        max_attempts=options.pop("max_attempts", 4),
    )


def ids(records, type_=None) -> set[str]:
    return {r.provider_id for r in records if type_ is None or r.type == type_}
