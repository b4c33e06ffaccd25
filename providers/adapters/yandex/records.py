"""Yandex Cloud wire objects (gRPC-transcoded JSON) to normalized ``ResourceRecord``s.

Three wire rules shape every function here: int64 fields arrive as strings (older pages show bare
numbers, so both are accepted); proto3 omits fields that hold their default (a missing
``preemptible`` is false, a missing list is empty, a missing enum is its zero value); and enums
grow, so an unknown status becomes ``unknown`` while the raw value is kept.

These run once per resource on the hot path of a first sync, so they are plain functions over
dicts with no per-call setup.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from providers.adapters.base import PricingModel, ResourceRecord, ResourceStatus, ResourceType

RUNNING = ResourceStatus.RUNNING
STOPPED = ResourceStatus.STOPPED
PROVISIONING = ResourceStatus.PROVISIONING
ERROR = ResourceStatus.ERROR
DELETING = ResourceStatus.DELETING
UNKNOWN = ResourceStatus.UNKNOWN

INSTANCE_STATUS = {
    "PROVISIONING": PROVISIONING,
    "STARTING": PROVISIONING,
    "RUNNING": RUNNING,
    "RESTARTING": RUNNING,
    "UPDATING": RUNNING,
    "STOPPING": STOPPED,
    "STOPPED": STOPPED,
    "ERROR": ERROR,
    "CRASHED": ERROR,
    "DELETING": DELETING,
}
DISK_STATUS = {"CREATING": PROVISIONING, "READY": RUNNING, "ERROR": ERROR, "DELETING": DELETING}
FOLDER_STATUS = {"ACTIVE": RUNNING, "DELETING": DELETING, "PENDING_DELETION": DELETING}
MDB_CLUSTER_STATUS = {
    "CREATING": PROVISIONING,
    "STARTING": PROVISIONING,
    "RUNNING": RUNNING,
    "UPDATING": RUNNING,
    "STOPPING": STOPPED,
    "STOPPED": STOPPED,
    "ERROR": ERROR,
}
MDB_HOST_HEALTH = {"ALIVE": RUNNING, "DEGRADED": RUNNING, "DEAD": ERROR}
K8S_STATUS = {
    "PROVISIONING": PROVISIONING,
    "STARTING": PROVISIONING,
    "RUNNING": RUNNING,
    "RECONCILING": RUNNING,
    "STOPPING": STOPPED,
    "STOPPED": STOPPED,
    "DELETING": DELETING,
}

K8S_CLUSTER_LABEL = "managed-kubernetes-cluster-id"
K8S_NODE_GROUP_LABEL = "managed-kubernetes-node-group-id"
_EMPTY: Mapping[str, Any] = {}


def to_int(value: Any) -> int:
    """An int64 field: ``"4294967296"``, ``4294967296`` or absent (proto3 default, 0)."""
    if value is None or value == "":
        return 0
    return int(value)


def to_datetime(value: Any) -> datetime | None:
    """RFC 3339 (``Z`` suffix, up to nanoseconds) to an aware datetime; Python 3.11 parses it."""
    return datetime.fromisoformat(value) if value else None


# Region id -> display name, as Yandex Cloud's documentation names its regions.
REGION_NAMES = {"ru-central1": "Russia", "kz1": "Kazakhstan"}


def region_of(zone: str | None) -> str | None:
    """``ru-central1-a`` -> ``ru-central1``."""
    return zone.rpartition("-")[0] or None if zone else None


def _status(mapping: Mapping[str, str], raw: str | None) -> tuple[str, str]:
    raw = raw or ""
    return mapping.get(raw, UNKNOWN), raw


def _specs(**values: int) -> dict[str, int]:
    # Zero means "not reported" for these fields; dropping it keeps specs honest and hashes small.
    return {k: v for k, v in values.items() if v}


# --- resource manager ---------------------------------------------------------------------------


def cloud(item: Mapping[str, Any]) -> ResourceRecord:
    return ResourceRecord(
        provider_id=item["id"],
        type=ResourceType.CLOUD,
        name=item.get("name", ""),
        status=RUNNING,
        labels=item.get("labels") or {},
        properties=_props(organization_id=item.get("organizationId")),
        created_at=to_datetime(item.get("createdAt")),
    )


def folder(item: Mapping[str, Any]) -> ResourceRecord:
    status, raw = _status(FOLDER_STATUS, item.get("status"))
    return ResourceRecord(
        provider_id=item["id"],
        type=ResourceType.FOLDER,
        name=item.get("name", ""),
        status=status,
        raw_status=raw,
        labels=item.get("labels") or {},
        created_at=to_datetime(item.get("createdAt")),
        parent_provider_id=item.get("cloudId"),
        sub_account=item["id"],
    )


# --- compute ------------------------------------------------------------------------------------


def instance(item: Mapping[str, Any]) -> ResourceRecord:
    resources = item.get("resources") or _EMPTY
    status, raw = _status(INSTANCE_STATUS, item.get("status"))
    zone = item.get("zoneId")
    preemptible = (item.get("schedulingPolicy") or _EMPTY).get("preemptible", False)
    disk_ids = [d["diskId"] for d in item.get("secondaryDisks") or () if d.get("diskId")]
    boot = (item.get("bootDisk") or _EMPTY).get("diskId")
    if boot:
        disk_ids.insert(0, boot)
    subnets, internal_ips, external_ips = [], [], []
    for nic in item.get("networkInterfaces") or ():
        if nic.get("subnetId"):
            subnets.append(nic["subnetId"])
        v4 = nic.get("primaryV4Address") or _EMPTY
        if v4.get("address"):
            internal_ips.append(v4["address"])
        nat = v4.get("oneToOneNat") or _EMPTY
        if nat.get("address"):
            external_ips.append(nat["address"])
    labels = item.get("labels") or {}
    related = {"disks": tuple(disk_ids), "subnets": tuple(subnets)}
    if K8S_NODE_GROUP_LABEL in labels:
        related["k8s_node_group"] = (labels[K8S_NODE_GROUP_LABEL],)
    return ResourceRecord(
        provider_id=item["id"],
        type=ResourceType.VM,
        name=item.get("name", ""),
        region=region_of(zone),
        zone=zone,
        status=status,
        raw_status=raw,
        specs=_specs(
            vcpu=to_int(resources.get("cores")),
            # 100 is the real default; an omitted fraction is never "0% of a core".
            core_fraction=to_int(resources.get("coreFraction")) or 100,
            memory_bytes=to_int(resources.get("memory")),
            gpus=to_int(resources.get("gpus")),
        ),
        pricing_model=PricingModel.PREEMPTIBLE if preemptible else PricingModel.ON_DEMAND,
        labels=labels,
        properties=_props(
            platform_id=item.get("platformId"),
            fqdn=item.get("fqdn"),
            internal_ips=internal_ips,
            external_ips=external_ips,
            service_account_id=item.get("serviceAccountId"),
            network_type=(item.get("networkSettings") or _EMPTY).get("type"),
            host_group_id=item.get("hostGroupId"),
            reserved_instance_pool_id=item.get("reservedInstancePoolId"),
            hardware_generation=item.get("hardwareGeneration"),
        ),
        created_at=to_datetime(item.get("createdAt")),
        related_ids=_related(related),
        sub_account=item.get("folderId"),
    )


def disk(item: Mapping[str, Any]) -> ResourceRecord:
    status, raw = _status(DISK_STATUS, item.get("status"))
    zone = item.get("zoneId")
    instance_ids = tuple(item.get("instanceIds") or ())
    return ResourceRecord(
        provider_id=item["id"],
        type=ResourceType.DISK,
        name=item.get("name", ""),
        region=region_of(zone),
        zone=zone,
        status=status,
        raw_status=raw,
        specs=_specs(
            storage_bytes=to_int(item.get("size")),
            block_size_bytes=to_int(item.get("blockSize")),
        ),
        labels=item.get("labels") or {},
        properties=_props(
            disk_type=item.get("typeId"),
            attached=bool(instance_ids),
            product_ids=item.get("productIds"),
        ),
        created_at=to_datetime(item.get("createdAt")),
        parent_provider_id=instance_ids[0] if instance_ids else None,
        related_ids=_related(
            {
                "instances": instance_ids,
                "source_image": _one(item.get("sourceImageId")),
                "source_snapshot": _one(item.get("sourceSnapshotId")),
            }
        ),
        sub_account=item.get("folderId"),
    )


def snapshot(item: Mapping[str, Any]) -> ResourceRecord:
    status, raw = _status(DISK_STATUS, item.get("status"))
    return ResourceRecord(
        provider_id=item["id"],
        type=ResourceType.SNAPSHOT,
        name=item.get("name", ""),
        status=status,
        raw_status=raw,
        specs=_specs(
            storage_bytes=to_int(item.get("storageSize")),
            disk_size_bytes=to_int(item.get("diskSize")),
        ),
        labels=item.get("labels") or {},
        properties=_props(product_ids=item.get("productIds")),
        created_at=to_datetime(item.get("createdAt")),
        related_ids=_related({"source_disk": _one(item.get("sourceDiskId"))}),
        sub_account=item.get("folderId"),
    )


def image(item: Mapping[str, Any]) -> ResourceRecord:
    status, raw = _status(DISK_STATUS, item.get("status"))
    return ResourceRecord(
        provider_id=item["id"],
        type=ResourceType.IMAGE,
        name=item.get("name", ""),
        status=status,
        raw_status=raw,
        specs=_specs(
            storage_bytes=to_int(item.get("storageSize")),
            min_disk_size_bytes=to_int(item.get("minDiskSize")),
        ),
        labels=item.get("labels") or {},
        properties=_props(
            family=item.get("family"),
            os_type=(item.get("os") or _EMPTY).get("type"),
            pooled=item.get("pooled") or None,
            product_ids=item.get("productIds"),
        ),
        created_at=to_datetime(item.get("createdAt")),
        sub_account=item.get("folderId"),
    )


# --- VPC ----------------------------------------------------------------------------------------


def network(item: Mapping[str, Any]) -> ResourceRecord:
    return ResourceRecord(
        provider_id=item["id"],
        type=ResourceType.NETWORK,
        name=item.get("name", ""),
        status=RUNNING,
        labels=item.get("labels") or {},
        properties=_props(default_security_group_id=item.get("defaultSecurityGroupId")),
        created_at=to_datetime(item.get("createdAt")),
        sub_account=item.get("folderId"),
    )


def subnet(item: Mapping[str, Any]) -> ResourceRecord:
    zone = item.get("zoneId")
    return ResourceRecord(
        provider_id=item["id"],
        type=ResourceType.SUBNET,
        name=item.get("name", ""),
        region=region_of(zone),
        zone=zone,
        status=RUNNING,
        labels=item.get("labels") or {},
        properties=_props(
            v4_cidr_blocks=item.get("v4CidrBlocks"), route_table_id=item.get("routeTableId")
        ),
        created_at=to_datetime(item.get("createdAt")),
        parent_provider_id=item.get("networkId"),
        sub_account=item.get("folderId"),
    )


def address(item: Mapping[str, Any], vm_by_ip: Mapping[str, str]) -> ResourceRecord:
    """``vm_by_ip`` maps the folder's VM IPs to VM ids: the address API says only *whether* an
    address is used, so the binding is recovered from the instances' network interfaces."""
    external = item.get("externalIpv4Address")
    internal = item.get("internalIpv4Address")
    spec = external or internal or _EMPTY
    ip = spec.get("address")
    zone = spec.get("zoneId")
    return ResourceRecord(
        provider_id=item["id"],
        type=ResourceType.IP_ADDRESS,
        name=item.get("name", ""),
        region=region_of(zone),
        zone=zone,
        status=RUNNING,
        labels=item.get("labels") or {},
        properties=_props(
            address=ip,
            ip_type=item.get("type") or ("EXTERNAL" if external else "INTERNAL"),
            ip_version=item.get("ipVersion"),
            reserved=bool(item.get("reserved")),
            used=bool(item.get("used")),
            deletion_protection=bool(item.get("deletionProtection")),
            subnet_id=spec.get("subnetId"),
        ),
        created_at=to_datetime(item.get("createdAt")),
        parent_provider_id=vm_by_ip.get(ip) if ip else None,
        sub_account=item.get("folderId"),
    )


