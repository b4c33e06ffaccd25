"""A VK Cloud simulator: Keystone (one project per user, 1-hour tokens by default), the
OpenStack APIs per region (the shared ``OpenStackCloud``: Nova, Cinder, Neutron, Octavia, Glance,
Trove, Magnum), the billing API's project balance, and the console's cost detail export (csv or
xlsx) computed from the inventory: the balance is what was paid in minus what the export charges.

From Python::

    with VKCloudSimulator(resources=40) as sim:
        adapter = VKCloudAdapter(sim.credentials, endpoints=sim.endpoints)
        sim.deny_service("kubernetes"); sim.remove_service("database", "kz")
        sim.detail_export(start, end, "xlsx")   # the bytes a person downloads from the console

From the shell (the demo and ``manage.py bench sync --provider vk_cloud``)::

    python -m providers.adapters.vk_cloud.simulator --port 0 --resources 500
"""

# ruff: noqa: RUF001 -- the console export is in Russian: its Cyrillic headers are meant
from __future__ import annotations

import argparse
import csv
import io
import math
import sys
import time
import zoneinfo
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from providers.adapters.openstack.simulator import EPOCH, OpenStackCloud, OpenStackError
from providers.adapters.simulation import Fault, SimRequest, SimResponse, SimulatorServer

MSK = zoneinfo.ZoneInfo("Europe/Moscow")
USERNAME = "finops@example.ru"
PASSWORD = "vk-simulator-password"  # noqa: S105 -- a well-known fake for a test double
DOMAIN = "users"
PROJECT_PID = "mcs1234567890"
PAID_IN_KOPECKS = 300_000_000
BONUS_KOPECKS = 30_000
BILLING_PATH = "/billing/public/v1"
# Kopecks per hour per unit, by (kind, metric): what the export charges.
PRICES = {
    "vcpu": 90,
    "ram_gib": 45,
    "disk_gib": 2,
    "snapshot_gib": 1,
    "image_gib": 1,
    "ip": 30,
    "lb": 120,
    "db_vcpu": 110,
    "k8s_master": 180,
}
SERVICE = {
    "servers": "Cloud Servers",
    "volumes": "Cloud Servers",
    "snapshots": "Cloud Servers",
    "images": "Cloud Servers",
    "floatingips": "Cloud Network",
    "loadbalancers": "Cloud Network",
    "databases": "Cloud Databases",
    "clusters": "Cloud Containers",
}
HEADER = (
    "Дата",
    "Проект",
    "Услуга",
    "Ресурс",
    "ID ресурса",
    "Регион",
    "Количество",
    "Ед. изм.",
    "Сумма, ₽",
)


