"""Detailed billing export files for the simulator's cloud, served from its Object Storage.

One CSV per MSK day (``billing/YYYYMMDD.csv`` in bucket ``yc-billing-export``), in the documented
column order with a dynamic set of ``label.user_labels.*`` columns, charging the inventory's own
resources: vCPU and RAM of running VMs (preemptible SKUs for preemptible ones), disks by type,
snapshots and images, public IPs (idle reserved ones cost more), buckets, managed database hosts
(``resource_id`` is the host name, as Yandex does), Kubernetes masters, and per-folder Monitoring
with an empty ``resource_id``. Amounts are exact decimals (quantity x price, credits as exact
fractions); some rows carry a grant, a CVoS (CUD) or a misc credit.

Days are frozen on first use (later inventory changes only affect rewritten or new days); the
current day holds the hours elapsed so far. Knobs: ``rewrite(day)`` makes a new version of a
day's file (today: more hours; a past day: a late traffic charge), ``set_malformed(day, n)``
appends n bad rows (with their expected line, column and error kind), ``set_empty(day)`` makes
the day's file a header without rows (Yandex's way of saying a day has no charges).
``expected_totals()`` is the simulator's own sum of ``cost + credit`` over the good rows, to
compare imports against.

The billing account (``account()``, served by the Billing API) holds what was paid in
(``top_up(amount)``, ``TOP_UP`` to start with) minus what the export's days charged so far, as a
decimal string, so the balance and the costs of a connection always agree.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from providers.adapters.yandex.simulator_inventory import DB_PRESETS, GIB, Inventory, InventoryItem
from providers.adapters.yandex.simulator_storage import ObjectStorage, StoredObject
from providers.adapters.yandex.simulator_wire import ApiError

MSK = ZoneInfo("Europe/Moscow")
BILLING_BUCKET = "yc-billing-export"
BILLING_PREFIX = "billing/"
BILLING_ACCOUNT = ("dn2simbilling00000001", "simulated-billing-account")
DEFAULT_DAYS = 35
TOP_UP = Decimal("1000000.00")  # paid into the simulated billing account before its first day
TODAY_HOURS = 12  # hours of today already in today's file; each rewrite adds 3
HEAD_COLUMNS = (
    "billing_account_id",
    "billing_account_name",
    "cloud_id",
    "cloud_name",
    "folder_id",
    "folder_name",
    "resource_id",
    "service_id",
    "service_name",
    "sku_id",
    "sku_name",
    "date",
    "currency",
    "pricing_quantity",
    "pricing_unit",
    "cost",
    "credit",
    "monetary_grant_credit",
    "volume_incentive_credit",
    "cud_credit",
    "misc_credit",
)
TAIL_COLUMNS = ("locale", "updated_at", "exported_at")
LABEL = "label.user_labels."
_ZERO = Decimal(0)


@dataclass(frozen=True)
class Sku:
    id: str
    name: str
    service_id: str
    service_name: str
    unit: str
    price: Decimal  # RUB per unit, VAT included (as Yandex's RUB prices are)


def _sku(sku_id, name, service, unit, price) -> Sku:
    service_id, service_name = SERVICES[service]
    return Sku(sku_id, name, service_id, service_name, unit, Decimal(price))


SERVICES = {
    "compute": ("dn2svc0compute0000000", "Compute Cloud"),
    "vpc": ("dn2svc0vpc000000000000", "Virtual Private Cloud"),
    "storage": ("dn2svc0storage00000000", "Object Storage"),
    "postgresql": ("dn2svc0mdbpg0000000000", "Managed Service for PostgreSQL"),
    "mysql": ("dn2svc0mdbmysql0000000", "Managed Service for MySQL"),
    "clickhouse": ("dn2svc0mdbch0000000000", "Managed Service for ClickHouse"),
    "kubernetes": ("dn2svc0k8s000000000000", "Managed Service for Kubernetes"),
    "monitoring": ("dn2svc0monitoring00000", "Cloud Monitoring"),
}
CPU = {
    f: _sku(f"dn2cpu{f:03d}v3", f"Intel Ice Lake. {f}% vCPU", "compute", "core*hour", p)
    for f, p in ((100, "1.12"), (50, "0.72"), (20, "0.44"), (5, "0.16"))
}
CPU_PREEMPTIBLE = {
    f: _sku(
        f"dn2cpu{f:03d}pr", f"Intel Ice Lake. {f}% vCPU. Preemptible", "compute", "core*hour", p
    )
    for f, p in ((100, "0.34"), (50, "0.22"), (20, "0.14"), (5, "0.06"))
}
RAM = _sku("dn2ram0v3", "Intel Ice Lake. RAM", "compute", "gbyte*hour", "0.30")
RAM_PREEMPTIBLE = _sku(
    "dn2ram0pr", "Intel Ice Lake. RAM. Preemptible", "compute", "gbyte*hour", "0.09"
)
DISK = {
    "network-ssd": _sku(
        "dn2diskssd", "Fast network drive (SSD)", "compute", "gbyte*hour", "0.0163"
    ),
    "network-hdd": _sku(
        "dn2diskhdd", "Standard network drive (HDD)", "compute", "gbyte*hour", "0.0044"
    ),
    "network-ssd-nonreplicated": _sku(
        "dn2disknrd", "Non-replicated network drive (SSD)", "compute", "gbyte*hour", "0.0111"
    ),
}
SNAPSHOT = _sku("dn2snapshot", "Snapshot and image storage", "compute", "gbyte*hour", "0.0036")
IP_USED = _sku("dn2ipused", "Public IP address", "vpc", "hour", "0.2")
IP_IDLE = _sku("dn2ipidle", "Public IP address. Reserved, inactive", "vpc", "hour", "0.25")
EGRESS = _sku("dn2egress", "Outgoing traffic", "vpc", "gbyte", "1.53")
BUCKET = {
    "STANDARD": _sku("dn2s3std", "Standard storage", "storage", "gbyte*hour", "0.0028"),
    "COLD": _sku("dn2s3cold", "Cold storage", "storage", "gbyte*hour", "0.0014"),
    "ICE": _sku("dn2s3ice", "Ice storage", "storage", "gbyte*hour", "0.0009"),
}
MDB_CPU = "1.58"
MDB_RAM = "0.42"
MDB_DISK = {"network-ssd": "0.0180", "network-hdd": "0.0050", "local-ssd": "0.0150"}
K8S_MASTER = _sku("dn2k8szonal", "Zonal master", "kubernetes", "hour", "8.61")
MONITORING = _sku("dn2monwrite", "Metrics writes", "monitoring", "1k*request", "0.0762")
_PRESETS = {preset: (cores, memory) for preset, cores, memory in DB_PRESETS}


@dataclass
class DayFile:
    day: dt.date
    revision: int
    body: bytes
    last_modified: dt.datetime
    rows: list[dict[str, str]]  # the good rows, as written
    totals: dict[str, Decimal]  # currency -> sum of cost + credit over the good rows
    bad_lines: list[dict[str, Any]] = field(default_factory=list)  # line, column, kind


class BillingExport:
    """The export bucket's contents; plugs into ObjectStorage as a generated bucket."""

    def __init__(
        self,
        inventory: Inventory,
        *,
        seed: int = 1,
        days: int = DEFAULT_DAYS,
        today: dt.date | None = None,
        prefix: str = BILLING_PREFIX,
        currency: str = "RUB",
    ) -> None:
        self.inventory = inventory
        self.seed = seed
        self.days = days
        self.today = today  # None: the real current MSK date
        self.prefix = prefix
        self.currency = currency
        self.revisions: dict[dt.date, int] = {}
        self.malformed: dict[dt.date, int] = {}
        self.empty: set[dt.date] = set()
        self.paid_in = TOP_UP
        self._files: dict[tuple[dt.date, int, int], DayFile] = {}
        self._lock = threading.RLock()

    # -- the calendar ----------------------------------------------------------------------------

    def current_day(self) -> dt.date:
        return self.today or dt.datetime.now(MSK).date()

    def dates(self) -> list[dt.date]:
        last = self.current_day()
        return [last - dt.timedelta(days=n) for n in range(self.days - 1, -1, -1)]

    def key_for(self, day: dt.date) -> str:
        return f"{self.prefix}{day:%Y%m%d}.csv"

    # -- bucket interface ------------------------------------------------------------------------

    def list(self) -> list[StoredObject]:
        return [self._stored(self.file(day)) for day in self.dates()]

    def get(self, key: str) -> StoredObject | None:
        for day in self.dates():
            if self.key_for(day) == key:
                return self._stored(self.file(day))
        return None

    def _stored(self, day_file: DayFile) -> StoredObject:
        return StoredObject(
            self.key_for(day_file.day), day_file.body, day_file.last_modified, "text/csv"
        )

    # -- knobs -----------------------------------------------------------------------------------

    def rewrite(self, day: dt.date | None = None) -> DayFile:
        """A new version of a day's file (today's: three more hours; a past day's: a late
        traffic charge), as Yandex rewrites files during the month."""
        day = day or self.current_day()
        with self._lock:
            self.revisions[day] = self.revisions.get(day, 0) + 1
        return self.file(day)

    def set_malformed(self, day: dt.date, rows: int) -> DayFile:
        with self._lock:
            self.malformed[day] = rows
        return self.file(day)

    def set_empty(self, day: dt.date) -> DayFile:
        with self._lock:
            self.empty.add(day)
            self.revisions[day] = self.revisions.get(day, 0) + 1  # a new version of the file
        return self.file(day)

    def expected_totals(self, days: list[dt.date] | None = None) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = {}
        for day in days or self.dates():
            for currency, amount in self.file(day).totals.items():
                totals[currency] = totals.get(currency, _ZERO) + amount
        return totals

    # -- the billing account ---------------------------------------------------------------------

    def top_up(self, amount: Decimal) -> None:
        with self._lock:
            self.paid_in += Decimal(amount)

    def balance(self) -> Decimal:
        """Paid in, minus every day of the export so far (cost + credit, good rows)."""
        return self.paid_in - self.expected_totals().get(self.currency, _ZERO)

    def account(self) -> dict[str, Any]:
        """The billing account as ``GET /billing/v1/billingAccounts/{id}`` answers it."""
        return {
            "id": BILLING_ACCOUNT[0],
            "name": BILLING_ACCOUNT[1],
            "createdAt": "2023-05-04T07:00:00Z",
            "countryCode": "RU",
            "currency": self.currency,
            "active": True,
            "balance": _text(self.balance()),
        }

    # -- generation ------------------------------------------------------------------------------

    def file(self, day: dt.date) -> DayFile:
        with self._lock:
            version = (day, self.revisions.get(day, 0), self.malformed.get(day, 0))
            cached = self._files.get(version)
            if cached is None:
                cached = self._files[version] = self._generate(*version)
            return cached

    def _generate(self, day: dt.date, revision: int, malformed: int) -> DayFile:
        today = day == self.current_day()
        hours = min(24, TODAY_HOURS + 3 * revision) if today else 24
        start = dt.datetime(day.year, day.month, day.day, tzinfo=MSK)
        if today:
            modified = start + dt.timedelta(hours=hours)
        else:
            modified = start + dt.timedelta(days=1, hours=1, minutes=revision)
        rows = [] if day in self.empty else list(self._rows(day, hours, revision, modified, today))
        labels = sorted({k[len(LABEL) :] for row in rows for k in row if k.startswith(LABEL)})
        columns = [*HEAD_COLUMNS, *(LABEL + key for key in labels), *TAIL_COLUMNS]
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([row.get(column, "") for column in columns])
        bad_lines = self._write_malformed(writer, columns, rows, malformed, day)
        totals: dict[str, Decimal] = {}
        for row in rows:
            net = Decimal(row["cost"]) + Decimal(row["credit"])
            totals[row["currency"]] = totals.get(row["currency"], _ZERO) + net
        return DayFile(
            day,
            revision,
            text.getvalue().encode(),
            modified.astimezone(dt.UTC),
            rows,
            totals,
            bad_lines,
        )

    def _rows(self, day, hours, revision, modified, today) -> Iterator[dict[str, str]]:
        late_revisions = 0 if today else revision
        inventory = self.inventory
        with inventory.lock:
            items = list(inventory.iter_resources())
            clouds = {cid: c.get("name", "") for cid, c in inventory.clouds.items()}
            folders = {fid: f.wire.get("name", "") for fid, f in inventory.folders.items()}
        cluster_labels: dict[str, dict[str, str]] = {}
        base = {
            "billing_account_id": BILLING_ACCOUNT[0],
            "billing_account_name": BILLING_ACCOUNT[1],
            "date": day.isoformat(),
            "currency": self.currency,
            "locale": "en",
            "updated_at": str(int(modified.timestamp())),
            "exported_at": modified.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        for item in items:
            if item.type in ("database_cluster", "k8s_cluster"):
                cluster_labels[item.id] = item.data.get("labels", {})
            for sku, quantity, labels in self._charges(item, hours, cluster_labels):
                yield self._row(base, item, sku, quantity, labels, clouds, folders, day)
        for folder_id, folder in list(inventory.folders.items()):
            item = InventoryItem("folder", folder_id, folder_id, folder.wire["cloudId"], {})
            writes = Decimal(10 + _unit(f"{folder_id}:mon:{day}") * 90).quantize(Decimal(1))
            yield self._row(base, item, MONITORING, writes * hours, {}, clouds, folders, day, "")
            for n in range(late_revisions):  # late traffic, as in a rewritten past day
                gigabytes = Decimal(5 * (n + 1))
                yield self._row(base, item, EGRESS, gigabytes, {}, clouds, folders, day, "")

    def _charges(self, item: InventoryItem, hours: int, cluster_labels):
        data, h = item.data, Decimal(hours)
        if item.type == "vm":
            if data.get("status") != "RUNNING":
                return
            spec = data["resources"]
            cores, memory = int(spec["cores"]), int(spec["memory"]) // GIB
            fraction = int(spec.get("coreFraction", 100))
            preemptible = data.get("schedulingPolicy", {}).get("preemptible", False)
            labels = data.get("labels", {})
            yield (CPU_PREEMPTIBLE if preemptible else CPU)[fraction], cores * h, labels
            yield RAM_PREEMPTIBLE if preemptible else RAM, memory * h, labels
        elif item.type == "disk":
            yield DISK[data["typeId"]], int(data["size"]) // GIB * h, {}
        elif item.type in ("snapshot", "image"):
            yield SNAPSHOT, Decimal(int(data["storageSize"])) / GIB * h, {}
        elif item.type == "ip_address":
            yield IP_USED if data.get("used") else IP_IDLE, h, {}
        elif item.type == "bucket":
            size = 1 + int(_unit(f"{item.id}:size") * 500)
            yield BUCKET[data.get("defaultStorageClass", "STANDARD")], size * h, {}
        elif item.type == "database_host":
            yield from self._host_charges(item, h, cluster_labels.get(item.cluster_id, {}))
        elif item.type == "k8s_cluster":
            yield K8S_MASTER, h, data.get("labels", {})

    @staticmethod
    def _host_charges(item: InventoryItem, h: Decimal, labels):
        resources = item.data["resources"]
        cores, memory = _PRESETS[resources["resourcePresetId"]]
        disk_gib = int(resources["diskSize"]) // GIB
        service = item.engine or "postgresql"
        name = SERVICES[service][1].removeprefix("Managed Service for ")
        yield (
            _sku(
                f"dn2{service[:4]}cpu",
                f"{name}. Intel Ice Lake. 100% vCPU",
                service,
                "core*hour",
                MDB_CPU,
            ),
            cores * h,
            labels,
        )
        yield (
            _sku(
                f"dn2{service[:4]}ram",
                f"{name}. Intel Ice Lake. RAM",
                service,
                "gbyte*hour",
                MDB_RAM,
            ),
            memory * h,
            labels,
        )
        disk_type = resources["diskTypeId"]
        yield (
            _sku(
                f"dn2{service[:4]}{disk_type[:9]}",
                f"{name}. Storage ({disk_type})",
                service,
                "gbyte*hour",
                MDB_DISK[disk_type],
            ),
            disk_gib * h,
            labels,
        )

    def _row(self, base, item, sku, quantity, labels, clouds, folders, day, resource=None):
        cost = sku.price * quantity
        grant = volume = cud = misc = _ZERO
        draw = _unit(f"{self.seed}:{item.id}:{sku.id}:{day}")
        if draw < 0.2:
            grant = -(cost * Decimal("0.1"))  # a trial grant pays a tenth
        if sku.unit == "core*hour" and draw > 0.9:
            cud = -(cost * Decimal("0.2"))  # committed volume (CVoS) discount
        if 0.5 < draw < 0.55 and cost >= 1:
            misc = Decimal("-0.01")
        row = {
            **base,
            "cloud_id": item.cloud_id,
            "cloud_name": clouds.get(item.cloud_id, ""),
            "folder_id": item.folder_id,
            "folder_name": folders.get(item.folder_id, ""),
            "resource_id": item.id if resource is None else resource,
            "service_id": sku.service_id,
            "service_name": sku.service_name,
            "sku_id": sku.id,
            "sku_name": sku.name,
            "pricing_quantity": _text(quantity),
            "pricing_unit": sku.unit,
            "cost": _text(cost),
            "credit": _text(grant + volume + cud + misc),
            "monetary_grant_credit": _text(grant),
            "volume_incentive_credit": _text(volume),
            "cud_credit": _text(cud),
            "misc_credit": _text(misc),
        }
        for key, value in labels.items():
            row[LABEL + key] = value
        return row

    @staticmethod
    def _write_malformed(writer, columns, rows, count, day) -> list[dict[str, Any]]:
        """Append ``count`` bad rows, cycling through four kinds of damage."""
        if not count:
            return []
        template = rows[0] if rows else dict.fromkeys(columns, "")
        bad = []
        for n in range(count):
            row = dict(template)
            line = 2 + len(rows) + n
            kind = n % 4
            if kind == 0:
                row["cost"] = "12,50"  # a decimal comma
                bad.append({"line": line, "column": "cost", "kind": "invalid_decimal"})
            elif kind == 2:
                row["date"] = day.strftime("%d.%m.%Y")
                bad.append({"line": line, "column": "date", "kind": "invalid_datetime"})
            elif kind == 3:
                row["currency"] = "RUBX"
                bad.append({"line": line, "column": "currency", "kind": "unknown_currency"})
            cells = [row.get(column, "") for column in columns]
            if kind == 1:
                cells = cells[:10]  # a row cut short
                bad.append({"line": line, "column": columns[10], "kind": "truncated_row"})
            writer.writerow(cells)
        return bad


def _text(value: Decimal) -> str:
    text = format(value.normalize(), "f") if value else "0"
    return text


def _unit(text: str) -> float:
    """A deterministic number in [0, 1) for ``text`` (stable across runs and processes)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:6], "big") / 2**48


def object_storage_for(inventory: Inventory, seed: int) -> tuple[BillingExport, ObjectStorage]:
    """The simulator's Object Storage with the billing export bucket in it."""
    billing = BillingExport(inventory, seed=seed)
    storage = ObjectStorage()
    storage.add_bucket(BILLING_BUCKET, billing)
    return billing, storage


def control(sim, method: str, path: str, body: dict) -> Any:
    """``/_sim/billing/...`` and ``/_sim/storage/...`` controls of a running simulator."""
    billing: BillingExport = sim.billing
    if (method, path) == ("GET", "/_sim/billing/totals"):
        return {k: str(v) for k, v in billing.expected_totals().items()}
    if (method, path) == ("POST", "/_sim/billing/rewrite"):
        day = _day(body.get("day")) if body.get("day") else None
        rewritten = billing.rewrite(day)
        return {"key": billing.key_for(rewritten.day), "revision": rewritten.revision}
    if (method, path) == ("POST", "/_sim/billing/empty"):
        day_file = billing.set_empty(_day(body.get("day")))
        return {"key": billing.key_for(day_file.day), "revision": day_file.revision}
    if (method, path) == ("POST", "/_sim/billing/malformed"):
        day_file = billing.set_malformed(_day(body.get("day")), int(body.get("rows", 1)))
        return {"key": billing.key_for(day_file.day), "bad_lines": day_file.bad_lines}
    if (method, path) == ("POST", "/_sim/billing/top-up"):
        try:
            billing.top_up(Decimal(str(body.get("amount"))))
        except (ArithmeticError, ValueError):
            raise ApiError(3, "amount: give a decimal") from None
        return {"balance": _text(billing.balance())}
    if (method, path) == ("POST", "/_sim/storage/access-keys"):
        key_id, secret = sim.storage.issue_key()
        return {"access_key_id": key_id, "secret_access_key": secret}
    raise ApiError(5, f"{method} {path} is not a simulator control")


def _day(value: Any) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ApiError(3, "day: give YYYY-MM-DD") from None
