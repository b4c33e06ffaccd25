"""Walks a Yandex Cloud scope (organization, clouds or folders) and yields every resource.

Folder-level list calls with ``pageSize=1000`` keep the number of requests proportional to
folders, not resources; only managed-database hosts need one call per cluster, because the MDB
API has no folder-wide host listing. Any failure propagates: a listing that skipped a folder or a
service is incomplete, and the caller must not treat it as complete.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from providers.adapters.base import ResourceRecord, ResourceType
from providers.adapters.yandex import records
from providers.adapters.yandex.client import YandexClient

DB_ENGINES = ("postgresql", "mysql", "clickhouse")


@dataclass(frozen=True, slots=True)
class YandexScope:
    """What a connection covers. Folders win over clouds, clouds over the organization; with
    nothing set, every cloud the credentials can see."""

    organization_id: str | None = None
    cloud_ids: tuple[str, ...] = ()
    folder_ids: tuple[str, ...] = ()

    @classmethod
    def from_mapping(cls, data: dict | None) -> YandexScope:
        data = data or {}
        return cls(
            organization_id=data.get("organization_id") or None,
            cloud_ids=tuple(data.get("cloud_ids") or ()),
            folder_ids=tuple(data.get("folder_ids") or ()),
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
    def __init__(self, client: YandexClient, scope: YandexScope) -> None:
        self.client = client
        self.scope = scope
        self._presets: dict[str, dict[str, tuple[int, int]]] = {}

    def __iter__(self) -> Iterator[ResourceRecord]:
        folders: list[ResourceRecord] = []
        for record in self._scope_records():
            yield record
            if record.type == ResourceType.FOLDER:
                folders.append(record)
        for folder in folders:
            yield from self.folder_resources(folder.provider_id)

    # -- scope -----------------------------------------------------------------------------------

    def _scope_records(self) -> Iterator[ResourceRecord]:
        get, pages = self.client.get, self.client.pages
        if self.scope.folder_ids:
            for folder_id in self.scope.folder_ids:
                yield records.folder(
                    get("resource_manager", f"/resource-manager/v1/folders/{folder_id}")
                )
            return
        if self.scope.cloud_ids:
            clouds = [
                get("resource_manager", f"/resource-manager/v1/clouds/{cloud_id}")
                for cloud_id in self.scope.cloud_ids
            ]
        else:
            params = (
                {"organizationId": self.scope.organization_id} if self.scope.organization_id else {}
            )
            clouds = [
                item
                for page in pages(
                    "resource_manager", "/resource-manager/v1/clouds", "clouds", params
                )
                for item in page
            ]
        for cloud in clouds:
            yield records.cloud(cloud)
            for page in pages(
                "resource_manager",
                "/resource-manager/v1/folders",
                "folders",
                {"cloudId": cloud["id"]},
            ):
                for item in page:
                    yield records.folder(item)

    # -- one folder ------------------------------------------------------------------------------

    def folder_resources(self, folder_id: str) -> Iterator[ResourceRecord]:
        pages = self.client.pages
        scope = {"folderId": folder_id}

        vm_by_ip: dict[str, str] = {}
        for page in pages("compute", "/compute/v1/instances", "instances", scope):
            for item in page:
                record = records.instance(item)
                for ip in record.properties.get("external_ips", ()):
                    vm_by_ip[ip] = record.provider_id
                for ip in record.properties.get("internal_ips", ()):
                    vm_by_ip[ip] = record.provider_id
                yield record
        yield from self._list("compute", "/compute/v1/disks", "disks", scope, records.disk)
        yield from self._list(
            "compute", "/compute/v1/snapshots", "snapshots", scope, records.snapshot
        )
        yield from self._list("compute", "/compute/v1/images", "images", scope, records.image)
        yield from self._list("vpc", "/vpc/v1/networks", "networks", scope, records.network)
        yield from self._list("vpc", "/vpc/v1/subnets", "subnets", scope, records.subnet)
        for page in pages("vpc", "/vpc/v1/addresses", "addresses", scope):
            for item in page:
                yield records.address(item, vm_by_ip)
        yield from self._list("storage", "/storage/v1/buckets", "buckets", scope, records.bucket)
        for engine in DB_ENGINES:
            yield from self._databases(engine, folder_id)
        yield from self._list(
            "kubernetes", "/managed-kubernetes/v1/clusters", "clusters", scope, records.k8s_cluster
        )
        for page in pages("kubernetes", "/managed-kubernetes/v1/nodeGroups", "nodeGroups", scope):
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
