"""A reusable OpenStack part for provider simulators: Keystone v3 with a per-scope catalog, and
Nova, Cinder, Neutron, Octavia, Glance, managed databases and Kubernetes per region, with
OpenStack's paging (``limit``/``marker``, ``<key>_links`` rel=next; Glance's ``next``), its error
shapes and fault knobs (a service denied or absent in one region, dropped from the catalog,
tokens expired). A provider simulator (Selectel, VK Cloud) owns one ``OpenStackCloud`` and asks it
to answer the paths it serves (``handle``), adding its own account and billing APIs.

Paths on the simulator (the catalog hands them out, nothing is hard-coded in the adapter):
``/identity/v3/auth/tokens``, ``/<region>/compute/v2.1/...``, ``/<region>/volume/v3/<project>/...``,
``/<region>/network/v2.0/floatingips``, ``/<region>/load-balancer/v2/lbaas/loadbalancers``,
``/<region>/image/v2/images``, ``/<region>/database/...`` and ``/<region>/k8s/v1/clusters``.
"""

from __future__ import annotations

import random
import re
import secrets
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from providers.adapters.simulation import SimRequest, SimResponse, SimulatedError

IDENTITY_PATH = "/identity/v3"
FLAVORS = (
    # id, name, vcpus, ram MiB, disk GiB
    ("f-1-2", "SL1.1-2048", 1, 2048, 10),
    ("f-2-4", "SL1.2-4096", 2, 4096, 20),
    ("f-4-8", "SL1.4-8192", 4, 8192, 40),
    ("f-8-32", "SL1.8-32768", 8, 32768, 80),
)
VOLUME_TYPES = ("fast", "basic", "universal")
# Share of a project's resources per kind.
MIX = (
    ("servers", 40),
    ("volumes", 28),
    ("snapshots", 6),
    ("images", 3),
    ("floatingips", 12),
    ("loadbalancers", 3),
    ("databases", 5),
    ("clusters", 3),
)
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


class OpenStackError(SimulatedError):
    """OpenStack's error bodies: ``{"<title>": {"code", "message"}}`` (Nova, Cinder) — Keystone's
    ``{"error": {...}}`` has the same inner shape."""

    def __init__(self, status: int, message: str, *, title: str = "", headers=None):
        super().__init__(status, message, headers=headers)
        self.title = title or {
            400: "badRequest",
            401: "error",
            403: "forbidden",
            404: "itemNotFound",
            429: "overLimit",
        }.get(status, "computeFault")

    def body(self) -> Any:
        return {self.title: {"code": self.status, "message": self.message}}


@dataclass
class ServiceDef:
    """One OpenStack service as the simulator serves it: catalog type, path segment, URL
    suffix (``{project}`` filled in) and the collections it answers."""

    key: str  # the adapter's listing-unit key
    catalog_type: str
    segment: str
    suffix: str


DEFAULT_SERVICES = (
    ServiceDef("compute", "compute", "compute", "/v2.1"),
    ServiceDef("block_storage", "volumev3", "volume", "/v3/{project}"),
    ServiceDef("network", "network", "network", ""),
    ServiceDef("load_balancer", "load-balancer", "load-balancer", ""),
    ServiceDef("image", "image", "image", ""),
    ServiceDef("database", "database", "database", "/v1.0/{project}"),
    ServiceDef("kubernetes", "container-infra", "k8s", "/v1"),
)


@dataclass
class _Token:
    scope: dict  # {"project": id} or {"domain": name}
    expires_at: float
    expired: bool = False


@dataclass
class Project:
    id: str
    name: str
    # region -> kind -> id -> wire object
    regions: dict[str, dict[str, dict[str, dict]]] = field(default_factory=dict)


