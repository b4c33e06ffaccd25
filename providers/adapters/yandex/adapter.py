"""``YandexCloudAdapter``: the provider contract over Yandex Cloud's REST APIs."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from providers.adapters.base import (
    MetricSample,
    MetricTarget,
    MetricWindow,
    ProviderAdapter,
    ProviderAuthError,
    ResourceRecord,
    VerifyResult,
)
from providers.adapters.http import HttpClient
from providers.adapters.yandex.client import (
    PROVIDER,
    OAuthToken,
    YandexClient,
    YandexCredentials,
    credentials_from_mapping,
)
from providers.adapters.yandex.discovery import YandexDiscovery, YandexScope
from providers.adapters.yandex.endpoints import YandexEndpoints
from providers.adapters.yandex.metrics import YandexMetrics


class YandexCloudAdapter(ProviderAdapter):
    provider = PROVIDER

    def __init__(
        self,
        credentials: YandexCredentials | Mapping[str, Any],
        *,
        scope: YandexScope | Mapping[str, Any] | None = None,
        endpoints: YandexEndpoints | Mapping[str, str] | None = None,
        http: HttpClient | None = None,
        page_size: int = 1000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if isinstance(credentials, Mapping):
            credentials = credentials_from_mapping(credentials)
        if not isinstance(scope, YandexScope):
            scope = YandexScope.from_mapping(dict(scope or {}))
        if not isinstance(endpoints, YandexEndpoints):
            endpoints = YandexEndpoints.from_mapping(endpoints)
        self.scope = scope
        self.client = YandexClient(
            credentials, endpoints, http=http, clock=clock, page_size=page_size
        )

    @property
    def api_calls(self) -> int:
        return self.client.api_calls

    def verify(self) -> VerifyResult:
        """Exchange the credentials for an IAM token and read one object of the scope."""
        client, scope = self.client, self.scope
        client.iam_token()
        who = (
            "OAuth token"
            if isinstance(client.credentials, OAuthToken)
            else f"service account {client.credentials.service_account_id}"
        )
        if scope.folder_ids:
            folder = client.get(
                "resource_manager", f"/resource-manager/v1/folders/{scope.folder_ids[0]}"
            )
            seen = f"folder {folder.get('name') or folder.get('id')} is readable"
        elif scope.cloud_ids:
            cloud = client.get(
                "resource_manager", f"/resource-manager/v1/clouds/{scope.cloud_ids[0]}"
            )
            seen = f"cloud {cloud.get('name') or cloud.get('id')} is readable"
        else:
            params: dict[str, Any] = {"pageSize": 1}
            if scope.organization_id:
                params["organizationId"] = scope.organization_id
            clouds = client.get("resource_manager", "/resource-manager/v1/clouds", params).get(
                "clouds"
            )
            if not clouds:
                # Valid credentials without a role anywhere: as useless as wrong ones, and the fix
                # (grant a viewer role) is the operator's, so say so rather than sync nothing.
                raise ProviderAuthError(
                    f"{PROVIDER}: {who} authenticated but sees no cloud in {scope.describe()}; "
                    "grant it a viewer role on the clouds to include",
                    status=403,
                )
            seen = f"cloud {clouds[0].get('name') or clouds[0].get('id')} is visible"
        return VerifyResult(f"{who} authenticated; {seen}", {"scope": scope.describe()})

    def _discover(self) -> Iterator[ResourceRecord]:
        return iter(YandexDiscovery(self.client, self.scope))

    def metrics(
        self, targets: Iterable[MetricTarget | ResourceRecord], window: MetricWindow
    ) -> Iterator[MetricSample]:
        return YandexMetrics(self.client).cpu(targets, window)
