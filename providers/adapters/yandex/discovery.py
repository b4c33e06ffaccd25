"""Walks a Yandex Cloud scope (organization, clouds or folders) and yields every resource.

Folder-level list calls with ``pageSize=1000`` keep the number of requests proportional to
folders, not resources; only managed-database hosts need one call per cluster, because the MDB
API has no folder-wide host listing.

Each list call is one listing unit (service x resource type x folder) recorded in the adapter's
``ListingReport``: a 403 (a viewer role the service account lacks) or a 404/UNIMPLEMENTED (a
service this installation does not have) is recorded and the walk goes on with the next unit;
any other failure is recorded and ends the walk, so that what was not read is never taken for
complete (see ``providers.adapters.listing``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from providers.adapters.base import ResourceRecord, ResourceType
from providers.adapters.listing import ListingReport
from providers.adapters.yandex import records
from providers.adapters.yandex.client import YandexClient
from providers.adapters.yandex.services import db_service

DB_ENGINES = ("postgresql", "mysql", "clickhouse")


@dataclass(frozen=True, slots=True)
class YandexScope:
    """What a connection covers. Folders win over clouds, clouds over the organization; with
    nothing set, every cloud the credentials can see."""

    organization_id: str | None = None
    cloud_ids: tuple[str, ...] = ()
    folder_ids: tuple[str, ...] = ()
    # The billing account whose balance is read; None: every account the credentials see.
    billing_account_id: str | None = None

    @classmethod
    def from_mapping(cls, data: dict | None) -> YandexScope:
        data = data or {}
        return cls(
            organization_id=data.get("organization_id") or None,
            cloud_ids=tuple(data.get("cloud_ids") or ()),
            folder_ids=tuple(data.get("folder_ids") or ()),
            billing_account_id=data.get("billing_account_id") or None,
        )

    def describe(self) -> str:
        if self.folder_ids:
            return f"folders {', '.join(self.folder_ids)}"
        if self.cloud_ids:
            return f"clouds {', '.join(self.cloud_ids)}"
        if self.organization_id:
            return f"organization {self.organization_id}"
        return "every visible cloud"


class YandexDiscovery:
    def __init__(self, client: YandexClient, scope: YandexScope, report: ListingReport) -> None:
        self.client = client
        self.scope = scope
        self.report = report
        self._presets: dict[str, dict[str, tuple[int, int]]] = {}

    def __iter__(self) -> Iterator[ResourceRecord]:
        folders: list[ResourceRecord] = []
        for record in self._scope_records():
            yield record
            if record.type == ResourceType.FOLDER:
                folders.append(record)
        # Every folder in scope was enumerated unless a scope listing was denied or absent (a
        # failure would have ended the walk above).
        self.report.scopes_complete = not self.report.problems
        for folder in folders:
            yield from self.folder_resources(folder.provider_id)

    # -- scope -----------------------------------------------------------------------------------

    def folder_ids(self) -> list[str]:
        """The ids of every folder in scope (the operation log reads them folder by folder)."""
        return [r.provider_id for r in self._scope_records() if r.type == ResourceType.FOLDER]

    def _scope_records(self) -> Iterator[ResourceRecord]:
        get, unit = self.client.get, self.report.unit
        folder_types, cloud_types = (ResourceType.FOLDER,), (ResourceType.CLOUD,)
        if self.scope.folder_ids:
            for folder_id in self.scope.folder_ids:
                with unit("resource_manager", folder_types):
                    folder = get("resource_manager", f"/resource-manager/v1/folders/{folder_id}")
                    yield records.folder(folder)
            return
        clouds: list[dict] = []
        for cloud_id in self.scope.cloud_ids:
            with unit("resource_manager", cloud_types):
                clouds.append(get("resource_manager", f"/resource-manager/v1/clouds/{cloud_id}"))
        if not self.scope.cloud_ids:
            params = (
                {"organizationId": self.scope.organization_id} if self.scope.organization_id else {}
            )
            with unit("resource_manager", cloud_types):
                for page in self.client.pages(
                    "resource_manager", "/resource-manager/v1/clouds", "clouds", params
                ):
                    clouds.extend(page)
        for cloud in clouds:
            yield records.cloud(cloud)
            with unit("resource_manager", folder_types):
                for page in self.client.pages(
                    "resource_manager",
                    "/resource-manager/v1/folders",
                    "folders",
                    {"cloudId": cloud["id"]},
                ):
                    for item in page:
                        yield records.folder(item)

    # -- one folder ------------------------------------------------------------------------------

    def folder_resources(self, folder_id: str) -> Iterator[ResourceRecord]:
        pages, unit = self.client.pages, self.report.unit
        scope = {"folderId": folder_id}
        self.report.visit(folder_id)

        vm_by_ip: dict[str, str] = {}
        with unit("compute", (ResourceType.VM,), folder_id):
            for page in pages("compute", "/compute/v1/instances", "instances", scope):
                for item in page:
                    record = records.instance(item)
                    for ip in record.properties.get("external_ips", ()):
                        vm_by_ip[ip] = record.provider_id
                    for ip in record.properties.get("internal_ips", ()):
                        vm_by_ip[ip] = record.provider_id
                    yield record
        listings = (
            ("compute", "/compute/v1/disks", "disks", records.disk, ResourceType.DISK),
            (
                "compute",
                "/compute/v1/snapshots",
                "snapshots",
                records.snapshot,
                ResourceType.SNAPSHOT,
            ),
            ("compute", "/compute/v1/images", "images", records.image, ResourceType.IMAGE),
            ("vpc", "/vpc/v1/networks", "networks", records.network, ResourceType.NETWORK),
            ("vpc", "/vpc/v1/subnets", "subnets", records.subnet, ResourceType.SUBNET),
        )
        for service, path, key, convert, type_ in listings:
            with unit(service, (type_,), folder_id):
                yield from self._list(service, path, key, scope, convert)
        with unit("vpc", (ResourceType.IP_ADDRESS,), folder_id):
            for page in pages("vpc", "/vpc/v1/addresses", "addresses", scope):
                for item in page:
                    yield records.address(item, vm_by_ip)
        with unit("storage", (ResourceType.BUCKET,), folder_id):
            yield from self._list(
                "storage", "/storage/v1/buckets", "buckets", scope, records.bucket
            )
        db_types = (ResourceType.DATABASE_CLUSTER, ResourceType.DATABASE_HOST)
        for engine in DB_ENGINES:
            with unit(db_service(engine), db_types, folder_id):
                yield from self._databases(engine, folder_id)
        with unit("kubernetes", (ResourceType.K8S_CLUSTER,), folder_id):
            yield from self._list(
                "kubernetes",
                "/managed-kubernetes/v1/clusters",
                "clusters",
                scope,
                records.k8s_cluster,
            )
        with unit("kubernetes", (ResourceType.K8S_NODE_GROUP,), folder_id):
            for page in pages(
                "kubernetes", "/managed-kubernetes/v1/nodeGroups", "nodeGroups", scope
            ):
                for item in page:
                    yield records.k8s_node_group(item, folder_id)

    def _list(self, service, path, key, params, convert) -> Iterator[ResourceRecord]:
        for page in self.client.pages(service, path, key, params):
            for item in page:
                yield convert(item)

    def _databases(self, engine: str, folder_id: str) -> Iterator[ResourceRecord]:
        base = f"/managed-{engine}/v1"
        clusters = [
            item
            for page in self.client.pages(
                "mdb", f"{base}/clusters", "clusters", {"folderId": folder_id}
            )
            for item in page
        ]
        if not clusters:
            return
        presets = self._engine_presets(engine)
        for cluster in clusters:
            yield records.db_cluster(cluster, engine)
            for page in self.client.pages("mdb", f"{base}/clusters/{cluster['id']}/hosts", "hosts"):
                for host in page:
                    yield records.db_host(host, engine, folder_id, presets)

    def _engine_presets(self, engine: str) -> dict[str, tuple[int, int]]:
        """Preset id -> (cores, memory bytes), fetched once per engine per run: hosts name only
        their preset, and the preset carries the vCPU and memory that rightsizing needs."""
        if engine not in self._presets:
            self._presets[engine] = {
                p["id"]: (records.to_int(p.get("cores")), records.to_int(p.get("memory")))
                for page in self.client.pages(
                    "mdb", f"/managed-{engine}/v1/resourcePresets", "resourcePresets"
                )
                for p in page
            }
        return self._presets[engine]
