"""Yandex Cloud: discovery and metrics adapter, plus an HTTP simulator for tests and the demo."""

from providers.adapters.yandex.adapter import YandexCloudAdapter
from providers.adapters.yandex.client import (
    OAuthToken,
    ServiceAccountKey,
    YandexClient,
    credentials_from_mapping,
)
from providers.adapters.yandex.discovery import YandexScope
from providers.adapters.yandex.endpoints import YandexEndpoints

__all__ = [
    "OAuthToken",
    "ServiceAccountKey",
    "YandexClient",
    "YandexCloudAdapter",
    "YandexEndpoints",
    "YandexScope",
    "credentials_from_mapping",
]
