"""The simulator's cloud: deterministic, internally consistent Yandex Cloud inventory.

Objects are stored in their wire shape (lowerCamelCase, int64 as strings, proto3 defaults
omitted) so serving a page is a slice and a ``json.dumps``. Everything hangs together the way it
does in a real cloud, because a billing-export simulator will later generate costs for the same
resources: boot disks belong to their VMs, public IPs are bound to VMs through their NAT addresses,
database hosts to clusters, node groups to Kubernetes clusters and their nodes are VMs labelled
with both ids. The same seed always produces the same cloud, and ``mutate`` continues the same
random sequence, so a series of runs is reproducible too.
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

ZONES = ("ru-central1-a", "ru-central1-b", "ru-central1-d")
ZONE_PREFIX = {"ru-central1-a": "fhm", "ru-central1-b": "epd", "ru-central1-d": "fv4"}
DB_ENGINES = ("postgresql", "mysql", "clickhouse")
DB_VERSIONS = {"postgresql": "16", "mysql": "8.0", "clickhouse": "24.8"}
DB_PRESETS = (
    ("s3-c2-m8", 2, 8),
    ("s3-c4-m16", 4, 16),
    ("s3-c8-m32", 8, 32),
    ("b3-c1-m4", 1, 4),
)
FOLDER_COLLECTIONS = (
    "instances",
    "disks",
    "snapshots",
    "images",
    "networks",
    "subnets",
    "addresses",
    "buckets",
    "k8s_clusters",
    "node_groups",
    *(f"{engine}_clusters" for engine in DB_ENGINES),
)
# Normalized type of each collection, for consumers of ``iter_resources`` (billing simulators).
COLLECTION_TYPE = {
    "instances": "vm",
    "disks": "disk",
    "snapshots": "snapshot",
    "images": "image",
    "networks": "network",
    "subnets": "subnet",
    "addresses": "ip_address",
    "buckets": "bucket",
    "k8s_clusters": "k8s_cluster",
    "node_groups": "k8s_node_group",
    **{f"{engine}_clusters": "database_cluster" for engine in DB_ENGINES},
}
GIB = 1 << 30
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
_LABEL_VALUES = {
    "env": ("prod", "staging", "dev"),
    "team": ("core", "data", "web", "ml", "billing"),
    "app": ("api", "worker", "frontend", "etl", "search"),
}
# Who acts on instances in the operation log (Yandex names the subject: a user account or a
# service account id); chosen by a hash of the instance id, so that the seeded inventory's random
# sequence is not disturbed.
ACTORS = ("ajeuser0alice0000000", "ajesa0terraform00000", "ajeuser0bob000000000")
_OPERATION_TYPE = "type.googleapis.com/yandex.cloud.compute.v1.{}InstanceMetadata"
_ODD_STATUSES = ("PROVISIONING", "STARTING", "STOPPING", "ERROR", "CRASHED")


@dataclass(frozen=True, slots=True)
class InventoryConfig:
    seed: int = 1
    clouds: int = 1
    folders: int = 2  # in total, spread round-robin over the clouds
    resources_per_folder: int = 40
    organization_id: str = "bpfsimorg0000000000"
    int64_as_number: bool = False  # older doc pages show bare numbers; parsers accept both
    unknown_enum_every: int = 0  # every Nth VM and disk gets a status no client knows yet


@dataclass(frozen=True, slots=True)
class InventoryItem:
    """One resource for consumers outside HTTP: ``type`` is the normalized type name."""

    type: str
    id: str
    folder_id: str
    cloud_id: str
    data: dict[str, Any]
    engine: str | None = None  # managed databases only
    cluster_id: str | None = None  # database hosts and node groups


@dataclass(slots=True)
class MutationReport:
    appeared: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    disappeared: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Folder:
    wire: dict[str, Any]
    items: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {name: {} for name in FOLDER_COLLECTIONS}
    )
    ip_counter: int = 0


class Inventory:
    """Thread-safe: the server reads pages while a test thread may ``mutate``."""

    def __init__(self, config: InventoryConfig | None = None) -> None:
        self.config = config or InventoryConfig()
        self.rng = random.Random(self.config.seed)
        self.lock = threading.RLock()
        self.clouds: dict[str, dict[str, Any]] = {}
        self.folders: dict[str, _Folder] = {}
        self.hosts: dict[str, dict[str, dict[str, Any]]] = {}  # cluster id -> host name -> host
        self.cluster_engine: dict[str, tuple[str, str]] = {}  # cluster id -> (engine, folder id)
        self.vm_folder: dict[str, str] = {}
        self._ids: set[str] = set()
        self._external_ip = 0
        self._serial = 0
        self._vm_serial = 0
        self._page_cache: dict[tuple[str, str], list[dict[str, Any]]] = {}
        # Instance id -> operations recorded by mutations (the "create" one is derived from the
        # instance itself, so a large inventory costs nothing until its log is read).
        self.operations: dict[str, list[dict[str, Any]]] = {}
        self._generate()

    # -- reading ---------------------------------------------------------------------------------

    def items(self, folder_id: str, collection: str) -> list[dict[str, Any]]:
        """The collection's objects in a stable order (cached until the next mutation)."""
        with self.lock:
            key = (folder_id, collection)
            cached = self._page_cache.get(key)
            if cached is None:
                cached = list(self.folders[folder_id].items[collection].values())
                self._page_cache[key] = cached
            return cached

    def folder_of_cluster(self, cluster_id: str) -> tuple[str, str] | None:
        return self.cluster_engine.get(cluster_id)

    def instance(self, vm_id: str) -> dict[str, Any] | None:
        with self.lock:
            folder_id = self.vm_folder.get(vm_id)
            return self.folders[folder_id].items["instances"].get(vm_id) if folder_id else None

    def instance_operations(self, vm_id: str) -> list[dict[str, Any]] | None:
        """The instance's operations, newest first (as the console lists them); None when the
        instance does not exist (its log is gone with it)."""
        with self.lock:
            vm = self.instance(vm_id)
            if vm is None:
                return None
            created = self._operation(
                vm_id, "Create", vm["createdAt"], self.creator_of(vm_id), "Create instance"
            )
            ops = [created, *self.operations.get(vm_id, ())]
        return sorted(ops, key=lambda op: (_parse(op["createdAt"]), op["id"]), reverse=True)

    @staticmethod
    def creator_of(vm_id: str) -> str:
        return ACTORS[int(hashlib.sha256(vm_id.encode()).hexdigest(), 16) % len(ACTORS)]

    @staticmethod
    def _operation(vm_id: str, kind: str, at: str, actor: str, description: str) -> dict:
        digest = hashlib.sha256(f"{vm_id}/{kind}/{at}".encode()).hexdigest()[:17]
        return {
            "id": vm_id[:3] + digest,
            "description": description,
            "createdAt": at,
            "createdBy": actor,
            "modifiedAt": at,
            "done": True,
            "metadata": {"@type": _OPERATION_TYPE.format(kind), "instanceId": vm_id},
        }

    def _log(self, vm_id: str, kind: str, at: str, description: str) -> None:
        actor = ACTORS[(len(self.operations.get(vm_id, ())) + 1) % len(ACTORS)]
        self.operations.setdefault(vm_id, []).append(
            self._operation(vm_id, kind, at, actor, description)
        )

    def presets(self) -> list[dict[str, Any]]:
        return [
            {"id": pid, "zoneIds": list(ZONES), "cores": self._i(c), "memory": self._i(m * GIB)}
            for pid, c, m in DB_PRESETS
        ]

    def count(self) -> int:
        """Resources below folder level (what the adapter yields besides clouds and folders)."""
        with self.lock:
            return sum(
                len(items) for f in self.folders.values() for items in f.items.values()
            ) + sum(len(h) for h in self.hosts.values())

    def iter_resources(self) -> Iterator[InventoryItem]:
        """Every resource including clouds, folders and database hosts, in a stable order."""
        with self.lock:
            for cloud_id, cloud in self.clouds.items():
                yield InventoryItem("cloud", cloud_id, "", cloud_id, cloud)
            for folder_id, folder in self.folders.items():
                cloud_id = folder.wire["cloudId"]
                yield InventoryItem("folder", folder_id, folder_id, cloud_id, folder.wire)
                for collection, objects in folder.items.items():
                    kind = COLLECTION_TYPE[collection]
                    engine = collection.split("_")[0] if kind == "database_cluster" else None
                    for obj_id, obj in objects.items():
                        yield InventoryItem(
                            kind, obj_id, folder_id, cloud_id, obj, engine, obj.get("clusterId")
                        )
                        for name, host in self.hosts.get(obj_id, {}).items():
                            yield InventoryItem(
                                "database_host", name, folder_id, cloud_id, host, engine, obj_id
                            )

    # -- generation ------------------------------------------------------------------------------

    def _generate(self) -> None:
        cfg = self.config
        cloud_ids = []
        for n in range(max(1, cfg.clouds)):
            cloud_id = self._id("b1g")
            cloud_ids.append(cloud_id)
            self.clouds[cloud_id] = self._compact(
                {
                    "id": cloud_id,
                    "createdAt": self._when(),
                    "name": f"cloud-{n + 1}",
                    "organizationId": cfg.organization_id,
                    "labels": {"owner": "finance"} if n == 0 else {},
                }
            )
        for n in range(max(1, cfg.folders)):
            folder_id = self._id("b1g")
            wire = self._compact(
                {
                    "id": folder_id,
                    "cloudId": cloud_ids[n % len(cloud_ids)],
                    "createdAt": self._when(),
                    "name": f"folder-{n + 1}",
                    "labels": {"env": _LABEL_VALUES["env"][n % 3]},
                    "status": "ACTIVE",
                }
            )
            self.folders[folder_id] = _Folder(wire)
            self._fill_folder(folder_id, cfg.resources_per_folder)

    def _fill_folder(self, folder_id: str, budget: int) -> None:
        """Spend roughly ``budget`` resources on a realistic mix (about 35% VMs, each with a boot
        disk; a few managed databases and Kubernetes clusters; some idle IPs and orphan disks)."""
        rng = self.rng
        network_id = self._add_network(folder_id)
        remaining = max(0, budget - 1 - len(ZONES))
        some = 1 if budget >= 30 else 0  # small folders still show every type
        k8s = max(some, round(remaining * 0.003))
        dbs = max(some, round(remaining * 0.004))
        buckets = max(some, round(remaining * 0.03))
        images = max(some, round(remaining * 0.01))
        remaining -= k8s * 9 + dbs * 3 * len(DB_ENGINES) + buckets + images
        vms = max(1, round(remaining / 2.65))
        for _ in range(images):
            self._add_image(folder_id)
        for _ in range(k8s):
            self._add_k8s_cluster(folder_id, network_id)
        for _ in range(vms):
            self._add_vm(folder_id)
        disks = list(self.folders[folder_id].items["disks"].values())
        for _ in range(max(0, round(vms * 0.05))):
            self._add_disk(folder_id, rng.choice(ZONES), None)
        for _ in range(round(vms * 0.1)):
            self._add_snapshot(folder_id, rng.choice(disks))
        for _ in range(round(vms * 0.05)):
            self._add_address(folder_id, self._next_external_ip(), rng.choice(ZONES), False, True)
        for _ in range(buckets):
            self._add_bucket(folder_id)
        for engine in DB_ENGINES:
            for _ in range(dbs):
                self._add_db_cluster(folder_id, network_id, engine)

    def _add_network(self, folder_id: str) -> str:
        folder = self.folders[folder_id]
        network_id = self._id("enp")
        folder.items["networks"][network_id] = {
            "id": network_id,
            "folderId": folder_id,
            "createdAt": self._when(),
            "name": "default",
            "defaultSecurityGroupId": self._id("enp"),
        }
        for index, zone in enumerate(ZONES):
            subnet_id = self._id("e9b")
            folder.items["subnets"][subnet_id] = {
                "id": subnet_id,
                "folderId": folder_id,
                "createdAt": self._when(),
                "name": f"default-{zone}",
                "networkId": network_id,
                "zoneId": zone,
                "v4CidrBlocks": [f"10.{128 + index}.0.0/16"],
            }
        return network_id

    def _subnet_for(self, folder_id: str, zone: str) -> dict[str, Any]:
        for subnet in self.folders[folder_id].items["subnets"].values():
            if subnet["zoneId"] == zone:
                return subnet
        raise LookupError(zone)

    def _add_vm(
        self,
        folder_id: str,
        *,
        zone: str | None = None,
        shape: tuple[int, int, int] | None = None,
        labels: dict[str, str] | None = None,
        preemptible: bool | None = None,
        nat: bool | None = None,
    ) -> list[str]:
        """Add a VM with its boot disk (and maybe a data disk and a public IP); returns all ids."""
        rng, cfg = self.rng, self.config
        folder = self.folders[folder_id]
        zone = zone or rng.choice(ZONES)
        cores, fraction, memory_gib = shape or (
            rng.choice((2, 2, 2, 4, 4, 8, 16)),
            rng.choice((5, 20, 20, 50, 100, 100, 100)),
            0,
        )
        memory_gib = memory_gib or cores * rng.choice((1, 2, 4))
        vm_id = self._id(ZONE_PREFIX[zone])
        self._vm_serial += 1
        serial = self._vm_serial
        status = (
            "RUNNING" if rng.random() < 0.8 else rng.choice(("STOPPED", "STOPPED", *_ODD_STATUSES))
        )
        if cfg.unknown_enum_every and serial % cfg.unknown_enum_every == 0:
            status = "HIBERNATED"
        if labels is None:
            labels = {k: rng.choice(v) for k, v in _LABEL_VALUES.items() if rng.random() < 0.8}
        if preemptible is None:
            preemptible = rng.random() < 0.15
        subnet = self._subnet_for(folder_id, zone)
        folder.ip_counter += 1
        internal_ip = (
            f"{subnet['v4CidrBlocks'][0].split('.0.0/')[0]}."
            f"{folder.ip_counter // 250}.{folder.ip_counter % 250 + 4}"
        )
        primary: dict[str, Any] = {"address": internal_ip}
        ids = [vm_id]
        if nat if nat is not None else rng.random() < 0.4:
            external = self._next_external_ip()
            primary["oneToOneNat"] = {"address": external, "ipVersion": "IPV4"}
            ids.append(self._add_address(folder_id, external, zone, rng.random() < 0.3, False))
        boot = self._add_disk(folder_id, zone, vm_id, auto_delete=True)
        ids.append(boot)
        secondary = []
        if rng.random() < 0.1:
            data_disk = self._add_disk(folder_id, zone, vm_id)
            ids.append(data_disk)
            secondary.append(
                {"mode": "READ_WRITE", "deviceName": f"data-{data_disk[-6:]}", "diskId": data_disk}
            )
        name = f"vm-{serial}"
        resources = {
            "memory": self._i(memory_gib * GIB),
            "cores": self._i(cores),
            "coreFraction": self._i(fraction),
        }
        folder.items["instances"][vm_id] = self._compact(
            {
                "id": vm_id,
                "folderId": folder_id,
                "createdAt": self._when(),
                "name": name,
                "labels": labels,
                "zoneId": zone,
                "platformId": "standard-v3",
                "resources": resources,
                "status": status,
                "bootDisk": {
                    "mode": "READ_WRITE",
                    "deviceName": f"boot-{boot[-6:]}",
                    "autoDelete": True,
                    "diskId": boot,
                },
                "secondaryDisks": secondary,
                "networkInterfaces": [
                    {
                        "index": "0",
                        "macAddress": "d0:0d:"
                        + ":".join(f"{rng.randrange(256):02x}" for _ in range(4)),
                        "subnetId": subnet["id"],
                        "primaryV4Address": primary,
                    }
                ],
                "fqdn": f"{name}.{zone[:-2]}.internal",
                "schedulingPolicy": {"preemptible": True} if preemptible else {},
                "networkSettings": {"type": "STANDARD"},
                "placementPolicy": {},
            }
        )
        self.vm_folder[vm_id] = folder_id
        return ids

    def _add_disk(
        self, folder_id: str, zone: str, vm_id: str | None, *, auto_delete: bool = False
    ) -> str:
        rng, cfg = self.rng, self.config
        disk_id = self._id(ZONE_PREFIX[zone])
        self._serial += 1
        images = list(self.folders[folder_id].items["images"])
        status = "READY"
        if cfg.unknown_enum_every and self._serial % cfg.unknown_enum_every == 0:
            status = "MIGRATING"
        self.folders[folder_id].items["disks"][disk_id] = self._compact(
            {
                "id": disk_id,
                "folderId": folder_id,
                "createdAt": self._when(),
                "name": f"disk-{self._serial}" if not auto_delete else "",
                "zoneId": zone,
                "typeId": rng.choice(("network-ssd", "network-hdd", "network-ssd-nonreplicated")),
                "size": self._i(rng.choice((10, 20, 50, 100, 200, 372)) * GIB),
                "blockSize": self._i(4096),
                "status": status,
                "sourceImageId": rng.choice(images) if auto_delete and images else "",
                "instanceIds": [vm_id] if vm_id else [],
                "diskPlacementPolicy": {},
            }
        )
        return disk_id

    def _add_snapshot(self, folder_id: str, disk: dict[str, Any]) -> str:
        snapshot_id = self._id("fd8")
        size = int(disk["size"])
        self.folders[folder_id].items["snapshots"][snapshot_id] = self._compact(
            {
                "id": snapshot_id,
                "folderId": folder_id,
                "createdAt": self._when(),
                "name": f"snap-{snapshot_id[-6:]}",
                "storageSize": self._i(size // self.rng.choice((2, 4, 8))),
                "diskSize": self._i(size),
                "status": "READY",
                "sourceDiskId": disk["id"],
            }
        )
        return snapshot_id

    def _add_image(self, folder_id: str) -> str:
        image_id = self._id("fd8")
        size = self.rng.choice((5, 10, 20)) * GIB
        self.folders[folder_id].items["images"][image_id] = self._compact(
            {
                "id": image_id,
                "folderId": folder_id,
                "createdAt": self._when(),
                "name": f"image-{image_id[-6:]}",
                "family": self.rng.choice(("ubuntu-2404-lts", "debian-12", "")),
                "storageSize": self._i(size // 2),
                "minDiskSize": self._i(size),
                "status": "READY",
                "os": {"type": "LINUX"},
            }
        )
        return image_id

    def _add_address(self, folder_id: str, ip: str, zone: str, reserved: bool, idle: bool) -> str:
        address_id = self._id("e9b")
        self.folders[folder_id].items["addresses"][address_id] = self._compact(
            {
                "id": address_id,
                "folderId": folder_id,
                "createdAt": self._when(),
                "name": f"ip-{address_id[-6:]}" if reserved or idle else "",
                "externalIpv4Address": {"address": ip, "zoneId": zone, "requirements": {}},
                "reserved": reserved or idle,
                "used": not idle,
                "type": "EXTERNAL",
                "ipVersion": "IPV4",
            }
        )
        return address_id

    def _add_bucket(self, folder_id: str) -> str:
        name = f"bucket-{self._id('')}"
        self.folders[folder_id].items["buckets"][name] = self._compact(
            {
                "id": name,
                "name": name,
                "folderId": folder_id,
                "anonymousAccessFlags": {"read": self.rng.random() < 0.1},
                "defaultStorageClass": self.rng.choice(("STANDARD", "STANDARD", "COLD", "ICE")),
                "versioning": "VERSIONING_DISABLED",
                "maxSize": self._i(self.rng.choice((0, 0, 100 * GIB))),
                "createdAt": self._when(),
            }
        )
        return name

    def _add_db_cluster(self, folder_id: str, network_id: str, engine: str) -> list[str]:
        rng = self.rng
        cluster_id = self._id("c9q")
        preset = rng.choice(DB_PRESETS)[0]
        resources = {
            "resourcePresetId": preset,
            "diskSize": self._i(rng.choice((10, 32, 64, 128)) * GIB),
            "diskTypeId": rng.choice(("network-ssd", "network-hdd", "local-ssd")),
        }
        config: dict[str, Any] = {"version": DB_VERSIONS[engine]}
        if engine == "clickhouse":
            config["clickhouse"] = {"resources": resources}
        else:
            config["resources"] = resources
            config["backupRetainPeriodDays"] = self._i(7)
        self.folders[folder_id].items[f"{engine}_clusters"][cluster_id] = self._compact(
            {
                "id": cluster_id,
                "folderId": folder_id,
                "createdAt": self._when(),
                "name": f"{engine[:2]}-{cluster_id[-6:]}",
                "labels": {"team": rng.choice(_LABEL_VALUES["team"])},
                "environment": rng.choice(("PRODUCTION", "PRESTABLE")),
                "networkId": network_id,
                "health": "ALIVE",
                "status": "RUNNING",
                "config": config,
                "deletionProtection": rng.random() < 0.3,
            }
        )
        self.cluster_engine[cluster_id] = (engine, folder_id)
        hosts = self.hosts.setdefault(cluster_id, {})
        ids = [cluster_id]
        for index in range(2):
            zone = ZONES[index]
            name = f"rc1{zone[-1]}-{self._id('')}.mdb.yandexcloud.net"
            host: dict[str, Any] = {
                "name": name,
                "clusterId": cluster_id,
                "zoneId": zone,
                "resources": dict(resources),
                "health": "ALIVE",
                "subnetId": self._subnet_for(folder_id, zone)["id"],
            }
            if engine == "clickhouse":
                host.update(type="CLICKHOUSE", shardName="shard1")
            else:
                host["role"] = "MASTER" if index == 0 else "REPLICA"
                host["services"] = [{"type": engine.upper(), "health": "ALIVE"}]
            hosts[name] = host
            ids.append(name)
        return ids

    def _add_k8s_cluster(self, folder_id: str, network_id: str) -> list[str]:
        rng = self.rng
        folder = self.folders[folder_id]
        cluster_id = self._id("cat")
        zone = rng.choice(ZONES)
        folder.items["k8s_clusters"][cluster_id] = self._compact(
            {
                "id": cluster_id,
                "folderId": folder_id,
                "createdAt": self._when(),
                "name": f"k8s-{cluster_id[-6:]}",
                "labels": {"env": rng.choice(_LABEL_VALUES["env"])},
                "status": "RUNNING",
                "health": "HEALTHY",
                "networkId": network_id,
                "master": {
                    "zonalMaster": {"zoneId": zone, "internalV4Address": "10.128.0.3"},
                    "version": "1.30",
                },
                "releaseChannel": "REGULAR",
                "serviceAccountId": self._id("aje"),
                "nodeServiceAccountId": self._id("aje"),
            }
        )
        ids = [cluster_id]
        for index in range(2):
            group_id = self._id("cat")
            cores, fraction, memory = rng.choice(((2, 100, 8), (4, 100, 16), (2, 50, 4)))
            preemptible = index == 1
            size = 2
            folder.items["node_groups"][group_id] = self._compact(
                {
                    "id": group_id,
                    "clusterId": cluster_id,
                    "createdAt": self._when(),
                    "name": f"ng-{index + 1}",
                    "status": "RUNNING",
                    "nodeTemplate": {
                        "platformId": "standard-v3",
                        "resourcesSpec": {
                            "memory": self._i(memory * GIB),
                            "cores": self._i(cores),
                            "coreFraction": self._i(fraction),
                        },
                        "bootDiskSpec": {
                            "diskTypeId": "network-ssd",
                            "diskSize": self._i(64 * GIB),
                        },
                        "schedulingPolicy": {"preemptible": True} if preemptible else {},
                    },
                    "scalePolicy": (
                        {"fixedScale": {"size": self._i(size)}}
                        if index == 0
                        else {
                            "autoScale": {
                                "minSize": self._i(1),
                                "maxSize": self._i(4),
                                "initialSize": self._i(size),
                            }
                        }
                    ),
                    "allocationPolicy": {
                        "locations": [
                            {"zoneId": zone, "subnetId": self._subnet_for(folder_id, zone)["id"]}
                        ]
                    },
                    "instanceGroupId": self._id("cl1"),
                    "version": "1.30",
                }
            )
            ids.append(group_id)
            for _ in range(size):
                ids += self._add_vm(
                    folder_id,
                    zone=zone,
                    shape=(cores, fraction, memory),
                    labels={
                        "managed-kubernetes-cluster-id": cluster_id,
                        "managed-kubernetes-node-group-id": group_id,
                    },
                    preemptible=preemptible,
                    nat=False,
                )
        return ids

    # -- mutation --------------------------------------------------------------------------------

    def mutate(self, *, appear: int = 0, change: int = 0, disappear: int = 0) -> MutationReport:
        """Between two runs: new VMs (with disks and IPs) appear, VMs change status and labels,
        VMs disappear with their boot disks and ephemeral IPs. Kubernetes nodes are left alone."""
        report = MutationReport()
        with self.lock:
            rng = self.rng
            # Pick among the VMs that existed before this mutation, so every id lands in exactly
            # one of the report's lists.
            candidates = sorted(vm for vm in self.vm_folder if not self._is_k8s_node(vm))
            picked = rng.sample(candidates, min(len(candidates), change + disappear))
            folder_ids = list(self.folders)
            # The operation log records each change at the time it is made.
            now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            for _ in range(appear):
                ids = self._add_vm(rng.choice(folder_ids))
                self.folders[self.vm_folder[ids[0]]].items["instances"][ids[0]]["createdAt"] = now
                report.appeared += ids
            for vm_id in picked[:change]:
                vm = self.instance(vm_id)
                assert vm is not None
                starting = vm.get("status") != "RUNNING"
                vm["status"] = "RUNNING" if starting else "STOPPED"
                vm["labels"] = {**vm.get("labels", {}), "revision": str(rng.randrange(10**6))}
                self._log(vm_id, "Update", now, "Update instance")
                if starting:
                    self._log(vm_id, "Start", now, "Start instance")
                else:
                    self._log(vm_id, "Stop", now, "Stop instance")
                report.changed.append(vm_id)
            for vm_id in picked[change:]:
                report.disappeared += self._remove_vm(vm_id)
            self._page_cache.clear()
        return report

    def remove(self, folder_id: str, collection: str, item_id: str) -> dict[str, Any]:
        """Delete one object as its owner would (tests aim a disappearance at one listing)."""
        with self.lock:
            removed = self.folders[folder_id].items[collection].pop(item_id)
            self._page_cache.clear()
        return removed

    def _is_k8s_node(self, vm_id: str) -> bool:
        vm = self.instance(vm_id) or {}
        return "managed-kubernetes-node-group-id" in vm.get("labels", {})

    def _remove_vm(self, vm_id: str) -> list[str]:
        folder_id = self.vm_folder.pop(vm_id)
        self.operations.pop(vm_id, None)
        items = self.folders[folder_id].items
        vm = items["instances"].pop(vm_id)
        removed = [vm_id]
        boot = vm["bootDisk"]["diskId"]
        items["disks"].pop(boot, None)
        removed.append(boot)
        for attached in vm.get("secondaryDisks", ()):
            disk = items["disks"].get(attached["diskId"])
            if disk:
                disk.pop("instanceIds", None)  # detached: proto3 omits the empty list
        nat = vm["networkInterfaces"][0]["primaryV4Address"].get("oneToOneNat")
        if nat:
            for address_id, address in list(items["addresses"].items()):
                if address["externalIpv4Address"]["address"] != nat["address"]:
                    continue
                if address.get("reserved"):
                    address.pop("used", None)  # a static IP outlives its VM, now idle
                else:
                    del items["addresses"][address_id]
                    removed.append(address_id)
        return removed

    # -- helpers ---------------------------------------------------------------------------------

    def _id(self, prefix: str) -> str:
        while True:
            candidate = prefix + "".join(self.rng.choices(_ALPHABET, k=20 - len(prefix) or 17))
            if candidate not in self._ids:
                self._ids.add(candidate)
                return candidate

    def _when(self) -> str:
        moment = _EPOCH + timedelta(seconds=self.rng.randrange(700 * 86400))
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    def _i(self, value: int) -> str | int:
        return value if self.config.int64_as_number else str(value)

    def _next_external_ip(self) -> str:
        self._external_ip += 1
        n = self._external_ip
        return f"158.{160 + n // 65536}.{n // 256 % 256}.{n % 256}"

    @staticmethod
    def _compact(obj: Any) -> Any:
        """Drop proto3 defaults the way the gRPC gateway does: empty strings, lists, maps and
        false/zero scalars vanish, so clients must not rely on their presence."""
        if isinstance(obj, dict):
            out = {}
            for key, value in obj.items():
                value = Inventory._compact(value)
                if value in ("", [], False, 0, "0") and not isinstance(value, dict):
                    continue
                out[key] = value
            return out
        if isinstance(obj, list):
            return [Inventory._compact(v) for v in obj]
        return obj


def _parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment)
