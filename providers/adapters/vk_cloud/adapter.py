"""``VKCloudAdapter``: one VK Cloud project over OpenStack (Keystone at the credential's
``auth_url`` with its user domain; endpoints from the token's catalog), and the project's balance
from the billing API when the console's project PID is given.

VK Cloud has no cost API: costs come from the console's detail export (``detail.py``) and from
estimates (inventory x the operators' price list, ``providers.services.estimates``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from providers.adapters.base import (
    BalanceKind,
    BalanceRecord,
    MetricSample,
    MetricTarget,
    MetricWindow,
    ProviderAdapter,
    ProviderResponseError,
    ResourceRecord,
    ResourceStatus,
    ResourceType,
    VerifyResult,
)
from providers.adapters.http import HttpClient
from providers.adapters.openstack.discovery import ProjectWalker, probe_services, probe_summary
from providers.adapters.openstack.keystone import KeystoneSession, password_body
from providers.adapters.openstack.operations import InstanceActions
from providers.adapters.vk_cloud.services import NAMES, PROVIDER, SERVICES

DEFAULT_ENDPOINTS = {"billing": "https://msk.cloud.vk.com/billing/public/v1"}
BALANCE_KINDS = {"base": BalanceKind.MAIN, "bonus": BalanceKind.BONUS}


def _endpoints(overrides: Mapping[str, str] | None) -> dict[str, str]:
    overrides = dict(overrides or {})
    merged = dict(DEFAULT_ENDPOINTS)
    if "*" in overrides:
        merged = {"billing": overrides.pop("*").rstrip("/") + "/billing/public/v1"}
    unknown = set(overrides) - set(DEFAULT_ENDPOINTS)
    if unknown:
        raise ValueError(f"unknown VK Cloud endpoint(s): {', '.join(sorted(unknown))}")
    merged.update(overrides)
    return {k: v.rstrip("/") for k, v in merged.items()}


class VKCloudAdapter(ProviderAdapter):
    provider = PROVIDER
    services = SERVICES
    scope_noun = "project"

    def __init__(
        self,
        credentials: Mapping[str, Any],
        *,
        scope: Mapping[str, Any] | None = None,
        endpoints: Mapping[str, str] | None = None,
        http: HttpClient | None = None,
        page_size: int = 1000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        missing = [
            k for k in ("username", "password", "project_id", "auth_url") if not credentials.get(k)
        ]
        if missing:
            raise ValueError(f"VK Cloud needs {', '.join(missing)}")
        self.username = str(credentials["username"])
        self.project_id = str(credentials["project_id"])
        self.project_pid = str(credentials.get("project_pid") or "")
        self.regions = tuple((scope or {}).get("regions") or ())
        self.endpoints = _endpoints(endpoints)
        self.http = http or HttpClient(provider=PROVIDER)
        self.http.add_secrets([str(credentials["password"])])
        self.page_size = page_size
        body = password_body(
            username=self.username,
            password=str(credentials["password"]),
            # VK's docs send the user domain as its id ("users") [V].
            user_domain={"id": str(credentials.get("user_domain") or "users")},
            scope={"project": {"id": self.project_id}},
        )
        self.session = KeystoneSession(
            self.http,
            str(credentials["auth_url"]),
            body,
            describe=f"user {self.username} in project {self.project_id}",
            clock=clock,
        )

    @property
    def api_calls(self) -> int:
        return self.http.api_calls

    def walker(self) -> ProjectWalker:
        return ProjectWalker(
            self.session,
            self.project_id,
            self.listing,
            regions=self.regions,
            page_size=self.page_size,
            provider=PROVIDER,
        )

    def project_record(self) -> ResourceRecord:
        project = self.session.token().project
        return ResourceRecord(
            provider_id=self.project_id,
            type=ResourceType.PROJECT,
            name=str(project.get("name") or self.project_pid or self.project_id),
            status=ResourceStatus.RUNNING,
            raw_status="enabled",
            properties={"pid": self.project_pid} if self.project_pid else {},
        )

    def verify(self) -> VerifyResult:
        token = self.session.token()
        self.listing = self._new_report()
        probes = tuple(probe_services(self.walker(), NAMES))
        regions = ", ".join(token.regions()) or "none"
        message = (
            f"user {self.username} authenticated in project {self.project_id} "
            f"(regions: {regions}); {probe_summary(probes)}"
        )
        return VerifyResult(message, {"project_id": self.project_id}, services=probes)

    def _discover(self) -> Iterator[ResourceRecord]:
        report = self.listing
        assert report is not None
        with report.unit("identity", (ResourceType.PROJECT,), ""):
            project = self.project_record()
        yield project
        report.visit(self.project_id)
        report.scopes_complete = True
        yield from self.walker()

    def _metrics(
        self, targets: Iterable[MetricTarget | ResourceRecord], window: MetricWindow
    ) -> Iterator[MetricSample]:
        return iter(())

    def balances(self) -> list[BalanceRecord]:
        """``GET /projects/{pid}/balances/amount``: ``{"base", "bonus"}`` in roubles (numbers or
        strings). Needs the console's project PID; without it there is nothing to read."""
        if not self.project_pid:
            return []
        url = f"{self.endpoints['billing']}/projects/{self.project_pid}/balances/amount"
        body = self.session.get(url)
        now = datetime.now(UTC)
        found = []
        for key, kind in BALANCE_KINDS.items():
            if body.get(key) in (None, ""):
                continue
            try:
                amount = Decimal(str(body[key]).strip())
                if not amount.is_finite():
                    raise InvalidOperation
            except InvalidOperation:
                raise ProviderResponseError(
                    f"{PROVIDER}: the {key} balance is not a number ({str(body[key])[:40]!r})"
                ) from None
            found.append(
                BalanceRecord(
                    amount=amount,
                    currency="RUB",
                    as_of=now,
                    kind=kind,
                    account_id=self.project_pid,
                    details={"field": key},
                )
            )
        return found

    def operations(self, since: datetime | None):
        self.listing = self._new_report()
        yield from InstanceActions(self.walker()).since(since)

    def refresh(self, provider_id: str) -> ResourceRecord | None:
        self.listing = self._new_report()
        return InstanceActions(self.walker()).server(provider_id)
