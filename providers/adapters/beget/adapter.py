"""``BegetAdapter``: the provider contract over Beget's hosting API and its VPS API.

``verify()`` reads the account (the hosting credentials), then probes every hosting section and,
with VPS credentials, the server list, so the operator learns at once which sections the API
settings leave closed. Discovery, costs, balances, metrics, the VPS history (``operations``) and
single-resource ``refresh`` follow; what they infer is listed in ``BegetOptions`` and
``beget/costs.py``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from providers.adapters.base import (
    BalanceKind,
    BalanceRecord,
    CostPeriod,
    CostRecord,
    MetricSample,
    MetricTarget,
    MetricWindow,
    OperationAction,
    OperationRecord,
    OperationStatus,
    ProviderAdapter,
    ProviderError,
    ProviderPermissionDenied,
    ProviderResponseError,
    ResourceRecord,
    ResourceType,
    ServiceProbe,
    VerifyResult,
)
from providers.adapters.beget import costs as beget_costs
from providers.adapters.beget import values as v
from providers.adapters.beget.client import BegetClient, BegetCredentials, BegetEndpoints
from providers.adapters.beget.discovery import BegetDiscovery, BegetOptions, Records
from providers.adapters.beget.services import SERVICES
from providers.adapters.listing import ListingOutcome, outcome_of

CPU_UTILIZATION = "cpu_utilization"
CPU_OF_GUARANTEED = "cpu_utilization_of_guaranteed"
# Statistics periods the VPS API offers, each ending now (their spans are what the names say).
STAT_PERIODS = (
    ("HOUR", dt.timedelta(hours=1)),
    ("DAY", dt.timedelta(days=1)),
    ("WEEK", dt.timedelta(days=7)),
    ("MONTH", dt.timedelta(days=31)),
)
HISTORY_ACTIONS = {
    "CREATE": OperationAction.CREATED,
    "START": OperationAction.STARTED,
    "STOP": OperationAction.STOPPED,
    "RESTART": OperationAction.OTHER,
    "REINSTALL": OperationAction.UPDATED,
    "RECONFIGURE": OperationAction.UPDATED,
    "REMOVE": OperationAction.DELETED,
}
# (service, section, method) of each hosting probe, in discovery's order.
HOSTING_PROBES = (
    ("site", "site", "getList"),
    ("domain", "domain", "getList"),
    ("mysql", "mysql", "getList"),
    ("backup", "backup", "getFileBackupList"),
)


class BegetAdapter(ProviderAdapter):
    provider = v.PROVIDER
    services = SERVICES
    scope_noun = "account"
    cost_extensions = beget_costs.EXTENSIONS
    # Computed from today's prices (beget/costs.py): stored as estimates, never as billed costs.
    cost_estimates = True

    def __init__(
        self,
        credentials: BegetCredentials | Mapping[str, Any],
        *,
        scope: Mapping[str, Any] | None = None,
        endpoints: BegetEndpoints | Mapping[str, str] | None = None,
        http_options: Mapping[str, Any] | None = None,
        vps_page_size: int | None = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        if not isinstance(credentials, BegetCredentials):
            credentials = BegetCredentials.from_mapping(credentials)
        if not isinstance(endpoints, BegetEndpoints):
            endpoints = BegetEndpoints.from_mapping(endpoints)
        self.options = BegetOptions.from_scope(dict(scope or {}))
        self.client = BegetClient(
            credentials,
            endpoints,
            http_options=http_options,
            **({"vps_page_size": vps_page_size} if vps_page_size else {}),
        )
        self.records = Records(credentials.login, self.options)
        self.clock = clock

    @property
    def api_calls(self) -> int:
        return self.client.api_calls

    def _today(self) -> dt.date:
        return self.clock().astimezone(self.options.tz).date()

    # -- verify ----------------------------------------------------------------------------------

    def verify(self) -> VerifyResult:
        info = self._account_info()
        login = self.client.credentials.login
        probes = [ServiceProbe("user", SERVICES["user"].name, str(ListingOutcome.COMPLETE))]
        for service, section, method in HOSTING_PROBES:
            probes.append(
                self._probe(service, lambda s=section, m=method: self.client.hosting(s, m))
            )
        if self.client.credentials.has_vps:
            probes.append(
                self._probe(
                    "vps",
                    lambda: self.client.vps_get("/v1/vps/server/list", {"offset": 0, "limit": 1}),
                )
            )
        plan = v.text(info.get("plan_name"))
        message = f"account {login} (plan {plan}) is readable; " + _probe_summary(probes)
        if not self.client.credentials.has_vps:
            message += "; no VPS API credentials: cloud servers are not read"
        return VerifyResult(message, {"login": login, "plan": plan}, services=tuple(probes))

    def _probe(self, service: str, call: Callable[[], Any]) -> ServiceProbe:
        name = SERVICES[service].name
        try:
            call()
        except ProviderError as exc:
            outcome = outcome_of(exc)
            if outcome is None and exc.status == 401:
                raise  # the credentials themselves
            return ServiceProbe(service, name, str(outcome or ListingOutcome.FAILED), str(exc))
        return ServiceProbe(service, name, str(ListingOutcome.COMPLETE))

    def _account_info(self) -> dict:
        info = self.client.hosting("user", "getAccountInfo")
        if not isinstance(info, dict):
            raise ProviderResponseError(f"{v.PROVIDER}: getAccountInfo is not an object")
        return info

    # -- discovery -------------------------------------------------------------------------------

    def _discover(self) -> Iterator[ResourceRecord]:
        assert self.listing is not None
        return iter(BegetDiscovery(self.client, self.records, self.listing))

    def refresh(self, provider_id: str) -> ResourceRecord | None:
        """One resource as discovery lists it. Hosting lists are read whole (Beget has no
        single-item methods for them); a server is ``GET /v1/vps/server/{id}`` (404: gone)."""
        records, client = self.records, self.client
        if provider_id == records.login:
            return records.account(self._account_info())
        kind, _, rest = provider_id.partition("/")
        hosting = {
            "site": (("site", "getList"), records.site),
            "domain": (("domain", "getList"), lambda i: records.domain(i, self._today())),
            "mysql": (("mysql", "getList"), records.database),
        }
        if kind in hosting:
            (section, method), build = hosting[kind]
            for item in v.items(client.hosting(section, method), f"{section}/{method}"):
                record = build(item)
                if record.provider_id == provider_id:
                    return record
            return None
        if kind == "backup":
            backup_kind = rest.partition("/")[0]
            method = {"file": "getFileBackupList", "mysql": "getMysqlBackupList"}.get(backup_kind)
            if method is None:
                return None
            for item in v.items(client.hosting("backup", method), f"backup/{method}"):
                record = records.backup(item, backup_kind)
                if record.provider_id == provider_id:
                    return record
            return None
        try:
            body = client.vps_get(f"/v1/vps/server/{provider_id}")
        except ProviderError as exc:
            if exc.status == 404:
                return None
            raise
        item = body.get("vps")
        if not isinstance(item, dict) or v.text(item.get("status")).upper() == "REMOVED":
            return None
        return records.server(item)

    # -- balance ---------------------------------------------------------------------------------

    def balances(self) -> list[BalanceRecord]:
        """``user_balance`` (RUB; negative is a debt) and Beget's own ``user_days_to_block``."""
        info = self._account_info()
        amount = v.decimal(info.get("user_balance"), "user_balance")
        if amount is None:
            raise ProviderResponseError(f"{v.PROVIDER}: getAccountInfo has no user_balance")
        days = v.decimal(info.get("user_days_to_block"), "user_days_to_block")
        return [
            BalanceRecord(
                amount=amount,
                currency=beget_costs.CURRENCY,
                as_of=self.clock(),
                kind=BalanceKind.MAIN,
                account_id=self.client.credentials.login,
                days_to_block=days,
                details={
                    "plan_name": v.text(info.get("plan_name")),
                    "rate_day": v.text(info.get("user_rate_current")),
                    "rate_month": v.text(info.get("user_rate_month")),
                },
            )
        ]

    # -- costs -----------------------------------------------------------------------------------

    def costs(self, period: CostPeriod) -> Iterator[CostRecord]:
        """Daily estimates from the plan rate and the servers' prices (``beget/costs.py``)."""
        info = self._account_info()
        account = self.records.account(info)
        servers: list[ResourceRecord] = []
        if self.client.credentials.has_vps:
            try:
                for page in self.client.servers():
                    servers.extend(
                        self.records.server(item)
                        for item in page
                        if v.text(item.get("status")).upper() != "REMOVED"
                    )
            except ProviderPermissionDenied as exc:
                # A period is replaced by exactly what this returns: without the servers it
                # would silently shrink, so the pull fails instead, and not as refused
                # credentials (the hosting API answered).
                raise ProviderResponseError(
                    f"{v.PROVIDER}: the cloud servers cannot be read, so their costs cannot be "
                    f"estimated ({exc})",
                    status=exc.status,
                ) from None
        return beget_costs.daily_costs(
            info=info,
            account=account,
            servers=servers,
            period=period,
            options=self.options,
            today=self._today(),
        )

    # -- metrics ---------------------------------------------------------------------------------

    def _metrics(
        self, targets: Iterable[MetricTarget | ResourceRecord], window: MetricWindow
    ) -> Iterator[MetricSample]:
        """CPU load per server from ``/v1/vps/statistic/cpu/{id}`` (percent of the server's
        vCPUs, inferred), averaged onto the window's grid. One listing unit for all servers: a
        403 skips them all (their stored samples are kept); a 404 for one server means it is
        gone and is skipped, but 404 for every server means the statistics are not there."""
        assert self.listing is not None
        servers = [t.provider_id for t in targets if str(t.type) == ResourceType.VM]
        self.listing.scopes_complete = True
        if not servers or not self.client.credentials.has_vps:
            return
        period = self._stat_period(window)
        with self.listing.unit("vps_statistic", (ResourceType.VM,)):
            missing: list[ProviderError] = []
            for server_id in servers:
                try:
                    body = self.client.vps_get(
                        f"/v1/vps/statistic/cpu/{server_id}", {"period": period}
                    )
                except ProviderError as exc:
                    if exc.status == 404:
                        missing.append(exc)
                        continue
                    raise
                yield from self._cpu_samples(server_id, body, window)
            if missing and len(missing) == len(servers):
                raise missing[0]

    def _stat_period(self, window: MetricWindow) -> str:
        back = self.clock() - window.start
        for name, span in STAT_PERIODS:
            if back <= span:
                return name
        return STAT_PERIODS[-1][0]

    def _cpu_samples(
        self, server_id: str, body: dict, window: MetricWindow
    ) -> Iterator[MetricSample]:
        series = body.get("cpu") or {}
        if not isinstance(series, dict):
            raise ProviderResponseError(f"{v.PROVIDER}: CPU statistics of {server_id}")
        dates, values = series.get("date") or [], series.get("value") or []
        step = window.step.total_seconds()
        buckets: dict[int, list[float]] = defaultdict(list)
        for stamp, value in zip(dates, values, strict=False):
            moment = v.moment(stamp, "statistic date", self.options.tz)
            number = _number(value)
            if moment is None or number is None or not window.start <= moment < window.end:
                continue
            buckets[int((moment - window.start).total_seconds() // step)].append(number)
        for index in sorted(buckets):
            points = buckets[index]
            moment = window.start + index * window.step
            mean = sum(points) / len(points)
            yield MetricSample(server_id, CPU_UTILIZATION, moment, mean)
            # Beget sells whole vCPUs: the guaranteed share is all of it.
            yield MetricSample(server_id, CPU_OF_GUARANTEED, moment, mean)

    # -- operations ------------------------------------------------------------------------------

    def operations(self, since: dt.datetime | None) -> Iterator[OperationRecord]:
        """The servers' history (``/v1/vps/{id}/history``: date, type, has_error), oldest
        first. Beget gives entries no id, so the id is (server, type, time); nor an actor. The
        hosting API keeps no action log; a removed server's history goes with it."""
        if not self.client.credentials.has_vps:
            return
        found: list[OperationRecord] = []
        for page in self.client.servers():
            for item in page:
                server_id = v.text(item.get("id"))
                body = self.client.vps_get(f"/v1/vps/{server_id}/history")
                for entry in v.items(body.get("history"), "history"):
                    at = v.moment(entry.get("date"), "history date", self.options.tz)
                    if at is None or (since is not None and at < since):
                        continue
                    raw = v.text(entry.get("type")).upper() or "UNKNOWN"
                    found.append(
                        OperationRecord(
                            provider_id=f"{server_id}:{raw}:{at.isoformat()}",
                            resource_provider_id=server_id,
                            action=HISTORY_ACTIONS.get(raw, OperationAction.OTHER),
                            raw_action=raw,
                            at=at,
                            status=OperationStatus.FAILED
                            if v.flag(entry.get("has_error"))
                            else OperationStatus.DONE,
                        )
                    )
        found.sort(key=lambda op: (op.at, op.provider_id))
        yield from found


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _probe_summary(probes: Iterable[ServiceProbe]) -> str:
    readable, unreadable = [], []
    for probe in probes:
        if probe.outcome == ListingOutcome.COMPLETE:
            readable.append(probe.name)
        elif probe.outcome == ListingOutcome.DENIED:
            unreadable.append(f"{probe.name} (permission denied — {SERVICES[probe.service].role})")
        elif probe.outcome == ListingOutcome.ABSENT:
            unreadable.append(f"{probe.name} (not available)")
        else:
            unreadable.append(f"{probe.name} (could not be checked: {probe.detail})")
    parts = []
    if readable:
        parts.append("readable: " + ", ".join(readable))
    if unreadable:
        parts.append("not readable: " + ", ".join(unreadable))
    return "; ".join(parts)