# --- Object Storage -----------------------------------------------------------------------------


def bucket(item: Mapping[str, Any]) -> ResourceRecord:
    return ResourceRecord(
        provider_id=item.get("id") or item["name"],
        type=ResourceType.BUCKET,
        name=item["name"],
        status=RUNNING,
        specs=_specs(max_size_bytes=to_int(item.get("maxSize"))),
        labels=_bucket_labels(item.get("tags")),
        properties=_props(
            default_storage_class=item.get("defaultStorageClass"),
            versioning=item.get("versioning"),
            anonymous_access=dict(item.get("anonymousAccessFlags") or {}) or None,
        ),
        created_at=to_datetime(item.get("createdAt")),
        sub_account=item.get("folderId"),
    )


def _bucket_labels(tags: Any) -> dict[str, str]:
    # Buckets carry tags as a list of {key, value}; the list call usually omits them.
    return {t["key"]: t.get("value", "") for t in tags or () if isinstance(t, dict) and "key" in t}


# --- Managed databases --------------------------------------------------------------------------


def db_cluster(item: Mapping[str, Any], engine: str) -> ResourceRecord:
    config = item.get("config") or _EMPTY
    # ClickHouse nests its resources one level deeper than PostgreSQL and MySQL.
    resources = config.get("resources") or (config.get("clickhouse") or _EMPTY).get("resources")
    resources = resources or _EMPTY
    status, raw = _status(MDB_CLUSTER_STATUS, item.get("status"))
    return ResourceRecord(
        provider_id=item["id"],
        type=ResourceType.DATABASE_CLUSTER,
        name=item.get("name", ""),
        status=status,
        raw_status=raw,
        specs=_specs(storage_bytes=to_int(resources.get("diskSize"))),
        labels=item.get("labels") or {},
        properties=_props(
            engine=engine,
            version=config.get("version"),
            environment=item.get("environment"),
            health=item.get("health"),
            resource_preset_id=resources.get("resourcePresetId"),
            disk_type=resources.get("diskTypeId"),
            deletion_protection=bool(item.get("deletionProtection")),
        ),
        created_at=to_datetime(item.get("createdAt")),
        related_ids=_related({"network": _one(item.get("networkId"))}),
        sub_account=item.get("folderId"),
    )


