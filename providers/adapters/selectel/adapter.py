"""``SelectelAdapter``: Selectel over Keystone (service users) or a static ``X-Token`` key.

A service user gets a domain-scoped token (its account id is the Keystone domain) for the account
APIs (projects, billing) and one project-scoped token per project for OpenStack; every endpoint
comes from that token's catalog (no region is hard-coded). A static token reads the account APIs
only: its discovery lists projects and reports the OpenStack services as unreadable (denied)
rather than pretending they are empty.

Costs: the Billing Statistics API (``/v1/cloud_billing/statistic/consumption``), day by day,
grouped by project, object, region and metric; amounts are integer kopecks, periods naive Moscow
time. Balance: ``/v3/balances`` (kopecks) with the ``/v2/billing/prediction`` days left.
"""

from __future__ import annotations

import time
import zoneinfo
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from providers.adapters.base import (
    BalanceKind,
    BalanceRecord,
    CostPeriod,
    CostRecord,
    MetricSample,
    MetricTarget,
    MetricWindow,
    ProviderAdapter,
    ProviderAuthError,
    ProviderError,
    ProviderResponseError,
    ResourceRecord,
    ResourceType,
    VerifyResult,
)
from providers.adapters.http import HttpClient
from providers.adapters.listing import ListingOutcome
from providers.adapters.openstack import records
from providers.adapters.openstack.discovery import (
    ORDER,
    ProjectWalker,
    probe_services,
    probe_summary,
)
from providers.adapters.openstack.keystone import KeystoneSession, password_body
from providers.adapters.openstack.operations import InstanceActions
from providers.adapters.openstack.services import TYPES
from providers.adapters.selectel.services import CATALOG_TYPES, NAMES, PROVIDER, SERVICES

MSK = zoneinfo.ZoneInfo("Europe/Moscow")
DEFAULT_ENDPOINTS = {
    "identity": "https://cloud.api.selcloud.ru/identity/v3",
    "account": "https://api.selectel.ru",
}
# Paths under the account endpoint. The consumption path is the one community clients use
# ([C] in provider-apis.md §2.4); the published spec's summary path may differ.
PROJECTS_PATH = "/vpc/resell/v2/projects"
BALANCES_PATH = "/v3/balances"
PREDICTION_PATH = "/v2/billing/prediction"
CONSUMPTION_PATH = "/v1/cloud_billing/statistic/consumption"
PROVIDER_KEYS = ("vpc", "dbaas", "mks", "craas", "storage", "cdn", "serverless")
# provider_key -> (FOCUS ServiceName, ServiceCategory)
SERVICE_NAMES = {
    "vpc": ("Cloud Servers", "Compute"),
    "dbaas": ("Managed Databases", "Databases"),
    "mks": ("Managed Kubernetes", "Compute"),
    "craas": ("Container Registry", "Storage"),
    "storage": ("Object Storage", "Storage"),
    "cdn": ("CDN", "Networking"),
    "serverless": ("Serverless", "Compute"),
    "vmware": ("VMware Cloud", "Compute"),
}
BALANCE_KINDS = {"main": BalanceKind.MAIN, "bonus": BalanceKind.BONUS}
KOPECKS = Decimal(100)


def money(value: Any, what: str) -> Decimal:
    """Kopecks (an int, a numeric string, or a float as JSON gives it) -> roubles, exactly."""
    if value is None or value == "" or isinstance(value, bool):
        raise ProviderResponseError(f"{PROVIDER}: {what} has no amount")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ProviderResponseError(
            f"{PROVIDER}: {what} has an amount that is not a number ({str(value)[:40]!r})"
        ) from None
    if not amount.is_finite():
        raise ProviderResponseError(f"{PROVIDER}: {what} has an amount that is not finite")
    return amount / KOPECKS


