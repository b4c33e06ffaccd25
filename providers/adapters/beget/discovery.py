"""Beget answers -> ``ResourceRecord``s, and the discovery walk over both APIs.

Provider ids are prefixed by kind where Beget's ids are bare numbers that could repeat across
sections (a site and a domain may share 125): ``site/125``, ``domain/132456``, ``mysql/<name>``,
``backup/file/<id>``, ``backup/mysql/<id>``; the account is its login and a server its VPS id
(``v-7f3a``). Everything except the account hangs off the account (``parent_provider_id``).

Only what describes the resource goes into a record: the balance, days to block, disk used and
the hosting server's load change every hour and would rewrite every row on every sync, so they are
read by ``balances()`` and metrics instead.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from providers.adapters.base import ResourceRecord, ResourceStatus, ResourceType, SpecKey
from providers.adapters.beget import values as v
from providers.adapters.beget.client import BegetClient
from providers.adapters.listing import ListingReport
from providers.adapters.spec import SettingsInvalid

MIB = 1024 * 1024
GIB = 1024 * MIB
UNITS = {"MiB": MIB, "GiB": GIB, "MB": 1000 * 1000, "GB": 1000**3}
VPS_STATUS = {
    "RUNNING": ResourceStatus.RUNNING,
    "STOPPED": ResourceStatus.STOPPED,
    "STOPPING": ResourceStatus.STOPPED,
    "CREATING": ResourceStatus.PROVISIONING,
    "STARTING": ResourceStatus.PROVISIONING,
    "RESTARTING": ResourceStatus.PROVISIONING,
    "RECONFIGURING": ResourceStatus.PROVISIONING,
    "REINSTALLING": ResourceStatus.PROVISIONING,
    "REMOVING": ResourceStatus.DELETING,
    "REMOVED": ResourceStatus.DELETING,
}


@dataclass(frozen=True, slots=True)
class BegetOptions:
    """What provider-apis.md marks inferred, per connection (its scope settings).

    - ``time_zone``: the zone of Beget's zone-less times ("2021-10-24 15:01:40") and of its
      billing days (Europe/Moscow);
    - ``vps_memory_unit`` / ``vps_disk_unit``: the unit of a server's ``configuration.memory`` and
      ``disk_size``; "auto" reads small numbers as GiB and large ones as MiB (2 is 2 GiB, 2048 is
      2048 MiB: no server has 2 MiB of memory or 4 GiB of disk in MiB);
    - ``plan_rate``: whether ``user_rate_current`` is the plan's daily price ("plan"), the whole
      account's ("total": plan + servers) or to be told apart by the plan's monthly price
      ("auto", see ``beget/costs.py``).
    """

    time_zone: str = v.DEFAULT_TIME_ZONE
    vps_memory_unit: str = "auto"
    vps_disk_unit: str = "auto"
    plan_rate: str = "auto"

    @classmethod
    def from_scope(cls, scope: dict[str, Any] | None) -> BegetOptions:
        scope = scope or {}
        options = cls(
            **{
                name: str(scope[name]).strip()
                for name in ("time_zone", "vps_memory_unit", "vps_disk_unit", "plan_rate")
                if scope.get(name)
            }
        )
        options.check()
        return options

    def check(self) -> None:
        try:
            zoneinfo.ZoneInfo(self.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise SettingsInvalid(
                f"Unknown time zone {self.time_zone!r} (e.g. Europe/Moscow).", field="time_zone"
            ) from None
        for name in ("vps_memory_unit", "vps_disk_unit"):
            if getattr(self, name) not in ("auto", *UNITS):
                raise SettingsInvalid(
                    f"{name} is one of auto, {', '.join(UNITS)}.", field=name
                ) from None
        if self.plan_rate not in ("auto", "plan", "total"):
            raise SettingsInvalid("plan_rate is one of auto, plan, total.", field="plan_rate")

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def size_bytes(self, value: Any, field: str, unit: str, gib_below: int) -> int | None:
        number = v.decimal(value, field)
        if number is None:
            return None
        if unit == "auto":
            unit = "GiB" if number <= gib_below else "MiB"
        return int(number * UNITS[unit])


def money_text(value: Decimal | None) -> str | None:
    """ "345", 345.0 and "345.00" all read "345.00": a type that flips between answers must not
    change the content hash (and cost a write)."""
    return None if value is None else str(value.quantize(Decimal("0.01")))


class Records:
    """Turns Beget's answers into records (also used by ``refresh``)."""

    def __init__(self, login: str, options: BegetOptions) -> None:
        self.login = login
        self.options = options
        self.tz = options.tz

    def _base(self, **fields: Any) -> ResourceRecord:
        return ResourceRecord(sub_account=self.login, **fields)

    def account(self, info: dict) -> ResourceRecord:
        rate_day = v.decimal(info.get("user_rate_current"), "user_rate_current")
        rate_month = v.decimal(info.get("user_rate_month"), "user_rate_month")
        rate_year = v.decimal(info.get("user_rate_year"), "user_rate_year")
        specs: dict[str, int | str] = {"plan": v.text(info.get("plan_name"))}
        for key, field in (("sites", "user_sites"), ("domains", "user_domains")):
            count = v.integer(info.get(field), field)
            if count is not None:
                specs[key] = count
        return ResourceRecord(
            provider_id=self.login,
            type=ResourceType.ACCOUNT,
            name=self.login,
            status=ResourceStatus.RUNNING,
            specs=specs,
            properties={
                "plan_name": v.text(info.get("plan_name")),
                "rate_day": money_text(rate_day),
                "rate_month": money_text(rate_month),
                "rate_year": money_text(rate_year),
                "year_plan": v.flag(info.get("user_is_year_plan")),
                "server_name": v.text(info.get("server_name")),
                "php_version": v.text(info.get("server_php_version")),
                "mysql_version": v.text(info.get("server_mysql_version")),
            },
            sub_account=self.login,
        )

    def site(self, item: dict) -> ResourceRecord:
        site_id = v.text(item.get("id"))
        if not site_id:
            raise v.ProviderResponseError(f"{v.PROVIDER}: a site without an id")
        domains = v.items(item.get("domains"), "site/getList domains")
        fqdns = [v.text(d.get("fqdn")) for d in domains if d.get("fqdn")]
        return self._base(
            provider_id=f"site/{site_id}",
            type=ResourceType.SITE,
            name=fqdns[0] if fqdns else v.text(item.get("path")),
            status=ResourceStatus.RUNNING,
            properties={
                "path": v.text(item.get("path")),
                "fqdns": sorted(fqdns),
                "php_versions": sorted({v.text(d.get("php_version")) for d in domains} - {""}),
            },
            parent_provider_id=self.login,
            related_ids={
                "domains": tuple(sorted(f"domain/{v.text(d.get('id'))}" for d in domains))
            },
        )

    def domain(self, item: dict, today: dt.date) -> ResourceRecord:
        domain_id = v.text(item.get("id"))
        if not domain_id:
            raise v.ProviderResponseError(f"{v.PROVIDER}: a domain without an id")
        expires = v.date(item.get("date_expire"), "date_expire")
        specs: dict[str, int | str] = {}
        if expires:
            specs[SpecKey.EXPIRES_ON] = expires
        expired = expires is not None and dt.date.fromisoformat(expires) < today
        return self._base(
            provider_id=f"domain/{domain_id}",
            type=ResourceType.DOMAIN,
            name=v.text(item.get("fqdn")),
            status=ResourceStatus.STOPPED if expired else ResourceStatus.RUNNING,
            raw_status=v.text(item.get("registrar_status")),
            specs=specs,
            properties={
                "registered_on": v.date(item.get("date_register"), "date_register"),
                "auto_renew": v.flag(item.get("auto_renew")),
                "can_renew": v.flag(item.get("can_renew")),
                "registrar": v.text(item.get("registrar")),
            },
            created_at=v.moment(item.get("date_add"), "date_add", self.tz),
            parent_provider_id=self.login,
        )

    def database(self, item: dict) -> ResourceRecord:
        name = v.text(item.get("name") or item.get("db_name"))
        if not name:
            raise v.ProviderResponseError(f"{v.PROVIDER}: a database without a name")
        specs: dict[str, int | str] = {}
        size = v.decimal(item.get("size"), "mysql size")  # MB (inferred)
        if size is not None:
            specs[SpecKey.STORAGE_BYTES] = int(size * MIB)
        users = v.items(item.get("users"), "mysql users")
        return self._base(
            provider_id=f"mysql/{name}",
            type=ResourceType.DATABASE,
            name=name,
            status=ResourceStatus.RUNNING,
            specs=specs,
            properties={
                "engine": "mysql",
                "users": sorted(v.text(u.get("login") or u.get("name")) for u in users),
            },
            parent_provider_id=self.login,
        )

    def backup(self, item: dict, kind: str) -> ResourceRecord:
        backup_id = v.text(item.get("backup_id") or item.get("id"))
        if not backup_id:
            raise v.ProviderResponseError(f"{v.PROVIDER}: a {kind} backup without an id")
        taken = v.moment(item.get("date"), "backup date", self.tz)
        return self._base(
            provider_id=f"backup/{kind}/{backup_id}",
            type=ResourceType.BACKUP,
            name=f"{kind} backup {v.text(item.get('date'))}".strip(),
            status=ResourceStatus.RUNNING,
            properties={"kind": kind},
            created_at=taken,
            parent_provider_id=self.login,
        )

    def server(self, item: dict) -> ResourceRecord:
        server_id = v.text(item.get("id"))
        if not server_id:
            raise v.ProviderResponseError(f"{v.PROVIDER}: a server without an id")
        config = item.get("configuration") or {}
        if not isinstance(config, dict):
            raise v.ProviderResponseError(f"{v.PROVIDER}: server {server_id} configuration")
        specs: dict[str, int | str] = {"configuration": v.text(config.get("name"))}
        vcpu = v.integer(config.get("cpu_count"), "cpu_count")
        if vcpu is not None:
            specs[SpecKey.VCPU] = vcpu
        memory = self.options.size_bytes(
            config.get("memory"), "memory", self.options.vps_memory_unit, 512
        )
        if memory is not None:
            specs[SpecKey.MEMORY_BYTES] = memory
        disk = self.options.size_bytes(
            config.get("disk_size"), "disk_size", self.options.vps_disk_unit, 4096
        )
        if disk is not None:
            specs[SpecKey.STORAGE_BYTES] = disk
        raw_status = v.text(item.get("status")).upper()
        price_day = v.decimal(config.get("price_day"), "price_day")
        price_month = v.decimal(config.get("price_month"), "price_month")
        return self._base(
            provider_id=server_id,
            type=ResourceType.VM,
            name=v.text(item.get("display_name") or item.get("slug") or server_id),
            region=v.text(item.get("region") or config.get("region")) or None,
            status=VPS_STATUS.get(raw_status, ResourceStatus.UNKNOWN),
            raw_status=raw_status,
            specs=specs,
            properties={
                "hostname": v.text(item.get("hostname")),
                "ip_address": v.text(item.get("ip_address")),
                "configuration_id": v.text(config.get("id")),
                "price_day": money_text(price_day),
                "price_month": money_text(price_month),
                "archived": v.flag(item.get("archived")),
                "project_id": v.text(item.get("project_id")),
            },
            created_at=v.moment(item.get("date_create"), "date_create", self.tz),
            parent_provider_id=self.login,
        )