def db_host(
    item: Mapping[str, Any],
    engine: str,
    folder_id: str,
    presets: Mapping[str, tuple[int, int]],
) -> ResourceRecord:
    """A host has no id but its FQDN, which is also what the billing export names it by."""
    resources = item.get("resources") or _EMPTY
    preset = resources.get("resourcePresetId")
    cores, memory = presets.get(preset, (0, 0))
    status, raw = _status(MDB_HOST_HEALTH, item.get("health"))
    zone = item.get("zoneId")
    return ResourceRecord(
        provider_id=item["name"],
        type=ResourceType.DATABASE_HOST,
        name=item["name"],
        region=region_of(zone),
        zone=zone,
        status=status,
        raw_status=raw,
        specs=_specs(
            vcpu=cores,
            memory_bytes=memory,
            storage_bytes=to_int(resources.get("diskSize")),
        ),
        properties=_props(
            engine=engine,
            role=item.get("role"),
            host_type=item.get("type"),
            shard_name=item.get("shardName"),
            resource_preset_id=preset,
            disk_type=resources.get("diskTypeId"),
            assign_public_ip=bool(item.get("assignPublicIp")),
        ),
        parent_provider_id=item.get("clusterId"),
        related_ids=_related({"subnet": _one(item.get("subnetId"))}),
        sub_account=folder_id,
    )