def _hours(created: datetime, start: datetime, end: datetime) -> int:
    if created >= end:
        return 0
    if created <= start:
        return int((end - start).total_seconds() // 3600)
    return math.ceil((end - created).total_seconds() / 3600)


class VKCloudSimulator(SimulatorServer):
    server_version = "VKCloudSimulator/1.0"

    def __init__(
        self,
        *,
        seed: int = 1,
        resources: int = 40,
        regions: tuple[str, ...] = ("RegionOne", "kz"),
        token_ttl_s: float = 3600.0,
        now: datetime | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_s: float = 0.0,
    ) -> None:
        super().__init__(host=host, port=port, latency_s=latency_s)
        self.cloud = OpenStackCloud(
            seed=seed,
            projects=1,
            regions=regions,
            resources_per_project=resources,
            users={(USERNAME, DOMAIN): PASSWORD},
            domain=DOMAIN,
            token_ttl_s=token_ttl_s,
            now=now,
        )
        self.billing_status: int | None = None

    def start(self):
        super().start()
        self.cloud.base_url = self.url
        return self

    @property
    def project_id(self) -> str:
        return next(iter(self.cloud.projects))

    @staticmethod
    def project_id_for(seed: int) -> str:
        """The project id a simulator started with ``seed`` has (for connections made before
        it runs: the demo, the bench)."""
        return OpenStackCloud.first_project_id(seed)

    @property
    def credentials(self) -> dict[str, str]:
        return {
            "username": USERNAME,
            "password": PASSWORD,
            "project_id": self.project_id,
            "project_pid": PROJECT_PID,
            "user_domain": DOMAIN,
            "auth_url": f"{self.url}/identity/v3",
        }

    @property
    def endpoints(self) -> dict[str, str]:
        return {"*": self.url}

    def expected_count(self) -> int:
        return 1 + self.cloud.count()

    def deny_service(self, service: str, region: str = "") -> None:
        self.cloud.deny(service, region)

    def remove_service(self, service: str, region: str = "", *, status: int = 404) -> None:
        self.cloud.make_absent(service, region, status)

    def grant_service(self, service: str, region: str = "") -> None:
        self.cloud.grant(service, region)

    def mutate(self, **changes: int) -> dict:
        return self.cloud.mutate(**changes)

    # -- charges, the export, the balance ------------------------------------------------------

    def _metrics(self, kind: str, item: dict):
        cloud = self.cloud
        if kind == "servers":
            flavor = cloud.flavors[item["flavor"]["id"]]
            yield "vcpu", flavor["vcpus"], "vCPU*ч"
            yield "ram_gib", flavor["ram"] // 1024, "ГБ*ч"
        elif kind == "volumes":
            yield "disk_gib", item["size"], "ГБ*ч"
        elif kind == "snapshots":
            yield "snapshot_gib", item["size"], "ГБ*ч"
        elif kind == "images":
            yield "image_gib", item["size"] // 1024**3, "ГБ*ч"
        elif kind == "floatingips":
            yield "ip", 1, "шт*ч"
        elif kind == "loadbalancers":
            yield "lb", 1, "шт*ч"
        elif kind == "databases":
            yield "db_vcpu", cloud.flavors[item["flavor"]["id"]]["vcpus"], "vCPU*ч"
        elif kind == "clusters":
            yield "k8s_master", 1, "шт*ч"

    def charges(self, start: datetime, end: datetime) -> list[dict]:
        """One row per Moscow day, resource and metric of [start, end): kopecks."""
        rows = []
        day = start.astimezone(MSK).replace(hour=0, minute=0, second=0, microsecond=0)
        while day < end:
            following = day + timedelta(days=1)
            low, high = max(day, start), min(following, end)
            for _, region, kind, item in self.cloud.resources():
                if kind == "nodegroups":
                    continue
                created = datetime.fromisoformat(
                    str(item.get("created") or item.get("created_at")).replace("Z", "+00:00")
                )
                created = created if created.tzinfo else created.replace(tzinfo=UTC)
                hours = _hours(created, low, high)
                if not hours:
                    continue
                for metric, quantity, unit in self._metrics(kind, item):
                    rows.append(
                        {
                            "day": day.date(),
                            "service": SERVICE[kind],
                            "resource": item.get("name") or item.get("floating_ip_address"),
                            "resource_id": item.get("id") or item.get("uuid"),
                            "region": region,
                            "metric": metric,
                            "quantity": quantity * hours,
                            "unit": unit,
                            "kopecks": quantity * hours * PRICES[metric],
                        }
                    )
            day = following
        return rows

    def total(self, start: datetime, end: datetime) -> Decimal:
        return Decimal(sum(row["kopecks"] for row in self.charges(start, end))) / 100

    def _now(self) -> datetime:
        return self.cloud.now.replace(minute=0, second=0, microsecond=0)

    def base_balance(self) -> Decimal:
        return Decimal(PAID_IN_KOPECKS) / 100 - self.total(EPOCH, self._now())

    def detail_export(self, start: datetime, end: datetime, fmt: str = "csv") -> bytes:
        """The console's Balance -> Detail export of [start, end) (Russian headers, a title
        line above them and a total line below, amounts with a decimal comma in csv)."""
        rows = self.charges(start, end)
        total = Decimal(sum(r["kopecks"] for r in rows)) / 100
        body = [
            (
                r["day"].strftime("%d.%m.%Y"),
                PROJECT_PID,
                r["service"],
                r["resource"],
                r["resource_id"],
                r["region"],
                r["quantity"],
                r["unit"],
                Decimal(r["kopecks"]) / 100,
            )
            for r in rows
        ]
        title = f"Детализация расходов проекта {PROJECT_PID}"
        if fmt == "xlsx":
            from openpyxl import Workbook

            book = Workbook()
            sheet = book.active
            sheet.append([title])
            sheet.append(list(HEADER))
            for line in body:
                day = datetime.strptime(line[0], "%d.%m.%Y")
                sheet.append([day, *line[1:8], float(line[8])])
            sheet.append(["Итого", None, None, None, None, None, None, None, float(total)])
            out = io.BytesIO()
            book.save(out)
            return out.getvalue()
        out = io.StringIO()
        writer = csv.writer(out, delimiter=";")
        writer.writerow([title])
        writer.writerow(HEADER)
        for line in body:
            writer.writerow([*line[:8], f"{line[8]:.2f}".replace(".", ",")])
        writer.writerow(["Итого", "", "", "", "", "", "", "", f"{total:.2f}".replace(".", ",")])
        return out.getvalue().encode("utf-8-sig")

    # -- routing ---------------------------------------------------------------------------------

    def route(self, request: SimRequest) -> Any:
        answer = self.cloud.handle(request)
        if answer is not None:
            return answer
        prefix = f"{BILLING_PATH}/projects/"
        if request.path.startswith(prefix) and request.path.endswith("/balances/amount"):
            self.cloud.authorize(request.header("X-Auth-Token"))
            if self.billing_status:
                return SimResponse({"error": "Forbidden"}, status=self.billing_status)
            pid = request.path[len(prefix) : -len("/balances/amount")]
            if pid != PROJECT_PID:
                return SimResponse({"error": "Project not found"}, status=404)
            return {"base": float(self.base_balance()), "bonus": BONUS_KOPECKS / 100}
        raise OpenStackError(404, f"{request.method} {request.path} is not an API method")

    def not_found_error(self, message: str) -> OpenStackError:
        return OpenStackError(404, message)

    def bad_request_error(self, message: str) -> OpenStackError:
        return OpenStackError(400, message)

    def rate_limited_error(self, fault: Fault) -> OpenStackError:
        return OpenStackError(
            429, "Rate limit exceeded", headers={"Retry-After": f"{fault.retry_after:g}"}
        )

    def unavailable_error(self, fault: Fault) -> OpenStackError:
        return OpenStackError(fault.status, "Service is temporarily unavailable")

    def expire_token(self, request: SimRequest) -> None:
        self.cloud.expire_tokens(request.header("X-Auth-Token"))

    def control(self, method: str, path: str, body: Any) -> Any:
        if (method, path) == ("GET", "/_sim/health"):
            return {"ok": True, "resources": self.expected_count()}
        if (method, path) == ("POST", "/_sim/mutate"):
            return self.mutate(
                **{k: int(body.get(k, 0)) for k in ("appear", "change", "disappear")}
            )
        if (method, path) == ("POST", "/_sim/expire-tokens"):
            self.cloud.expire_tokens()
            return {}
        return super().control(method, path, body)

    def stats_extra(self) -> dict[str, Any]:
        return {"tokens_issued": self.cloud.issued}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m providers.adapters.vk_cloud.simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--resources", type=int, default=40)
    parser.add_argument("--regions", default="RegionOne,kz")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--rate-limit-every", type=int, default=0)
    parser.add_argument("--error-every", type=int, default=0)
    parser.add_argument("--deny", action="append", default=[], metavar="SERVICE")
    args = parser.parse_args(argv)
    sim = VKCloudSimulator(
        seed=args.seed,
        resources=args.resources,
        regions=tuple(r for r in args.regions.split(",") if r),
        host=args.host,
        port=args.port,
        latency_s=args.latency_ms / 1000,
    )
    if args.rate_limit_every:
        sim.inject(Fault("rate_limit", every=args.rate_limit_every, times=0))
    if args.error_every:
        sim.inject(Fault("unavailable", every=args.error_every, times=0))
    for service in args.deny:
        sim.deny_service(service)
    sim.start()
    print(
        f"VK Cloud simulator on {sim.url} ({sim.expected_count()} resources; "
        f"user {USERNAME}, project {sim.project_id})",
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
