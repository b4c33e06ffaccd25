"""Which adapter serves which provider type, and how each validates its settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from providers.adapters.base import ProviderAdapter


class UnsupportedProvider(Exception):
    pass


def build_adapter(
    provider: str,
    *,
    credentials: Mapping[str, Any],
    scope: Mapping[str, Any] | None = None,
    endpoints: Mapping[str, str] | None = None,
) -> ProviderAdapter:
    """An adapter for one connection. Raises ValueError with a readable reason for bad settings."""
    if provider == "yandex_cloud":
        from providers.adapters.yandex import YandexCloudAdapter

        return YandexCloudAdapter(credentials, scope=scope or {}, endpoints=endpoints or {})
    raise UnsupportedProvider(f"No discovery adapter for provider {provider!r} yet")


def validate_settings(
    provider: str,
    *,
    credentials: Mapping[str, Any] | None,
    scope: Mapping[str, Any] | None,
    endpoints: Mapping[str, str] | None,
) -> dict[str, str]:
    """Field -> error for settings an adapter would refuse; empty when all is well.

    Runs without network access, so it can guard every write of a connection.
    """
    errors: dict[str, str] = {}
    if provider == "yandex_cloud":
        from providers.adapters.yandex import YandexEndpoints, YandexScope, credentials_from_mapping

        if credentials is not None:
            try:
                credentials_from_mapping(credentials)
            except (ValueError, TypeError) as exc:
                errors["credentials"] = str(exc)
        try:
            YandexScope.from_mapping(dict(scope or {}))
        except (ValueError, TypeError) as exc:
            errors["scope"] = str(exc)
        try:
            YandexEndpoints.from_mapping(endpoints or {})
        except (ValueError, TypeError) as exc:
            errors["endpoints"] = str(exc)
    return errors


def region_names() -> dict[str, str]:
    """Region id -> display name, over every provider's regions (FOCUS RegionName)."""
    from providers.adapters.yandex.records import REGION_NAMES as YANDEX

    return {**YANDEX}