# --- Managed Kubernetes -------------------------------------------------------------------------


def k8s_cluster(item: Mapping[str, Any]) -> ResourceRecord:
    master = item.get("master") or _EMPTY
    zonal = master.get("zonalMaster")
    regional = master.get("regionalMaster")
    zone = (zonal or _EMPTY).get("zoneId")
    status, raw = _status(K8S_STATUS, item.get("status"))
    return ResourceRecord(
        provider_id=item["id"],
        type=ResourceType.K8S_CLUSTER,
        name=item.get("name", ""),
        region=(regional or _EMPTY).get("regionId") or region_of(zone),
        zone=zone,
        status=status,
        raw_status=raw,
        labels=item.get("labels") or {},
        properties=_props(
            version=master.get("version"),
            master_type="regional" if regional else "zonal" if zonal else None,
            release_channel=item.get("releaseChannel"),
            health=item.get("health"),
            service_account_id=item.get("serviceAccountId"),
            node_service_account_id=item.get("nodeServiceAccountId"),
        ),
        created_at=to_datetime(item.get("createdAt")),
        related_ids=_related({"network": _one(item.get("networkId"))}),
        sub_account=item.get("folderId"),
    )


def k8s_node_group(item: Mapping[str, Any], folder_id: str) -> ResourceRecord:
    template = item.get("nodeTemplate") or _EMPTY
    resources = template.get("resourcesSpec") or _EMPTY
    boot = template.get("bootDiskSpec") or _EMPTY
    scale = item.get("scalePolicy") or _EMPTY
    fixed = scale.get("fixedScale")
    auto = scale.get("autoScale") or _EMPTY
    locations = (item.get("allocationPolicy") or _EMPTY).get("locations") or ()
    zones = sorted({loc["zoneId"] for loc in locations if loc.get("zoneId")})
    preemptible = (template.get("schedulingPolicy") or _EMPTY).get("preemptible", False)
    status, raw = _status(K8S_STATUS, item.get("status"))
    return ResourceRecord(
        provider_id=item["id"],
        type=ResourceType.K8S_NODE_GROUP,
        name=item.get("name", ""),
        region=region_of(zones[0]) if zones else None,
        zone=zones[0] if len(zones) == 1 else None,
        status=status,
        raw_status=raw,
        specs=_specs(
            vcpu=to_int(resources.get("cores")),
            core_fraction=to_int(resources.get("coreFraction")) or 100,
            memory_bytes=to_int(resources.get("memory")),
            gpus=to_int(resources.get("gpus")),
            storage_bytes=to_int(boot.get("diskSize")),
            node_count=to_int((fixed or _EMPTY).get("size")),
            node_count_min=to_int(auto.get("minSize")),
            node_count_max=to_int(auto.get("maxSize")),
        ),
        pricing_model=PricingModel.PREEMPTIBLE if preemptible else PricingModel.ON_DEMAND,
        labels=item.get("labels") or {},
        properties=_props(
            platform_id=template.get("platformId"),
            disk_type=boot.get("diskTypeId"),
            version=item.get("version"),
            scaling="fixed" if fixed else "auto" if auto else None,
            zones=zones,
            instance_group_id=item.get("instanceGroupId"),
        ),
        created_at=to_datetime(item.get("createdAt")),
        parent_provider_id=item.get("clusterId"),
        sub_account=folder_id,
    )


# --- helpers ------------------------------------------------------------------------------------


def _one(value: str | None) -> tuple[str, ...]:
    return (value,) if value else ()


def _related(roles: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    return {role: ids for role, ids in roles.items() if ids}


def _props(**values: Any) -> dict[str, Any]:
    # Absent and empty are the same thing on the wire (proto3), so they are the same thing here.
    return {k: v for k, v in values.items() if v not in (None, "", [], {})}
