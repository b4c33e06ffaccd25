"""A Yandex Cloud API simulator: a real HTTP server speaking the documented REST wire format.

Serves IAM token exchange, Resource Manager, Compute, VPC, Object Storage (management API),
Managed PostgreSQL/MySQL/ClickHouse, Managed Kubernetes, Monitoring and the Billing API's billing
account (its balance is the top-ups minus what the billing export charged) on one port, with paging,
the ``{code, message, details}`` error envelope and fault knobs. Tests and the demo point every
endpoint of the adapter at it (``sim.endpoints``).

From Python::

    with YandexCloudSimulator(SimulatorConfig(folders=3, resources_per_folder=100)) as sim:
        adapter = YandexCloudAdapter({"oauth_token": sim.oauth_token}, endpoints=sim.endpoints)
        sim.inject(Fault("rate_limit", retry_after=2))
        sim.deny_service("kubernetes")          # 403 PERMISSION_DENIED: no k8s.viewer role
        sim.remove_service("managed-mysql", status=501)  # UNIMPLEMENTED in this installation
        sim.mutate(appear=5, change=3, disappear=2)
        sim.inventory.iter_resources()  # what a billing simulator would charge for

From the shell::

    python -m providers.adapters.yandex.simulator --port 8700 --folders 4 --resources-per-folder 500
    python -m providers.adapters.yandex.simulator --check --resources 20000   # throughput

A running process is steered through ``/_sim/...`` control endpoints (faults, permissions, mutate,
expire tokens, issue service-account keys, stats); they need no auth and are not part of Yandex's
API.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import SplitResult

from providers.adapters.simulation import Fault, SimRequest, SimulatorServer
from providers.adapters.yandex import simulator_billing, simulator_monitoring
from providers.adapters.yandex.endpoints import YandexEndpoints
from providers.adapters.yandex.simulator_iam import DEFAULT_OAUTH_TOKEN, IamAuthority
from providers.adapters.yandex.simulator_inventory import (
    DB_ENGINES,
    Inventory,
    InventoryConfig,
    MutationReport,
)
from providers.adapters.yandex.simulator_storage import S3_PATH
from providers.adapters.yandex.simulator_wire import ApiError, page

__all__ = ["Fault", "SimulatorConfig", "YandexCloudSimulator", "throughput_check"]

_ENGINES = "|".join(DB_ENGINES)
_GRPC_FOR_HTTP = {500: 13, 502: 14, 503: 14, 504: 4}
# Permission knobs name services as the adapter's listing units do (see yandex/services.py).
SERVICE_PATHS = {
    "resource_manager": "/resource-manager/",
    "compute": "/compute/",
    "vpc": "/vpc/",
    "storage": "/storage/v1/",
    **{f"managed-{engine}": f"/managed-{engine}/" for engine in DB_ENGINES},
    "kubernetes": "/managed-kubernetes/",
    "monitoring": "/monitoring/",
    "billing": "/billing/",
}


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    seed: int = 1
    clouds: int = 1
    folders: int = 2
    resources_per_folder: int = 40
    organization_id: str = "bpfsimorg0000000000"
    oauth_tokens: tuple[str, ...] = (DEFAULT_OAUTH_TOKEN,)
    token_ttl_s: float = 12 * 3600
    requests_per_token: int = 0  # >0: every IAM token dies after that many API calls
    int64_as_number: bool = False
    unknown_enum_every: int = 0
    latency_s: float = 0.0  # added to every answer
    host: str = "127.0.0.1"
    port: int = 0  # 0: a free port

    def inventory_config(self) -> InventoryConfig:
        return InventoryConfig(
            seed=self.seed,
            clouds=self.clouds,
            folders=self.folders,
            resources_per_folder=self.resources_per_folder,
            organization_id=self.organization_id,
            int64_as_number=self.int64_as_number,
            unknown_enum_every=self.unknown_enum_every,
        )


Route = tuple[str, re.Pattern[str], Callable[..., Any], bool]


class YandexCloudSimulator(SimulatorServer):
    server_version = "YandexCloudSimulator/1.0"

    def __init__(self, config: SimulatorConfig | None = None, **overrides: Any) -> None:
        config = config or SimulatorConfig()
        if overrides:
            config = SimulatorConfig(**{**asdict(config), **overrides})
        super().__init__(host=config.host, port=config.port, latency_s=config.latency_s)
        self.config = config
        self.inventory = Inventory(config.inventory_config())
        self.iam = IamAuthority(
            oauth_tokens=config.oauth_tokens,
            token_ttl_s=config.token_ttl_s,
            requests_per_token=config.requests_per_token,
        )
        self.denied_folders: set[str] = set()
        # service -> HTTP status it answers: 403 (no viewer role), 404 or 501 (not installed).
        self.service_answers: dict[str, int] = {}
        # Object Storage (S3 API under /s3) holding the billing export of this inventory.
        self.billing, self.storage = simulator_billing.object_storage_for(
            self.inventory, config.seed
        )
        self.routes: list[Route] = self._routes()

    # -- addresses -------------------------------------------------------------------------------

    @property
    def endpoints(self) -> YandexEndpoints:
        return YandexEndpoints.single(self.url)

    @property
    def s3_url(self) -> str:
        return f"{self.url}{S3_PATH}"

    @property
    def tokens_url(self) -> str:
        return f"{self.url}/iam/v1/tokens"

    # -- knobs -----------------------------------------------------------------------------------

    @property
    def oauth_token(self) -> str:
        return self.config.oauth_tokens[0]

    def issue_service_account_key(self, service_account_id: str | None = None) -> dict[str, Any]:
        return self.iam.issue_service_account_key(service_account_id)

    def deny_service(self, service: str) -> None:
        """Every call to ``service`` answers 403 PERMISSION_DENIED, as to a service account that
        lacks the service's viewer role."""
        self._set_answer(service, 403)

    def remove_service(self, service: str, *, status: int = 404) -> None:
        """Every call to ``service`` answers 404 NOT_FOUND (or 501 UNIMPLEMENTED), as in a region
        or private installation without it."""
        if status not in (404, 501):
            raise ValueError("a missing service answers 404 or 501")
        self._set_answer(service, status)

    def grant_service(self, service: str) -> None:
        """Undo ``deny_service``/``remove_service``: the service answers normally again."""
        self.service_answers.pop(service, None)

    def _set_answer(self, service: str, status: int) -> None:
        if service not in SERVICE_PATHS:
            raise ValueError(f"unknown service {service!r}; one of {', '.join(SERVICE_PATHS)}")
        self.service_answers[service] = status

    def _service_refusal(self, path: str) -> ApiError | None:
        for service, status in self.service_answers.items():
            if path.startswith(SERVICE_PATHS[service]):
                if status == 403:
                    return ApiError(7, "Permission denied")
                if status == 501:
                    return ApiError(12, f"Method {path} is not implemented")
                return ApiError(5, f"Service for {path} not found")
        return None

    def expire_tokens(self) -> None:
        """Every IAM token issued so far stops working (as after a key rotation)."""
        self.iam.expire()

    def mutate(self, *, appear: int = 0, change: int = 0, disappear: int = 0) -> MutationReport:
        return self.inventory.mutate(appear=appear, change=change, disappear=disappear)

    def expected_count(self) -> int:
        """How many records a complete discovery of every cloud yields."""
        return len(self.inventory.clouds) + len(self.inventory.folders) + self.inventory.count()

    # -- routing ---------------------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        def r(method: str, pattern: str, handler: Callable[..., Any], auth: bool = True) -> Route:
            return method, re.compile(f"^{pattern}$"), handler, auth

        return [
            r("POST", "/iam/v1/tokens", self._iam_tokens, auth=False),
            r("GET", "/resource-manager/v1/clouds", self._clouds),
            r("GET", "/resource-manager/v1/clouds/([^/]+)", self._cloud),
            r("GET", "/resource-manager/v1/folders", self._folders),
            r("GET", "/resource-manager/v1/folders/([^/]+)", self._folder),
            r("GET", "/compute/v1/(instances|disks|snapshots|images)", self._collection),
            r("GET", "/compute/v1/instances/([^/]+)/operations", self._instance_operations),
            r("GET", "/compute/v1/(instances|disks)/([^/]+)", self._compute_object),
            r("GET", "/vpc/v1/(networks|subnets|addresses)", self._collection),
            r("GET", "/storage/v1/(buckets)", self._collection),
            r("GET", f"/managed-({_ENGINES})/v1/clusters", self._db_clusters),
            r("GET", f"/managed-({_ENGINES})/v1/clusters/([^/]+)/hosts", self._db_hosts),
            r("GET", f"/managed-({_ENGINES})/v1/resourcePresets", self._db_presets),
            r("GET", "/managed-kubernetes/v1/clusters", self._k8s_clusters),
            r("GET", "/managed-kubernetes/v1/nodeGroups", self._node_groups),
            r("GET", "/managed-kubernetes/v1/clusters/([^/]+)/nodeGroups", self._cluster_groups),
            r("POST", "/monitoring/v2/data/read", self._monitoring),
            r("GET", "/billing/v1/billingAccounts", self._billing_accounts),
            r("GET", "/billing/v1/billingAccounts/([^/]+)", self._billing_account),
        ]

    def dispatch(self, method: str, path: str, query: dict[str, str], body: Any, auth: str | None):
        for route_method, pattern, handler, needs_auth in self.routes:
            match = pattern.match(path)
            if match and route_method == method:
                if needs_auth:
                    self.iam.authorize(auth)
                    refusal = self._service_refusal(path)
                    if refusal is not None:
                        raise refusal
                return handler(query, body, *match.groups())
        raise ApiError(5, f"{method} {path} is not an API method")

    def _iam_tokens(self, query, body):
        return self.iam.exchange(body, self.tokens_url)

    def _clouds(self, query, body):
        clouds = list(self.inventory.clouds.values())
        org = query.get("organizationId")
        if org:
            clouds = [c for c in clouds if c.get("organizationId") == org]
        return page(clouds, query, "clouds")

    def _cloud(self, query, body, cloud_id):
        cloud = self.inventory.clouds.get(cloud_id)
        if cloud is None:
            raise ApiError(5, f"Cloud {cloud_id} not found")
        return cloud

    def _folders(self, query, body):
        cloud_id = query.get("cloudId")
        if not cloud_id:
            raise ApiError(3, "cloudId: required")
        if cloud_id not in self.inventory.clouds:
            raise ApiError(5, f"Cloud {cloud_id} not found")
        folders = [f.wire for f in self.inventory.folders.values() if f.wire["cloudId"] == cloud_id]
        return page(folders, query, "folders")

    def _folder(self, query, body, folder_id):
        folder = self.inventory.folders.get(folder_id)
        if folder is None:
            raise ApiError(5, f"Folder {folder_id} not found")
        return folder.wire

    def _folder_id(self, query) -> str:
        folder_id = query.get("folderId")
        if not folder_id:
            raise ApiError(3, "folderId: required")
        if folder_id not in self.inventory.folders:
            raise ApiError(5, f"Folder {folder_id} not found")
        if folder_id in self.denied_folders:
            raise ApiError(7, f"Permission denied to folder {folder_id}")
        return folder_id

    def _collection(self, query, body, collection):
        items = self.inventory.items(self._folder_id(query), collection)
        return page(items, query, collection)

    def _instance_operations(self, query, body, instance_id):
        operations = self.inventory.instance_operations(instance_id)
        if operations is None:
            raise ApiError(5, f"Instance {instance_id} not found")
        if self.inventory.vm_folder.get(instance_id) in self.denied_folders:
            raise ApiError(7, f"Permission denied to instance {instance_id}")
        return page(operations, query, "operations")

    def _compute_object(self, query, body, collection, object_id):
        """``GET /compute/v1/instances/{id}`` and ``/disks/{id}``: one object, as listed."""
        for folder_id, folder in self.inventory.folders.items():
            item = folder.items[collection].get(object_id)
            if item is not None:
                if folder_id in self.denied_folders:
                    raise ApiError(7, f"Permission denied to {object_id}")
                return item
        noun = "Instance" if collection == "instances" else "Disk"
        raise ApiError(5, f"{noun} {object_id} not found")

    def _db_clusters(self, query, body, engine):
        items = self.inventory.items(self._folder_id(query), f"{engine}_clusters")
        return page(items, query, "clusters")

    def _db_hosts(self, query, body, engine, cluster_id):
        owner = self.inventory.folder_of_cluster(cluster_id)
        if owner is None or owner[0] != engine:
            raise ApiError(5, f"Cluster {cluster_id} not found")
        if owner[1] in self.denied_folders:
            raise ApiError(7, f"Permission denied to cluster {cluster_id}")
        hosts = list(self.inventory.hosts.get(cluster_id, {}).values())
        return page(hosts, query, "hosts")

    def _db_presets(self, query, body, engine):
        return page(self.inventory.presets(), query, "resourcePresets")

    def _k8s_clusters(self, query, body):
        return page(self.inventory.items(self._folder_id(query), "k8s_clusters"), query, "clusters")

    def _node_groups(self, query, body):
        items = self.inventory.items(self._folder_id(query), "node_groups")
        return page(items, query, "nodeGroups")

    def _cluster_groups(self, query, body, cluster_id):
        for folder_id, folder in self.inventory.folders.items():
            if cluster_id in folder.items["k8s_clusters"]:
                groups = [
                    g
                    for g in self.inventory.items(folder_id, "node_groups")
                    if g["clusterId"] == cluster_id
                ]
                return page(groups, query, "nodeGroups")
        raise ApiError(5, f"Cluster {cluster_id} not found")

    def _billing_accounts(self, query, body):
        return page([self.billing.account()], query, "billingAccounts")

    def _billing_account(self, query, body, account_id):
        account = self.billing.account()
        if account_id != account["id"]:
            raise ApiError(5, f"Billing account {account_id} not found")
        return account

    def _monitoring(self, query, body):
        folder_id = self._folder_id(query)
        return simulator_monitoring.read(self.inventory, folder_id, body, self.config.seed)

    # -- control (/_sim/...) ---------------------------------------------------------------------

    def control(self, method: str, path: str, body: Any) -> Any:
        body = body if isinstance(body, dict) else {}
        if path.startswith(("/_sim/billing/", "/_sim/storage/")):
            return simulator_billing.control(self, method, path, body)
        if (method, path) == ("GET", "/_sim/health"):
            return {"ok": True, "resources": self.expected_count()}
        if (method, path) == ("POST", "/_sim/mutate"):
            return asdict(
                self.mutate(**{k: int(body.get(k, 0)) for k in ("appear", "change", "disappear")})
            )
        if (method, path) == ("POST", "/_sim/permissions"):
            # {"deny": [service, ...], "absent": {service: 404|501}, "grant": [service, ...]}
            try:
                for service in body.get("grant") or ():
                    self.grant_service(service)
                for service in body.get("deny") or ():
                    self.deny_service(service)
                for service, status in (body.get("absent") or {}).items():
                    self.remove_service(service, status=int(status))
            except (TypeError, ValueError) as exc:
                raise ApiError(3, str(exc)) from None
            return {"services": dict(self.service_answers)}
        if (method, path) == ("POST", "/_sim/expire-tokens"):
            self.expire_tokens()
            return {}
        if (method, path) == ("POST", "/_sim/service-account-keys"):
            return self.issue_service_account_key(body.get("service_account_id"))
        return super().control(method, path, body)

    def stats_extra(self) -> dict[str, Any]:
        return {"token_exchanges": self.iam.exchanges, "rejected_jwts": self.iam.rejected_jwts}

    # -- the shared server's hooks: Yandex's wire format -----------------------------------------

    def route(self, request: SimRequest) -> Any:
        return self.dispatch(
            request.method,
            request.path,
            request.query,
            request.body,
            request.header("Authorization"),
        )

    def handle_raw(self, handler: BaseHTTPRequestHandler, method: str, parts: SplitResult) -> bool:
        if self.storage.owns(parts.path):  # S3 wire format (XML, SigV4), not the REST APIs
            self.storage.serve(handler, method)
            return True
        return False

    def not_found_error(self, message: str) -> ApiError:
        return ApiError(5, message)

    def bad_request_error(self, message: str) -> ApiError:
        return ApiError(3, message)

    def rate_limited_error(self, fault: Fault) -> ApiError:
        return ApiError(
            8, "Quota limit exceeded", headers={"Retry-After": f"{fault.retry_after:g}"}
        )

    def unavailable_error(self, fault: Fault) -> ApiError:
        code = _GRPC_FOR_HTTP.get(fault.status, 13)
        return ApiError(code, "Service is temporarily unavailable", status=fault.status)

    def expire_token(self, request: SimRequest) -> None:
        self.iam.expire(request.header("Authorization"))