class BegetDiscovery:
    """The walk: one listing unit per hosting section and one for the servers, account-wide
    (scope ""): a refused section is recorded and skipped, the others are read in full."""

    def __init__(self, client: BegetClient, records: Records, report: ListingReport) -> None:
        self.client, self.records, self.report = client, records, report

    def __iter__(self) -> Iterator[ResourceRecord]:
        client, records, report = self.client, self.records, self.report
        with report.unit("user", (ResourceType.ACCOUNT,)):
            info = client.hosting("user", "getAccountInfo")
            if not isinstance(info, dict):
                raise v.ProviderResponseError(f"{v.PROVIDER}: getAccountInfo is not an object")
            yield records.account(info)
        with report.unit("site", (ResourceType.SITE,)):
            for item in v.items(client.hosting("site", "getList"), "site/getList"):
                yield records.site(item)
        with report.unit("domain", (ResourceType.DOMAIN,)):
            today = dt.datetime.now(records.tz).date()
            for item in v.items(client.hosting("domain", "getList"), "domain/getList"):
                yield records.domain(item, today)
        with report.unit("mysql", (ResourceType.DATABASE,)):
            for item in v.items(client.hosting("mysql", "getList"), "mysql/getList"):
                yield records.database(item)
        with report.unit("backup", (ResourceType.BACKUP,)):
            for kind, method in (("file", "getFileBackupList"), ("mysql", "getMysqlBackupList")):
                for item in v.items(client.hosting("backup", method), f"backup/{method}"):
                    yield records.backup(item, kind)
        if client.credentials.has_vps:
            with report.unit("vps", (ResourceType.VM,)):
                for page in client.servers():
                    for item in page:
                        if v.text(item.get("status")).upper() != "REMOVED":
                            yield records.server(item)
        report.scopes_complete = True
