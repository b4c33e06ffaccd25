"""Helpers shared by the adapter tests."""

from __future__ import annotations

from providers.adapters.base import ProviderError, ResourceRecord
from providers.adapters.yandex.simulator import YandexCloudSimulator


def inventory_ids(simulator: YandexCloudSimulator) -> dict[str, str]:
    """provider id -> normalized type, as the simulator generated them."""
    return {item.id: item.type for item in simulator.inventory.iter_resources()}


def drain(records) -> tuple[list[ResourceRecord], ProviderError | None]:
    """Consume a discovery the way the sync service does: what was yielded, and how it ended."""
    seen: list[ResourceRecord] = []
    try:
        for record in records:
            seen.append(record)
    except ProviderError as exc:
        return seen, exc
    return seen, None