# -- throughput ----------------------------------------------------------------------------------


def throughput_check(resources: int = 20_000, folders: int = 20, seed: int = 1) -> dict[str, Any]:
    """Discover ``resources`` over real HTTP and report the rate: the adapter's share of a first
    sync's budget (the sync service adds its database writes on top)."""
    from providers.adapters.yandex.adapter import YandexCloudAdapter

    config = SimulatorConfig(
        seed=seed, folders=folders, resources_per_folder=math.ceil(resources / folders)
    )
    with YandexCloudSimulator(config) as sim:
        adapter = YandexCloudAdapter({"oauth_token": sim.oauth_token}, endpoints=sim.endpoints)
        started = time.perf_counter()
        found = sum(1 for _ in adapter.discover())
        seconds = time.perf_counter() - started
        return {
            "resources": found,
            "expected": sim.expected_count(),
            "seconds": round(seconds, 3),
            "resources_per_s": round(found / seconds),
            "api_calls": adapter.api_calls,
        }


# -- command line --------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m providers.adapters.yandex.simulator", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--clouds", type=int, default=1)
    parser.add_argument("--folders", type=int, default=2)
    parser.add_argument("--resources-per-folder", type=int, default=40)
    parser.add_argument("--resources", type=int, help="total resources (overrides per folder)")
    parser.add_argument("--oauth-token", action="append", help="accepted OAuth token(s)")
    parser.add_argument("--token-ttl", type=float, default=12 * 3600, help="IAM token lifetime, s")
    parser.add_argument("--requests-per-token", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--rate-limit-every", type=int, default=0, help="429 every Nth request")
    parser.add_argument("--retry-after", type=float, default=1.0)
    parser.add_argument("--error-every", type=int, default=0, help="503 every Nth request")
    parser.add_argument("--slow-every", type=int, default=0)
    parser.add_argument("--slow-ms", type=float, default=500.0)
    parser.add_argument("--malformed-every", type=int, default=0)
    parser.add_argument("--unknown-enum-every", type=int, default=0)
    parser.add_argument("--int64-as-number", action="store_true")
    parser.add_argument(
        "--deny",
        action="append",
        default=[],
        metavar="SERVICE",
        help="answer it 403 (e.g. kubernetes)",
    )
    parser.add_argument(
        "--absent", action="append", default=[], metavar="SERVICE", help="answer it 404"
    )
    parser.add_argument("--write-key", metavar="PATH", help="issue a service-account key there")
    parser.add_argument("--check", action="store_true", help="run the throughput check and exit")
    args = parser.parse_args(argv)

    if args.check:
        print(json.dumps(throughput_check(args.resources or 20_000, args.folders, args.seed)))
        return 0
    per_folder = args.resources_per_folder
    if args.resources:
        per_folder = math.ceil(args.resources / max(1, args.folders))
    config = SimulatorConfig(
        seed=args.seed,
        clouds=args.clouds,
        folders=args.folders,
        resources_per_folder=per_folder,
        oauth_tokens=tuple(args.oauth_token or (DEFAULT_OAUTH_TOKEN,)),
        token_ttl_s=args.token_ttl,
        requests_per_token=args.requests_per_token,
        int64_as_number=args.int64_as_number,
        unknown_enum_every=args.unknown_enum_every,
        latency_s=args.latency_ms / 1000,
        host=args.host,
        port=args.port,
    )
    sim = YandexCloudSimulator(config)
    api = {"path": "/", "times": 0}
    for kind, every, extra in (
        ("rate_limit", args.rate_limit_every, {"retry_after": args.retry_after}),
        ("unavailable", args.error_every, {}),
        ("slow", args.slow_every, {"delay": args.slow_ms / 1000}),
        ("malformed", args.malformed_every, {}),
    ):
        if every:
            sim.inject(Fault(kind, every=every, **api, **extra))
    for service in args.deny:
        sim.deny_service(service)
    for service in args.absent:
        sim.remove_service(service)
    sim.start()
    if args.write_key:
        with open(args.write_key, "w", encoding="utf-8") as out:
            json.dump(sim.issue_service_account_key(), out, indent=2)
    print(
        f"Yandex Cloud simulator on {sim.url} "
        f"({sim.expected_count()} resources; OAuth token {sim.oauth_token})",
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
