"""A Selectel simulator: Keystone (service users, domain and project scopes), the OpenStack APIs
of every project per region (the shared ``OpenStackCloud`` with Selectel's ``dbaas`` and ``mks``
catalog types), the Cloud Management API's projects, and billing: balances (kopecks), the
prediction, and billing statistics (consumption in kopecks, naive Moscow time) computed from the
inventory, so that costs and balances agree with the resources.

From Python::

    with SelectelSimulator(projects=2, resources_per_project=40) as sim:
        adapter = SelectelAdapter(sim.credentials, endpoints={"*": sim.url})
        sim.inject("rate_limit", retry_after=1)
        sim.deny_service("kubernetes")                 # 403 in every region
        sim.remove_service("load_balancer", "ru-9")    # 404 in one region
        sim.deny_billing()                             # 403 on billing

From the shell (the demo and ``manage.py bench sync --provider selectel``)::

    python -m providers.adapters.selectel.simulator --port 0 --projects 4 \
        --resources-per-project 500
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import zoneinfo
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from providers.adapters.openstack.simulator import (
    EPOCH,
    OpenStackCloud,
    OpenStackError,
    ServiceDef,
)
from providers.adapters.simulation import Fault, SimRequest, SimResponse, SimulatorServer

MSK = zoneinfo.ZoneInfo("Europe/Moscow")
ACCOUNT_ID = "123456"
USERNAME = "finops-bot"
PASSWORD = "simulator-password-0000"  # noqa: S105 -- a well-known fake for a test double
STATIC_TOKEN = "selectel-static-token-000000000000"  # noqa: S105
PAID_IN_KOPECKS = 500_000_000  # 5 000 000 RUB paid in since the epoch
BONUS_KOPECKS = 23_400

SERVICES = (
    ServiceDef("compute", "compute", "compute", "/v2.1"),
    ServiceDef("block_storage", "volumev3", "volume", "/v3/{project}"),
    ServiceDef("network", "network", "network", "/v2.0"),
    ServiceDef("load_balancer", "load-balancer", "load-balancer", ""),
    ServiceDef("image", "image", "image", ""),
    ServiceDef("database", "dbaas", "dbaas", "/v1"),
    ServiceDef("kubernetes", "mks", "mks", "/v1"),
)
# Kopecks per hour per unit: (provider_key, object type, metric id, metric name, unit, price)
VOLUME_PRICE = {"fast": 3, "basic": 1, "universal": 2}


def _hours(created: datetime, start: datetime, end: datetime) -> int:
    """Whole hours of [start, end) the resource existed (created within an hour counts it)."""
    if created >= end:
        return 0
    if created <= start:
        return int((end - start).total_seconds() // 3600)
    return math.ceil((end - created).total_seconds() / 3600)


class SelectelSimulator(SimulatorServer):
    server_version = "SelectelSimulator/1.0"

    def __init__(
        self,
        *,
        seed: int = 1,
        projects: int = 2,
        regions: tuple[str, ...] = ("ru-1", "ru-9"),
        resources_per_project: int = 40,
        token_ttl_s: float = 24 * 3600,
        now: datetime | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_s: float = 0.0,
    ) -> None:
        super().__init__(host=host, port=port, latency_s=latency_s)
        self.cloud = OpenStackCloud(
            seed=seed,
            projects=projects,
            regions=regions,
            resources_per_project=resources_per_project,
            users={(USERNAME, ACCOUNT_ID): PASSWORD},
            domain=ACCOUNT_ID,
            services=SERVICES,
            database_collection="datastores",
            token_ttl_s=token_ttl_s,
            now=now,
        )
        self.static_tokens = {STATIC_TOKEN}
        self.billing_status: int | None = None  # 403: the user lacks the billing role
        self.projects_status: int | None = None

    def start(self):
        super().start()
        self.cloud.base_url = self.url
        return self

    # -- what tests and the demo need ------------------------------------------------------------

    @property
    def credentials(self) -> dict[str, str]:
        return {"username": USERNAME, "password": PASSWORD, "account_id": ACCOUNT_ID}

    @property
    def endpoints(self) -> dict[str, str]:
        return {"*": self.url}

    def expected_count(self) -> int:
        return len(self.cloud.projects) + self.cloud.count()

    def deny_service(self, service: str, region: str = "") -> None:
        self.cloud.deny(service, region)

    def remove_service(self, service: str, region: str = "", *, status: int = 404) -> None:
        self.cloud.make_absent(service, region, status)

    def grant_service(self, service: str, region: str = "") -> None:
        self.cloud.grant(service, region)

    def deny_billing(self, status: int = 403) -> None:
        self.billing_status = status

    def mutate(self, **changes: int) -> dict:
        return self.cloud.mutate(**changes)

    # -- billing figures -------------------------------------------------------------------------

    def charges(self, start: datetime, end: datetime, step: timedelta = timedelta(days=1)):
        """Consumption rows of [start, end) (aware datetimes), one per period, object and
        metric, as the API answers them."""
        rows = []
        cloud = self.cloud
        moment = start
        while moment < end:
            following = min(moment + step, end)
            for project_id, region, kind, item in cloud.resources():
                for key, otype, metric, name, unit, quantity, price, parent in self._metrics(
                    region, kind, item
                ):
                    created = datetime.fromisoformat(
                        str(item.get("created") or item.get("created_at")).replace("Z", "+00:00")
                    )
                    created = created if created.tzinfo else created.replace(tzinfo=UTC)
                    hours = _hours(created, moment, following)
                    if not hours:
                        continue
                    project = cloud.projects[project_id]
                    rows.append(
                        {
                            "account_id": ACCOUNT_ID,
                            "provider_key": key,
                            "value": hours * quantity * price,
                            "period": moment.astimezone(MSK).strftime("%Y-%m-%dT%H:%M:%S"),
                            "provision_end": following.astimezone(MSK).strftime(
                                "%Y-%m-%dT%H:%M:%S"
                            ),
                            "project": {"id": project.id, "name": project.name},
                            "object": {
                                "id": item.get("id") or item.get("uuid"),
                                "name": item.get("name") or item.get("floating_ip_address"),
                                "type": otype,
                                "parent_id": parent,
                            },
                            "metric": {
                                "id": metric,
                                "name": name,
                                "quantity": quantity * hours,
                                "unit": unit,
                                "region": region,
                            },
                        }
                    )
            moment = following
        return rows

    def _metrics(self, region: str, kind: str, item: dict):
        cloud = self.cloud
        if kind == "servers":
            flavor = cloud.flavors[item["flavor"]["id"]]
            yield "vpc", "cloud_vm", "compute_cores", "vCPU", "item", flavor["vcpus"], 100, None
            ram = flavor["ram"] // 1024
            yield "vpc", "cloud_vm", "compute_ram", "RAM", "GB*H", ram, 50, None
        elif kind == "volumes":
            parent = item["attachments"][0]["server_id"] if item["attachments"] else None
            price = VOLUME_PRICE.get(item["volume_type"], 2)
            metric = f"volume_gigabytes_{item['volume_type']}"
            yield "vpc", "volume", metric, "Volume", "GB*H", item["size"], price, parent
        elif kind == "snapshots":
            yield "vpc", "snapshot", "snapshot_gigabytes", "Snapshot", "GB*H", item["size"], 1, None
        elif kind == "images":
            size = item["size"] // 1024**3
            yield "vpc", "image", "image_gigabytes", "Image", "GB*H", size, 1, None
        elif kind == "floatingips":
            yield "vpc", "floatingip", "share_net_floatingip", "Public IP", "item", 1, 40, None
        elif kind == "loadbalancers":
            yield "vpc", "load_balancer", "load_balancer", "Load balancer", "item", 1, 150, None
        elif kind == "databases":
            flavor = cloud.flavors[item["flavor"]["id"]]
            yield (
                "dbaas",
                "dbaas_datastore",
                "dbaas_cores",
                "DB vCPU",
                "item",
                flavor["vcpus"],
                120,
                None,
            )
            size = item["volume"]["size"]
            yield "dbaas", "dbaas_datastore", "dbaas_volume", "DB disk", "GB*H", size, 3, None
        elif kind == "clusters":
            yield "mks", "mks_cluster", "mks_master", "Kubernetes master", "item", 1, 200, None

    def total_kopecks(self, start: datetime, end: datetime) -> int:
        return sum(row["value"] for row in self.charges(start, end))

    def spent_kopecks(self) -> int:
        return self.total_kopecks(EPOCH, self._now())

    def main_balance(self) -> Decimal:
        return Decimal(PAID_IN_KOPECKS - self.spent_kopecks()) / 100

    def _now(self) -> datetime:
        return self.cloud.now.replace(minute=0, second=0, microsecond=0)

    # -- routing ---------------------------------------------------------------------------------

    def route(self, request: SimRequest) -> Any:
        answer = self.cloud.handle(request)
        if answer is not None:
            return answer
        path = request.path
        if path == "/vpc/resell/v2/projects":
            self._account_auth(request)
            if self.projects_status:
                raise OpenStackError(self.projects_status, "Access to projects is denied")
            return {
                "projects": [
                    {"id": p.id, "name": p.name, "url": f"https://{ACCOUNT_ID}.selvpc.ru",
                     "enabled": True, "custom_url": None}
                    for p in self.cloud.projects.values()
                ]
            }  # fmt: skip
        if path in (
            "/v3/balances",
            "/v2/billing/prediction",
            "/v1/cloud_billing/statistic/consumption",
        ):
            self._account_auth(request)
            if self.billing_status:
                return SimResponse(
                    {"status": "error", "code": "FORBIDDEN", "error": "no billing role"},
                    status=self.billing_status,
                )
            if path == "/v3/balances":
                return self._balances()
            if path == "/v2/billing/prediction":
                return self._prediction()
            return self._consumption(request)
        raise OpenStackError(404, f"{request.method} {path} is not an API method")

    def _account_auth(self, request: SimRequest) -> None:
        static = request.header("X-Token")
        if static is not None:
            if static not in self.static_tokens:
                raise OpenStackError(401, "invalid static token", title="error")
            return
        token = self.cloud.authorize(request.header("X-Auth-Token"))
        if "domain" not in token.scope:
            raise OpenStackError(403, "An account-scoped token is required")

    def _balances(self) -> dict:
        main = PAID_IN_KOPECKS - self.spent_kopecks()
        return {
            "status": "success",
            "data": {
                "settings": {
                    "mode": "prepay",
                    "currency": "rub",
                    "avaliable_billings": ["primary"],
                    "avaliable_balances": ["main", "bonus", "vk_rub"],
                },
                "billings": [
                    {
                        "billing_type": "primary",
                        "balances_values_sum": main + BONUS_KOPECKS,
                        "final_sum": main + BONUS_KOPECKS,
                        "debt_sum": 0,
                        "debt": [],
                        "balances": [
                            {"balance_id": 2509967, "balance_type": "main", "value": main},
                            # Amounts as strings too: clients must accept both.
                            {
                                "balance_id": 2509963,
                                "balance_type": "bonus",
                                "value": str(BONUS_KOPECKS),
                            },
                        ],
                    }
                ],
                "debt_status": "no_debt",
            },
        }

    def prediction_days(self) -> Decimal:
        now = self._now()
        daily = self.total_kopecks(now - timedelta(days=1), now) or 1
        return (Decimal(PAID_IN_KOPECKS - self.spent_kopecks()) / daily).quantize(Decimal("0.1"))

    def _prediction(self) -> dict:
        return {
            "status": "success",
            "data": {"primary": float(self.prediction_days()), "storage": None, "vpc": None},
        }

    def _consumption(self, request: SimRequest) -> dict:
        query = request.query
        try:
            start = datetime.fromisoformat(query["start"]).replace(tzinfo=MSK)
            end = datetime.fromisoformat(query["end"]).replace(tzinfo=MSK)
        except (KeyError, ValueError):
            return SimResponse(
                {"status": "error", "code": "UNPROCESSABLE_ENTITY",
                 "error": {"start": ["Missing data for required field."]}},
                status=422,
            )  # fmt: skip
        step = timedelta(hours=1) if query.get("period_group_type") == "hour" else timedelta(days=1)
        return {"status": "success", "data": self.charges(start, min(end, self._now()), step)}

    # -- the shared server's hooks ---------------------------------------------------------------

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
        if (method, path) == ("POST", "/_sim/permissions"):
            for service in body.get("deny") or ():
                self.deny_service(service)
            for service in body.get("grant") or ():
                self.grant_service(service)
            return {"answers": {f"{s}@{r}": v for (s, r), v in self.cloud.answers.items()}}
        if (method, path) == ("POST", "/_sim/expire-tokens"):
            self.cloud.expire_tokens()
            return {}
        return super().control(method, path, body)

    def stats_extra(self) -> dict[str, Any]:
        return {"tokens_issued": self.cloud.issued}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m providers.adapters.selectel.simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--projects", type=int, default=2)
    parser.add_argument("--regions", default="ru-1,ru-9")
    parser.add_argument("--resources-per-project", type=int, default=40)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--rate-limit-every", type=int, default=0)
    parser.add_argument("--error-every", type=int, default=0)
    parser.add_argument("--deny", action="append", default=[], metavar="SERVICE")
    args = parser.parse_args(argv)
    sim = SelectelSimulator(
        seed=args.seed,
        projects=args.projects,
        regions=tuple(r for r in args.regions.split(",") if r),
        resources_per_project=args.resources_per_project,
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
        f"Selectel simulator on {sim.url} ({sim.expected_count()} resources; "
        f"service user {USERNAME} of account {ACCOUNT_ID})",
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