class OpenStackCloud:
    """Inventory, Keystone and the OpenStack APIs of one simulated account (thread-safe)."""

    def __init__(
        self,
        *,
        seed: int = 1,
        projects: int = 2,
        regions: tuple[str, ...] = ("ru-1", "ru-9"),
        resources_per_project: int = 40,
        users: Mapping[tuple[str, str], str] | None = None,
        domain: str = "",
        services: tuple[ServiceDef, ...] = DEFAULT_SERVICES,
        database_collection: str = "instances",
        token_ttl_s: float = 3600.0,
        now: datetime | None = None,
    ) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.domain = domain
        self.users = dict(users or {})
        self.services = {s.key: s for s in services}
        self.database_collection = database_collection
        self.token_ttl_s = token_ttl_s
        self.now = now or datetime.now(UTC).replace(microsecond=0)
        self.region_names = regions
        self.base_url = ""  # set by the owning server once it listens
        self.lock = threading.RLock()
        self.tokens: dict[str, _Token] = {}
        self.issued = 0
        # (service, region or "") -> status: 403 denied, 404/501 absent.
        self.answers: dict[tuple[str, str], int] = {}
        self.uncatalogued: set[tuple[str, str]] = set()  # (service, region) left out
        # Projects the user has no role in: a token scoped to one is refused (401).
        self.roleless_projects: set[str] = set()
        self.projects: dict[str, Project] = {}
        # server id -> its instance actions (kept after the server is deleted)
        self.actions: dict[str, list[dict]] = {}
        self.graveyard: dict[str, tuple[str, str, dict]] = {}  # deleted servers
        self.flavors = {
            fid: {"id": fid, "name": name, "vcpus": cpu, "ram": ram, "disk": disk}
            for fid, name, cpu, ram, disk in FLAVORS
        }
        self._counter = 0
        for index in range(projects):
            pid = uuid.UUID(int=self.rng.getrandbits(128)).hex
            project = Project(pid, f"project-{index + 1}")
            project.regions = {region: _empty() for region in regions}
            self.projects[pid] = project
            # One of each kind first (every listing has something to lose), then a random mix.
            kinds = [kind for kind, _ in MIX][:resources_per_project]
            for kind in kinds:
                self._add(project, kind)
            for _ in range(resources_per_project - len(kinds)):
                self._add(project, self._kind())

    @staticmethod
    def first_project_id(seed: int) -> str:
        """The id of the first project a cloud seeded with ``seed`` creates."""
        return uuid.UUID(int=random.Random(seed).getrandbits(128)).hex

    # -- inventory -------------------------------------------------------------------------------

    def _kind(self) -> str:
        roll = self.rng.randrange(100)
        for kind, share in MIX:
            if roll < share:
                return kind
            roll -= share
        return "servers"

    def _id(self) -> str:
        self._counter += 1
        return str(uuid.UUID(int=self.rng.getrandbits(128)))

    def _address(self, first: str) -> str:
        rng = self.rng
        return f"{first}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"

    def _created(self) -> str:
        moment = EPOCH + timedelta(minutes=self.rng.randrange(0, 60 * 24 * 30))
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    def _add(self, project: Project, kind: str, region: str | None = None) -> tuple[str, str]:
        region = region or self.rng.choice(self.region_names)
        items = project.regions[region]
        rid = self._id()
        created = self._created()
        if kind == "servers":
            flavor = self.flavors[self.rng.choice(list(self.flavors))]
            address = self._address("10")
            items[kind][rid] = {
                "id": rid,
                "name": f"vm-{self._counter}",
                "status": self.rng.choice(("ACTIVE", "ACTIVE", "ACTIVE", "SHUTOFF")),
                "tenant_id": project.id,
                "flavor": {"id": flavor["id"], "links": []},
                "created": created,
                "updated": created,
                "metadata": {"team": self.rng.choice(("web", "data", "ops"))},
                "addresses": {"net": [{"addr": address, "version": 4}]},
                "OS-EXT-AZ:availability_zone": f"{region}a",
                "os-extended-volumes:volumes_attached": [],
                "key_name": None,
            }
            self.actions[rid] = [_action("create", rid, project.id, created)]
        elif kind == "volumes":
            servers = list(items["servers"])
            attached = self.rng.choice(servers) if servers and self.rng.random() < 0.7 else None
            items[kind][rid] = {
                "id": rid,
                "name": f"disk-{self._counter}",
                "size": self.rng.choice((10, 20, 50, 100)),
                "volume_type": self.rng.choice(VOLUME_TYPES),
                "status": "in-use" if attached else "available",
                "attachments": [{"server_id": attached, "volume_id": rid}] if attached else [],
                "availability_zone": f"{region}a",
                "bootable": "false",
                "created_at": created.rstrip("Z") + ".000000",
                "metadata": {},
            }
            if attached:
                items["servers"][attached]["os-extended-volumes:volumes_attached"].append(
                    {"id": rid}
                )
        elif kind == "snapshots":
            volumes = list(items["volumes"])
            items[kind][rid] = {
                "id": rid,
                "name": f"snap-{self._counter}",
                "size": self.rng.choice((10, 20)),
                "status": "available",
                "volume_id": self.rng.choice(volumes) if volumes else None,
                "created_at": created.rstrip("Z") + ".000000",
            }
        elif kind == "images":
            items[kind][rid] = {
                "id": rid,
                "name": f"image-{self._counter}",
                "status": "active",
                "owner": project.id,
                "visibility": "private",
                "size": self.rng.choice((1, 2, 5)) * 1024**3,
                "disk_format": "qcow2",
                "min_disk": 10,
                "created_at": created,
            }
        elif kind == "floatingips":
            servers = list(items["servers"].values())
            bound = self.rng.choice(servers) if servers and self.rng.random() < 0.6 else None
            items[kind][rid] = {
                "id": rid,
                "floating_ip_address": self._address("185"),
                "fixed_ip_address": bound["addresses"]["net"][0]["addr"] if bound else None,
                "port_id": str(uuid.UUID(int=self.rng.getrandbits(128))) if bound else None,
                "status": "ACTIVE" if bound else "DOWN",
                "project_id": project.id,
                "tenant_id": project.id,
                "created_at": created,
            }
        elif kind == "loadbalancers":
            items[kind][rid] = {
                "id": rid,
                "name": f"lb-{self._counter}",
                "provisioning_status": "ACTIVE",
                "operating_status": "ONLINE",
                "vip_address": f"10.0.0.{self.rng.randrange(1, 255)}",
                "project_id": project.id,
                "created_at": created,
            }
        elif kind == "databases":
            flavor = self.flavors[self.rng.choice(list(self.flavors))]
            items[kind][rid] = {
                "id": rid,
                "name": f"db-{self._counter}",
                "status": "ACTIVE",
                "flavor": {"id": flavor["id"]},
                "volume": {"size": self.rng.choice((20, 50))},
                "datastore": {"type": self.rng.choice(("postgresql", "mysql")), "version": "15"},
                "created": created,
            }
        elif kind == "clusters":
            items[kind][rid] = {
                "uuid": rid,
                "id": rid,
                "name": f"k8s-{self._counter}",
                "status": "ACTIVE",
                "node_count": 3,
                "master_count": 1,
                "kube_version": "1.29",
                "created_at": created,
            }
            items["nodegroups"][rid] = [
                {
                    "uuid": self._id(),
                    "name": "default",
                    "flavor_id": "f-2-4",
                    "node_count": 3,
                    "status": "ACTIVE",
                    "created_at": created,
                }
            ]
        return region, rid

    def resources(self):
        """(project id, region, kind, wire) of every resource, node groups included."""
        for project in self.projects.values():
            for region, kinds in project.regions.items():
                for kind, items in kinds.items():
                    if kind == "nodegroups":
                        for groups in items.values():
                            for group in groups:
                                yield project.id, region, kind, group
                        continue
                    for item in items.values():
                        yield project.id, region, kind, item

    def count(self) -> int:
        return sum(1 for _ in self.resources())

    def mutate(self, *, appear: int = 0, change: int = 0, disappear: int = 0) -> dict:
        """New servers appear, some servers are renamed, some resources disappear."""
        report: dict[str, list[str]] = {"appeared": [], "changed": [], "disappeared": []}
        with self.lock:
            projects = list(self.projects.values())
            for _ in range(appear):
                project = self.rng.choice(projects)
                _, rid = self._add(project, "servers")
                report["appeared"].append(rid)
            servers = [
                (p, r, s)
                for p in projects
                for r, k in p.regions.items()
                for s in k["servers"].values()
            ]
            for project, _, server in self.rng.sample(servers, min(change, len(servers))):
                server["name"] += "-renamed"
                server["updated"] = _stamp(self.now)
                self.actions[server["id"]].append(
                    _action("update", server["id"], project.id, server["updated"])
                )
                report["changed"].append(server["id"])
            servers = [
                (p, r, s)
                for p in projects
                for r, k in p.regions.items()
                for s in k["servers"].values()
            ]
            for project, region, server in self.rng.sample(servers, min(disappear, len(servers))):
                self.remove(project.id, region, "servers", server["id"])
                report["disappeared"].append(server["id"])
        return report

    def remove(self, project_id: str, region: str, kind: str, rid: str) -> dict:
        with self.lock:
            item = self.projects[project_id].regions[region][kind].pop(rid)
            if kind == "servers":
                stamp = _stamp(self.now)
                self.actions[rid].append(_action("delete", rid, project_id, stamp))
                gone = {**item, "status": "DELETED", "updated": stamp}
                self.graveyard[rid] = (project_id, region, gone)
            return item

    def find(self, rid: str) -> tuple[str, str, str, dict] | None:
        for project_id, region, kind, item in self.resources():
            if (item.get("id") or item.get("uuid")) == rid:
                return project_id, region, kind, item
        return None

    # -- knobs -----------------------------------------------------------------------------------

    def deny(self, service: str, region: str = "") -> None:
        self._answer(service, region, 403)

    def make_absent(self, service: str, region: str = "", status: int = 404) -> None:
        if status not in (404, 501):
            raise ValueError("an absent service answers 404 or 501")
        self._answer(service, region, status)

    def grant(self, service: str, region: str = "") -> None:
        self.answers.pop((service, region), None)
        self.uncatalogued.discard((service, region))

    def drop_from_catalog(self, service: str, region: str) -> None:
        self.uncatalogued.add((service, region))

    def _answer(self, service: str, region: str, status: int) -> None:
        if service not in self.services:
            raise ValueError(f"unknown service {service!r}; one of {', '.join(self.services)}")
        self.answers[(service, region)] = status

    def expire_tokens(self, value: str | None = None) -> None:
        with self.lock:
            for token, info in self.tokens.items():
                if value is None or token == value:
                    info.expired = True

    # -- Keystone --------------------------------------------------------------------------------

    def catalog(self, project_id: str | None) -> list[dict]:
        entries = []
        for service in self.services.values():
            endpoints = []
            for region in self.region_names:
                if (service.key, region) in self.uncatalogued or project_id is None:
                    continue
                url = f"{self.base_url}/{region}/{service.segment}{service.suffix}".replace(
                    "{project}", project_id
                )
                endpoints.append(
                    {
                        "id": uuid.uuid4().hex,
                        "interface": "public",
                        "region": region,
                        "region_id": region,
                        "url": url,
                    }
                )
            entries.append(
                {"type": service.catalog_type, "name": service.segment, "endpoints": endpoints}
            )
        return entries

    def issue_token(self, body: Any) -> SimResponse:
        try:
            auth = body["auth"]
            user = auth["identity"]["password"]["user"]
            domain = user.get("domain") or {}
            domain_key = str(domain.get("name") or domain.get("id") or "")
            name, password = str(user["name"]), str(user["password"])
        except (KeyError, TypeError):
            raise OpenStackError(
                400, "Expecting to find auth in request body", title="error"
            ) from None
        if self.users.get((name, domain_key)) != password:
            raise OpenStackError(
                401, "The request you have made requires authentication.", title="error"
            )
        scope = auth.get("scope") or {}
        token_body: dict[str, Any] = {
            "methods": ["password"],
            "user": {"id": uuid.uuid5(uuid.NAMESPACE_DNS, name).hex, "name": name},
        }
        project_id = None
        if "project" in scope:
            wanted = scope["project"] or {}
            project = self.projects.get(str(wanted.get("id") or "")) or next(
                (p for p in self.projects.values() if p.name == wanted.get("name")), None
            )
            if project is None or project.id in self.roleless_projects:
                raise OpenStackError(401, "Could not find project", title="error")
            project_id = project.id
            token_body["project"] = {
                "id": project.id,
                "name": project.name,
                "domain": {"name": self.domain},
            }
            scoped = {"project": project.id}
        elif "domain" in scope:
            scoped = {
                "domain": str(
                    (scope["domain"] or {}).get("name") or (scope["domain"] or {}).get("id")
                )
            }
            token_body["domain"] = {"name": scoped["domain"], "id": scoped["domain"]}
        else:
            scoped = {}
        expires = datetime.now(UTC) + timedelta(seconds=self.token_ttl_s)
        token_body["expires_at"] = expires.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
        token_body["catalog"] = self.catalog(project_id)
        value = "gAAAA" + secrets.token_urlsafe(40)
        with self.lock:
            self.tokens[value] = _Token(scoped, time.time() + self.token_ttl_s)
            self.issued += 1
        return SimResponse({"token": token_body}, status=201, headers={"X-Subject-Token": value})

    def authorize(self, value: str | None) -> _Token:
        info = self.tokens.get(value or "")
        if info is None or info.expired or time.time() >= info.expires_at:
            raise OpenStackError(
                401, "The request you have made requires authentication.", title="error"
            )
        return info

    # -- the APIs --------------------------------------------------------------------------------

    _PATH = re.compile(r"^/(?P<region>[^/]+)/(?P<segment>[^/]+)(?P<rest>/.*)?$")

    def handle(self, request: SimRequest) -> Any:
        """The answer to an OpenStack request, or None when the path is not OpenStack's."""
        if request.path == f"{IDENTITY_PATH}/auth/tokens" and request.method == "POST":
            return self.issue_token(request.body)
        match = self._PATH.match(request.path)
        if not match or match["region"] not in self.region_names:
            return None
        service = next((s for s in self.services.values() if s.segment == match["segment"]), None)
        if service is None:
            return None
        token = self.authorize(request.header("X-Auth-Token"))
        region = match["region"]
        for key in ((service.key, region), (service.key, "")):
            status = self.answers.get(key)
            if status == 403:
                raise OpenStackError(403, f"Policy does not allow {service.key} in {region}")
            if status in (404, 501):
                raise OpenStackError(status, f"{service.key} is not available in {region}")
        project_id = token.scope.get("project")
        if not project_id:
            raise OpenStackError(403, "A project-scoped token is required")
        rest = match["rest"] or ""
        prefix = service.suffix.replace("{project}", project_id)
        if not rest.startswith(prefix):
            raise OpenStackError(404, f"{request.path} is not an API method")
        rest = rest[len(prefix) :]
        items = self.projects[project_id].regions[region]
        return self._route(service.key, rest, request, items, project_id)

    def _route(self, service: str, rest: str, request: SimRequest, items: dict, project_id: str):
        query = request.query
        if service == "compute":
            if rest == "/flavors/detail":
                return self._page(list(self.flavors.values()), query, "flavors", request)
            if rest == "/servers/detail":
                servers = list(items["servers"].values())
                since = query.get("changes-since")
                if since:
                    cut = _parse(since)
                    servers = [s for s in servers if _parse(s["updated"]) >= cut]
                    servers += [
                        g
                        for p, r, g in self.graveyard.values()
                        if p == project_id
                        and r == request.path.split("/")[1]
                        and _parse(g["updated"]) >= cut
                    ]
                return self._page(servers, query, "servers", request)
            found = re.fullmatch(r"/servers/([^/]+)(/os-instance-actions)?", rest)
            if found:
                server_id = found[1]
                server = items["servers"].get(server_id)
                gone = self.graveyard.get(server_id)
                if found[2]:
                    if server is None and (gone is None or gone[0] != project_id):
                        raise OpenStackError(404, f"Instance {server_id} could not be found.")
                    return {"instanceActions": list(reversed(self.actions.get(server_id, [])))}
                if server is None:
                    raise OpenStackError(404, f"Instance {server_id} could not be found.")
                return {"server": server}
        elif service == "block_storage":
            if rest in ("/volumes/detail", "/snapshots/detail"):
                kind = rest.split("/")[1]
                return self._page(list(items[kind].values()), query, kind, request)
        elif service == "network":
            if rest in ("/v2.0/floatingips", "/floatingips"):
                return self._page(
                    list(items["floatingips"].values()), query, "floatingips", request
                )
        elif service == "load_balancer":
            if rest == "/v2/lbaas/loadbalancers":
                return self._page(
                    list(items["loadbalancers"].values()), query, "loadbalancers", request
                )
        elif service == "image":
            if rest == "/v2/images":
                images = [
                    i
                    for i in items["images"].values()
                    if i["owner"] == query.get("owner", i["owner"])
                ]
                return self._page(images, query, "images", request, glance=True)
        elif service == "database":
            if rest == f"/{self.database_collection}":
                return self._page(
                    list(items["databases"].values()), query, self.database_collection, request
                )
        elif service == "kubernetes":
            if rest == "/clusters":
                return self._page(list(items["clusters"].values()), query, "clusters", request)
            found = re.fullmatch(r"/clusters/([^/]+)/nodegroups", rest)
            if found:
                if found[1] not in items["clusters"]:
                    raise OpenStackError(404, f"Cluster {found[1]} could not be found.")
                return {"nodegroups": items["nodegroups"].get(found[1], [])}
        raise OpenStackError(404, f"{request.path} is not an API method")

    def _page(self, items: list[dict], query: dict, key: str, request: SimRequest, *, glance=False):
        try:
            limit = int(query.get("limit") or 1000)
        except ValueError:
            raise OpenStackError(400, "limit must be an integer") from None
        limit = max(1, min(limit, 1000))
        items = sorted(items, key=lambda i: i.get("id") or i.get("uuid"))
        offset = 0
        marker = query.get("marker")
        if marker:
            ids = [i.get("id") or i.get("uuid") for i in items]
            if marker not in ids:
                raise OpenStackError(400, f"marker [{marker}] not found")
            offset = ids.index(marker) + 1
        chunk = items[offset : offset + limit]
        answer: dict[str, Any] = {key: chunk}
        if offset + limit < len(items):
            last = chunk[-1].get("id") or chunk[-1].get("uuid")
            if glance:
                answer["next"] = f"{request.path}?limit={limit}&marker={last}"
            else:
                answer[f"{key}_links"] = [
                    {
                        "rel": "next",
                        "href": f"{self.base_url}{request.path}?limit={limit}&marker={last}",
                    }
                ]
        return answer


def _empty() -> dict[str, dict]:
    return {kind: {} for kind, _ in MIX} | {"nodegroups": {}}


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _action(action: str, server_id: str, project_id: str, at: str) -> dict:
    return {
        "action": action,
        "instance_uuid": server_id,
        "request_id": "req-" + uuid.uuid4().hex,
        "user_id": "u-" + project_id[:8],
        "project_id": project_id,
        "start_time": at.rstrip("Z") + ".000000",
        "message": None,
    }
