"""``YandexCloudAdapter``: the provider contract over Yandex Cloud's REST APIs.

``verify()`` exchanges the credentials for an IAM token, reads one object of the scope and then
probes each service discovery reads with one cheap call (a list of one item in one folder), so
that the operator learns at once which viewer roles the service account lacks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from providers.adapters.base import (
    BalanceKind,
    BalanceRecord,
    MetricSample,
    MetricTarget,
    MetricWindow,
    OperationRecord,
    ProviderAdapter,
    ProviderError,
    ProviderPermissionDenied,
    ProviderResponseError,
    ResourceRecord,
    ResourceType,
    ServiceProbe,
    VerifyResult,
)
from providers.adapters.http import HttpClient
from providers.adapters.listing import ListingOutcome, outcome_of
from providers.adapters.yandex import records
from providers.adapters.yandex.client import (
    PROVIDER,
    OAuthToken,
    YandexClient,
    YandexCredentials,
    credentials_from_mapping,
)
from providers.adapters.yandex.discovery import DB_ENGINES, YandexDiscovery, YandexScope
from providers.adapters.yandex.endpoints import YandexEndpoints
from providers.adapters.yandex.metrics import YandexMetrics, probe_query
from providers.adapters.yandex.operations import YandexOperations
from providers.adapters.yandex.services import SERVICES, db_service

# (service, endpoint field, list path) of each folder-level probe, in discovery's order.
PROBES = (
    ("compute", "compute", "/compute/v1/instances"),
    ("vpc", "vpc", "/vpc/v1/networks"),
    ("storage", "storage", "/storage/v1/buckets"),
    *((db_service(engine), "mdb", f"/managed-{engine}/v1/clusters") for engine in DB_ENGINES),
    ("kubernetes", "kubernetes", "/managed-kubernetes/v1/clusters"),
)


class YandexCloudAdapter(ProviderAdapter):
    provider = PROVIDER
    services = SERVICES
    scope_noun = "folder"

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
        """Exchange the credentials for an IAM token, read one object of the scope, then probe
        every service in one folder of it."""
        client, scope = self.client, self.scope
        client.iam_token()
        who = (
            "OAuth token"
            if isinstance(client.credentials, OAuthToken)
            else f"service account {client.credentials.service_account_id}"
        )
        folder_id = None
        if scope.folder_ids:
            folder = client.get(
                "resource_manager", f"/resource-manager/v1/folders/{scope.folder_ids[0]}"
            )
            folder_id = folder.get("id")
            seen = f"folder {folder.get('name') or folder.get('id')} is readable"
        elif scope.cloud_ids:
            cloud = client.get(
                "resource_manager", f"/resource-manager/v1/clouds/{scope.cloud_ids[0]}"
            )
            folder_id = self._first_folder(cloud.get("id") or scope.cloud_ids[0])
            seen = f"cloud {cloud.get('name') or cloud.get('id')} is readable"
        else:
            params: dict[str, Any] = {"pageSize": 1}
            if scope.organization_id:
                params["organizationId"] = scope.organization_id
            clouds = client.get("resource_manager", "/resource-manager/v1/clouds", params).get(
                "clouds"
            )
            if not clouds:
                # Valid credentials without a role anywhere: useless, and the fix (grant a viewer
                # role) is the operator's, so say so rather than sync nothing.
                raise ProviderPermissionDenied(
                    f"{PROVIDER}: {who} authenticated but sees no cloud in {scope.describe()}; "
                    "grant it a viewer role on the clouds to include",
                    status=403,
                )
            folder_id = self._first_folder(clouds[0].get("id"))
            seen = f"cloud {clouds[0].get('name') or clouds[0].get('id')} is visible"
        probes = self._probe_services(folder_id) if folder_id else ()
        message = f"{who} authenticated; {seen}"
        if probes:
            message += "; " + _probe_summary(probes)
        return VerifyResult(message, {"scope": scope.describe()}, services=probes)

    def _first_folder(self, cloud_id: str | None) -> str | None:
        if not cloud_id:
            return None
        folders = self.client.get(
            "resource_manager",
            "/resource-manager/v1/folders",
            {"cloudId": cloud_id, "pageSize": 1},
        ).get("folders")
        return folders[0].get("id") if folders else None

    def _probe_services(self, folder_id: str) -> tuple[ServiceProbe, ...]:
        probes = []
        for service, endpoint, path in PROBES:
            probes.append(
                self._probe(
                    service,
                    lambda e=endpoint, p=path: self.client.get(
                        e, p, {"folderId": folder_id, "pageSize": 1}
                    ),
                )
            )
        probes.append(
            self._probe(
                "billing",
                lambda: self.client.get(
                    "billing",
                    f"/billing/v1/billingAccounts/{self.scope.billing_account_id}"
                    if self.scope.billing_account_id
                    else "/billing/v1/billingAccounts",
                    None if self.scope.billing_account_id else {"pageSize": 1},
                ),
            )
        )
        probes.append(
            self._probe(
                "monitoring",
                lambda: self.client.call(
                    "POST",
                    "monitoring",
                    "/monitoring/v2/data/read",
                    params={"folderId": folder_id},
                    json_body=probe_query(),
                ),
            )
        )
        return tuple(probes)

    def _probe(self, service: str, call: Callable[[], Any]) -> ServiceProbe:
        name = SERVICES[service].name
        try:
            call()
        except ProviderError as exc:
            outcome = outcome_of(exc)
            if outcome is None and exc.status == 401:
                raise  # the credentials themselves: not a fact about one service
            return ServiceProbe(service, name, str(outcome or ListingOutcome.FAILED), str(exc))
        return ServiceProbe(service, name, str(ListingOutcome.COMPLETE))

    def _discover(self) -> Iterator[ResourceRecord]:
        assert self.listing is not None
        return iter(YandexDiscovery(self.client, self.scope, self.listing))

    def _metrics(
        self, targets: Iterable[MetricTarget | ResourceRecord], window: MetricWindow
    ) -> Iterator[MetricSample]:
        assert self.listing is not None
        return YandexMetrics(self.client, self.listing).cpu(targets, window)

    def operations(self, since: datetime | None) -> Iterator[OperationRecord]:
        """Compute instances' operations at or after ``since`` (see ``yandex/operations.py``:
        read per instance, the only listing the reference documents)."""
        report = self._new_report()
        folder_ids = YandexDiscovery(self.client, self.scope, report).folder_ids()
        yield from YandexOperations(self.client, folder_ids, report, since)

    # Types ``refresh`` can read by id; other resources are refreshed by the next sync.
    refresh_types = frozenset({ResourceType.VM, ResourceType.DISK})

    def refresh(self, provider_id: str) -> ResourceRecord | None:
        """One instance or disk by id (``GET /compute/v1/instances/{id}``, then
        ``/compute/v1/disks/{id}``), normalized as discovery does; None when neither exists."""
        for path, convert in (
            ("/compute/v1/instances/", records.instance),
            ("/compute/v1/disks/", records.disk),
        ):
            try:
                item = self.client.get("compute", path + quote(provider_id, safe=""))
            except ProviderError as exc:
                if exc.status == 404:
                    continue
                raise
            try:
                return convert(item)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise ProviderResponseError(
                    f"{PROVIDER}: unexpected data for {provider_id} ({type(exc).__name__}: {exc})"
                ) from exc
        return None

    def balances(self) -> list[BalanceRecord]:
        """The balance of the scope's billing account, or of every billing account the
        credentials see (Billing API: ``GET /billing/v1/billingAccounts/{id}``, ``balance`` a
        decimal string; negative is a debt). Needs ``billing.accounts.viewer``."""
        client = self.client
        if self.scope.billing_account_id:
            ids = [self.scope.billing_account_id]
        else:
            pages = client.pages("billing", "/billing/v1/billingAccounts", "billingAccounts")
            ids = [account["id"] for page in pages for account in page if account.get("id")]
        now = datetime.now(UTC)
        records = []
        for account_id in ids:
            account = client.get("billing", f"/billing/v1/billingAccounts/{account_id}")
            raw = account.get("balance", "0")  # proto3 JSON omits a default (empty) value
            try:
                amount = Decimal(str(raw))
                if not amount.is_finite():
                    raise InvalidOperation
            except InvalidOperation:
                raise ProviderResponseError(
                    f"{PROVIDER}: billing account {account_id} has a balance that is not a "
                    f"decimal ({str(raw)[:40]!r})"
                ) from None
            records.append(
                BalanceRecord(
                    amount=amount,
                    currency=str(account.get("currency") or "RUB").upper(),
                    as_of=now,
                    kind=BalanceKind.MAIN,
                    account_id=account_id,
                    details={
                        key: account[key]
                        for key in ("name", "active", "countryCode")
                        if key in account
                    },
                )
            )
        return records


def _probe_summary(probes: Iterable[ServiceProbe]) -> str:
    """ "readable: Compute Cloud, …; not readable: Managed Kubernetes (permission denied — grant
    k8s.viewer)"."""
    readable, unreadable = [], []
    for probe in probes:
        if probe.outcome == ListingOutcome.COMPLETE:
            readable.append(probe.name)
            continue
        info = SERVICES[probe.service]
        if probe.outcome == ListingOutcome.DENIED:
            why = f"permission denied — grant {info.role}"
        elif probe.outcome == ListingOutcome.ABSENT:
            why = "not available in this installation or region"
        else:
            why = f"could not be checked: {probe.detail}"
        unreadable.append(f"{probe.name} ({why})")
    parts = []
    if readable:
        parts.append("readable: " + ", ".join(readable))
    if unreadable:
        parts.append("not readable: " + ", ".join(unreadable))
    return "; ".join(parts)