def moscow_time(value: Any) -> datetime | None:
    """A period stamp: naive means Moscow time [C/I]; one with an offset is taken as given."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=MSK)


def _endpoints(overrides: Mapping[str, str] | None) -> dict[str, str]:
    """Defaults with a connection's overrides; ``{"*": url}`` puts everything behind one host
    (the simulator), Keystone under its usual ``/identity/v3``."""
    overrides = dict(overrides or {})
    merged = dict(DEFAULT_ENDPOINTS)
    if "*" in overrides:
        base = overrides.pop("*").rstrip("/")
        merged = {"identity": f"{base}/identity/v3", "account": base}
    unknown = set(overrides) - set(DEFAULT_ENDPOINTS)
    if unknown:
        raise ValueError(f"unknown Selectel endpoint(s): {', '.join(sorted(unknown))}")
    merged.update(overrides)
    return {k: v.rstrip("/") for k, v in merged.items()}


class SelectelAdapter(ProviderAdapter):
    provider = PROVIDER
    services = SERVICES
    scope_noun = "project"
    cost_extensions = ("selectel_provider_key", "selectel_parent_id")

    def __init__(
        self,
        credentials: Mapping[str, Any],
        *,
        scope: Mapping[str, Any] | None = None,
        endpoints: Mapping[str, str] | None = None,
        http: HttpClient | None = None,
        page_size: int = 1000,
        clock: Callable[[], float] = time.time,
        period_group_type: str = "day",
        group_type: str = "project_object_region_metric",
    ) -> None:
        scope = dict(scope or {})
        self.static_token = str(credentials.get("static_token") or "")
        self.username = str(credentials.get("username") or "")
        self.password = str(credentials.get("password") or "")
        self.account_id = str(credentials.get("account_id") or "")
        self.project_filter = str(credentials.get("project") or "")
        if not self.static_token and not (self.username and self.password and self.account_id):
            raise ValueError("Selectel needs a service user (username, password, account_id)")
        self.project_ids = tuple(scope.get("project_ids") or ())
        self.regions = tuple(scope.get("regions") or ())
        self.endpoints = _endpoints(endpoints)
        self.http = http or HttpClient(provider=PROVIDER)
        self.http.add_secrets([self.password, self.static_token])
        self.page_size = page_size
        self.clock = clock
        self.period_group_type = period_group_type
        self.group_type = group_type
        self._domain: KeystoneSession | None = None
        self._projects: dict[str, KeystoneSession] = {}

    @property
    def api_calls(self) -> int:
        return self.http.api_calls

    # -- sessions --------------------------------------------------------------------------------

    def _session(self, scope: Mapping[str, Any], describe: str) -> KeystoneSession:
        body = password_body(
            username=self.username,
            password=self.password,
            user_domain={"name": self.account_id},
            scope=scope,
        )
        return KeystoneSession(
            self.http, self.endpoints["identity"], body, describe=describe, clock=self.clock
        )

    def domain_session(self) -> KeystoneSession:
        if self._domain is None:
            self._domain = self._session(
                {"domain": {"name": self.account_id}},
                f"service user {self.username} of account {self.account_id}",
            )
        return self._domain

    def project_session(self, project_id: str) -> KeystoneSession:
        if project_id not in self._projects:
            self._projects[project_id] = self._session(
                {"project": {"id": project_id}},
                f"service user {self.username} in project {project_id}",
            )
        return self._projects[project_id]

    def account_get(self, path: str, params: Mapping[str, Any] | None = None) -> dict:
        """An account API call: ``X-Token`` with a static key, else the domain-scoped token."""
        url = self.endpoints["account"] + path
        if self.static_token:
            body = self.http.request_json(
                "GET", url, params=dict(params or {}) or None,
                headers={"X-Token": self.static_token},
            )  # fmt: skip
        else:
            body = self.domain_session().call("GET", url, params)
        if not isinstance(body, dict):
            raise ProviderResponseError(f"{PROVIDER}: GET {path} did not answer a JSON object")
        if body.get("status") == "error":
            code = body.get("code") or body.get("error")
            raise ProviderResponseError(f"{PROVIDER}: GET {path} answered an error ({code})")
        return body

    def walker(self, project_id: str) -> ProjectWalker:
        walker = ProjectWalker(
            self.project_session(project_id),
            project_id,
            self.listing,
            regions=self.regions,
            catalog_types=CATALOG_TYPES,
            page_size=self.page_size,
            provider=PROVIDER,
        )
        walker.database_collection, walker.database_version = "datastores", "v1"
        return walker

    # -- projects --------------------------------------------------------------------------------

    def projects(self) -> list[dict]:
        """The account's projects in scope (the scope's ids, or the credential's one project)."""
        items = self.account_get(PROJECTS_PATH).get("projects") or []
        if not isinstance(items, list):
            raise ProviderResponseError(f"{PROVIDER}: projects is not a list")
        wanted = set(self.project_ids)
        chosen = []
        for item in items:
            if not isinstance(item, Mapping) or not item.get("id"):
                continue
            if wanted and item["id"] not in wanted:
                continue
            if self.project_filter and self.project_filter not in (item["id"], item.get("name")):
                continue
            chosen.append(dict(item))
        return chosen

    # -- the contract ----------------------------------------------------------------------------

    def verify(self) -> VerifyResult:
        if self.static_token:
            self.account_get(BALANCES_PATH)
            return VerifyResult(
                "static token accepted; billing and balance are readable (a static token "
                "cannot read the servers of OpenStack projects)",
                {"auth": "static_token"},
            )
        self.domain_session().token()
        projects = self.projects()
        message = f"service user {self.username} of account {self.account_id} authenticated"
        message += f"; {len(projects)} project(s) visible"
        probes: tuple = ()
        if projects:
            self.listing = self._new_report()
            probes = tuple(probe_services(self.walker(projects[0]["id"]), NAMES))
            message += "; " + probe_summary(probes)
        return VerifyResult(message, {"account_id": self.account_id}, services=probes)

    def _discover(self) -> Iterator[ResourceRecord]:
        report = self.listing
        assert report is not None
        projects: list[dict] = []
        with report.unit("projects", (ResourceType.PROJECT,), ""):
            projects = self.projects()
        report.scopes_complete = not report.problems
        for project in projects:
            yield records.project(project)
        for project in projects:
            project_id = project["id"]
            report.visit(project_id)
            if self.static_token:
                for service in ORDER:
                    report.record(
                        service,
                        TYPES[service],
                        project_id,
                        ListingOutcome.DENIED,
                        "a static token cannot read OpenStack",
                    )
                continue
            try:
                self.project_session(project_id).token()
            except ProviderAuthError as exc:
                # The account-scoped token was issued, so the password is right: a refused
                # project scope means the user has no role in this project. That project's
                # services are unreadable; the other projects are walked.
                for service in ORDER:
                    report.record(
                        service, TYPES[service], project_id, ListingOutcome.DENIED, str(exc)
                    )
                continue
            yield from self.walker(project_id)

    def _metrics(
        self, targets: Iterable[MetricTarget | ResourceRecord], window: MetricWindow
    ) -> Iterator[MetricSample]:
        return iter(())

    # -- costs -----------------------------------------------------------------------------------

    def costs(self, period: CostPeriod) -> Iterator[CostRecord]:
        """Billing statistics day by day of the period (bounded answers), in Moscow time;
        only rows whose period starts inside ``period`` are yielded."""
        wanted = set(self.project_ids)
        day = period.start.astimezone(MSK).replace(hour=0, minute=0, second=0, microsecond=0)
        while day < period.end:
            following = day + timedelta(days=1)
            params = {
                "provider_keys": list(PROVIDER_KEYS),
                "start": day.strftime("%Y-%m-%dT%H:%M:%S"),
                "end": following.strftime("%Y-%m-%dT%H:%M:%S"),
                "group_type": self.group_type,
                "period_group_type": self.period_group_type,
                "locale": "en",
            }
            rows = self.account_get(CONSUMPTION_PATH, params).get("data") or []
            if not isinstance(rows, list):
                raise ProviderResponseError(f"{PROVIDER}: consumption data is not a list")
            for index, row in enumerate(rows):
                record = self._cost_record(row, index)
                if record is None or record.charge_period_start not in period:
                    continue
                if wanted and record.sub_account_id not in wanted:
                    continue
                yield record
            day = following

    def _cost_record(self, row: Any, index: int) -> CostRecord | None:
        if not isinstance(row, Mapping):
            raise ProviderResponseError(f"{PROVIDER}: consumption row {index} is not an object")
        start = moscow_time(row.get("period"))
        if start is None:
            raise ProviderResponseError(
                f"{PROVIDER}: consumption row {index} has no readable period "
                f"({str(row.get('period'))[:30]!r})"
            )
        step = timedelta(hours=1) if self.period_group_type == "hour" else timedelta(days=1)
        end = moscow_time(row.get("provision_end"))
        if end is None or end <= start or end - start > step:
            end = start + step
        amount = money(row.get("value"), f"consumption row {index}")
        key = str(row.get("provider_key") or "")
        service, category = SERVICE_NAMES.get(key, (key or None, None))
        project = row.get("project") if isinstance(row.get("project"), Mapping) else {}
        obj = row.get("object") if isinstance(row.get("object"), Mapping) else {}
        metric = row.get("metric") if isinstance(row.get("metric"), Mapping) else {}
        quantity = None
        if metric.get("quantity") not in (None, ""):
            try:
                quantity = Decimal(str(metric["quantity"]))
            except InvalidOperation:
                quantity = None
        region = metric.get("region") or row.get("region")
        return CostRecord(
            charge_period_start=start.astimezone(UTC),
            charge_period_end=end.astimezone(UTC),
            billed_cost=amount,
            effective_cost=amount,
            billing_currency="RUB",
            charge_description=str(metric.get("name") or metric.get("id") or "") or None,
            service_name=service,
            service_category=category,
            resource_id=str(obj["id"]) if obj.get("id") else None,
            resource_name=str(obj.get("name") or "") or None,
            resource_type=str(obj.get("type") or "") or None,
            region_id=str(region) if region else None,
            sub_account_id=str(project["id"]) if project.get("id") else None,
            sub_account_name=str(project.get("name") or "") or None,
            billing_account_id=str(row.get("account_id") or self.account_id or "") or None,
            sku_id=str(metric["id"]) if metric.get("id") else None,
            consumed_quantity=quantity,
            consumed_unit=str(metric.get("unit") or "") or None,
            pricing_quantity=quantity,
            pricing_unit=str(metric.get("unit") or "") or None,
            extensions={
                "selectel_provider_key": key,
                "selectel_parent_id": str(obj.get("parent_id") or ""),
            },
        )

    # -- balance ---------------------------------------------------------------------------------

    def balances(self) -> list[BalanceRecord]:
        data = self.account_get(BALANCES_PATH).get("data")
        if not isinstance(data, Mapping):
            raise ProviderResponseError(f"{PROVIDER}: the balance answer has no data")
        currency = str((data.get("settings") or {}).get("currency") or "rub").upper()
        days = self._prediction()
        now = datetime.now(UTC)
        found: list[BalanceRecord] = []
        for billing in data.get("billings") or ():
            if not isinstance(billing, Mapping):
                continue
            for balance in billing.get("balances") or ():
                if not isinstance(balance, Mapping):
                    continue
                kind = str(balance.get("balance_type") or "")
                found.append(
                    BalanceRecord(
                        amount=money(balance.get("value"), f"balance {kind}"),
                        currency=currency,
                        as_of=now,
                        kind=BALANCE_KINDS.get(kind, BalanceKind.OTHER),
                        account_id=self.account_id or str(billing.get("billing_type") or ""),
                        days_to_block=days if kind == "main" else None,
                        details={
                            "balance_type": kind,
                            "billing_type": billing.get("billing_type"),
                            "debt_sum": billing.get("debt_sum"),
                            "debt_status": data.get("debt_status"),
                        },
                    )
                )
        return found

    def _prediction(self) -> Decimal | None:
        """Days the balance lasts (the ``primary`` figure; the docs say hours, clients read days
        [I]); None when not reported or not readable."""
        try:
            data = self.account_get(PREDICTION_PATH).get("data")
        except ProviderAuthError:
            return None
        except ProviderError as exc:
            if exc.status in (404, 501):
                return None
            raise
        value = data.get("primary") if isinstance(data, Mapping) else None
        if value in (None, ""):
            return None
        try:
            return Decimal(str(value))
        except InvalidOperation:
            return None

    # -- operations and refresh ------------------------------------------------------------------

    def _project_walkers(self) -> Iterator[ProjectWalker]:
        if self.static_token:
            raise ProviderAuthError(f"{PROVIDER}: a static token cannot read OpenStack")
        self.listing = self._new_report()
        for project in self.projects():
            yield self.walker(project["id"])

    def operations(self, since: datetime | None):
        for walker in self._project_walkers():
            yield from InstanceActions(walker).since(since)

    def refresh(self, provider_id: str) -> ResourceRecord | None:
        for walker in self._project_walkers():
            found = InstanceActions(walker).server(provider_id)
            if found is not None:
                return found
        return None
