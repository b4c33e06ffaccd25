"""OpenStack wire objects (Nova, Cinder, Neutron, Octavia, Glance, Trove, Magnum) to
``ResourceRecord``s, the same for every provider that runs OpenStack.

Tolerant on purpose: numbers may arrive as strings, optional fields may be missing, timestamps
come with or without a zone (Cinder's are naive UTC), and unknown statuses become ``unknown``
while the raw value is kept. Every record carries its project as ``sub_account`` and the
catalog's region name as ``region``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from providers.adapters.base import ResourceRecord, ResourceStatus, ResourceType

RUNNING = ResourceStatus.RUNNING
STOPPED = ResourceStatus.STOPPED
PROVISIONING = ResourceStatus.PROVISIONING
ERROR = ResourceStatus.ERROR
DELETING = ResourceStatus.DELETING

GIB = 1024**3
MIB = 1024**2

SERVER_STATUS = {
    "ACTIVE": RUNNING,
    "BUILD": PROVISIONING,
    "REBUILD": PROVISIONING,
    "RESIZE": RUNNING,
    "VERIFY_RESIZE": RUNNING,
    "MIGRATING": RUNNING,
    "REBOOT": RUNNING,
    "HARD_REBOOT": RUNNING,
    "PASSWORD": RUNNING,
    "SHUTOFF": STOPPED,
    "STOPPED": STOPPED,
    "PAUSED": STOPPED,
    "SUSPENDED": STOPPED,
    "SHELVED": STOPPED,
    "SHELVED_OFFLOADED": STOPPED,
    "RESCUE": RUNNING,
    "ERROR": ERROR,
    "DELETED": DELETING,
    "SOFT_DELETED": DELETING,
}
VOLUME_STATUS = {
    "available": RUNNING,
    "in-use": RUNNING,
    "creating": PROVISIONING,
    "attaching": RUNNING,
    "detaching": RUNNING,
    "extending": RUNNING,
    "downloading": PROVISIONING,
    "uploading": RUNNING,
    "maintenance": RUNNING,
    "error": ERROR,
    "error_deleting": ERROR,
    "error_extending": ERROR,
    "deleting": DELETING,
}
IMAGE_STATUS = {
    "active": RUNNING,
    "queued": PROVISIONING,
    "saving": PROVISIONING,
    "importing": PROVISIONING,
    "killed": ERROR,
    "deactivated": STOPPED,
    "deleted": DELETING,
    "pending_delete": DELETING,
}
IP_STATUS = {"ACTIVE": RUNNING, "DOWN": STOPPED, "ERROR": ERROR}
LB_STATUS = {
    "ACTIVE": RUNNING,
    "PENDING_CREATE": PROVISIONING,
    "PENDING_UPDATE": RUNNING,
    "PENDING_DELETE": DELETING,
    "ERROR": ERROR,
}
DB_STATUS = {
    "ACTIVE": RUNNING,
    "HEALTHY": RUNNING,
    "BUILD": PROVISIONING,
    "CREATING": PROVISIONING,
    "PENDING_CREATE": PROVISIONING,
    "RESIZE": RUNNING,
    "RESTART_REQUIRED": RUNNING,
    "UPDATING": RUNNING,
    "SHUTDOWN": STOPPED,
    "STOPPED": STOPPED,
    "ERROR": ERROR,
    "FAILED": ERROR,
    "DELETING": DELETING,
    "PENDING_DELETE": DELETING,
}
K8S_STATUS = {
    "ACTIVE": RUNNING,
    "RUNNING": RUNNING,
    "CREATE_COMPLETE": RUNNING,
    "UPDATE_COMPLETE": RUNNING,
    "CREATE_IN_PROGRESS": PROVISIONING,
    "PENDING_CREATE": PROVISIONING,
    "PROVISIONING": PROVISIONING,
    "UPDATE_IN_PROGRESS": RUNNING,
    "PENDING_UPDATE": RUNNING,
    "MAINTENANCE": RUNNING,
    "STOPPED": STOPPED,
    "SHUTOFF": STOPPED,
    "ERROR": ERROR,
    "CREATE_FAILED": ERROR,
    "UPDATE_FAILED": ERROR,
    "DELETE_IN_PROGRESS": DELETING,
    "PENDING_DELETE": DELETING,
}


def to_int(value: Any) -> int:
    """An int from a number or a numeric string (``"40"``, ``"40.0"``); 0 for None or ""."""
    if value is None or value == "" or isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    try:
        return int(Decimal(str(value).strip()))
    except (InvalidOperation, ValueError):
        raise ValueError(f"not a number: {str(value)[:40]!r}") from None


def to_datetime(value: Any) -> datetime | None:
    """ISO 8601 with or without a zone (naive: UTC, as Cinder and Nova mean it)."""
    if not value or not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _status(mapping: Mapping[str, str], raw: Any) -> tuple[str, str]:
    raw = str(raw or "")
    return mapping.get(raw, mapping.get(raw.upper(), ResourceStatus.UNKNOWN)), raw


def _labels(metadata: Any) -> dict[str, str]:
    if not isinstance(metadata, Mapping):
        return {}
    return {str(k): str(v) for k, v in metadata.items() if v is not None}


def _props(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v not in (None, "", [], {})}


def _related(**roles: Any) -> dict[str, tuple[str, ...]]:
    return {role: tuple(ids) for role, ids in roles.items() if ids}


def flavor_specs(flavor: Mapping[str, Any] | None) -> dict[str, int]:
    """vcpu, memory_bytes (from MiB) and storage_bytes (from GiB) of a flavor, inline (compute
    2.47+) or from ``/flavors/detail``; what is missing is left out."""
    if not isinstance(flavor, Mapping):
        return {}
    specs = {}
    if flavor.get("vcpus") not in (None, ""):
        specs["vcpu"] = to_int(flavor["vcpus"])
    if flavor.get("ram") not in (None, ""):
        specs["memory_bytes"] = to_int(flavor["ram"]) * MIB
    if to_int(flavor.get("disk")):
        specs["storage_bytes"] = to_int(flavor["disk"]) * GIB
    return specs


def server(
    item: Mapping[str, Any],
    *,
    region: str,
    project_id: str,
    flavors: Mapping[str, Mapping[str, Any]],
) -> ResourceRecord:
    status, raw = _status(SERVER_STATUS, item.get("status"))
    flavor = item.get("flavor") if isinstance(item.get("flavor"), Mapping) else {}
    # Before microversion 2.47 the server names only the flavor's id: look it up.
    known = flavors.get(str(flavor.get("id") or "")) if "vcpus" not in flavor else flavor
    known = known or flavor
    addresses = []
    for network in (
        (item.get("addresses") or {}).values() if isinstance(item.get("addresses"), Mapping) else ()
    ):
        for address in network or ():
            if isinstance(address, Mapping) and address.get("addr"):
                addresses.append(str(address["addr"]))
    volumes = [
        str(v["id"])
        for v in item.get("os-extended-volumes:volumes_attached") or ()
        if isinstance(v, Mapping) and v.get("id")
    ]
    image = item.get("image") if isinstance(item.get("image"), Mapping) else {}
    return ResourceRecord(
        provider_id=str(item["id"]),
        type=ResourceType.VM,
        name=str(item.get("name") or ""),
        region=region,
        zone=item.get("OS-EXT-AZ:availability_zone") or None,
        status=status,
        raw_status=raw,
        specs=flavor_specs(known),
        labels=_labels(item.get("metadata")),
        properties=_props(
            flavor=str(known.get("original_name") or known.get("name") or flavor.get("id") or ""),
            addresses=sorted(addresses),
            image_id=str(image.get("id") or ""),
            key_name=item.get("key_name"),
        ),
        created_at=to_datetime(item.get("created")),
        related_ids=_related(disks=volumes),
        sub_account=project_id,
    )


def volume(item: Mapping[str, Any], *, region: str, project_id: str) -> ResourceRecord:
    status, raw = _status(VOLUME_STATUS, item.get("status"))
    servers = [
        str(a["server_id"])
        for a in item.get("attachments") or ()
        if isinstance(a, Mapping) and a.get("server_id")
    ]
    return ResourceRecord(
        provider_id=str(item["id"]),
        type=ResourceType.DISK,
        name=str(item.get("name") or ""),
        region=region,
        zone=item.get("availability_zone") or None,
        status=status,
        raw_status=raw,
        specs={"storage_bytes": to_int(item.get("size")) * GIB},
        labels=_labels(item.get("metadata")),
        properties=_props(
            volume_type=str(item.get("volume_type") or ""),
            bootable=str(item.get("bootable")).lower() == "true",
        ),
        created_at=to_datetime(item.get("created_at")),
        parent_provider_id=servers[0] if servers else None,
        related_ids=_related(
            source_snapshot=[item["snapshot_id"]] if item.get("snapshot_id") else []
        ),
        sub_account=project_id,
    )


def snapshot(item: Mapping[str, Any], *, region: str, project_id: str) -> ResourceRecord:
    status, raw = _status(VOLUME_STATUS, item.get("status"))
    return ResourceRecord(
        provider_id=str(item["id"]),
        type=ResourceType.SNAPSHOT,
        name=str(item.get("name") or ""),
        region=region,
        status=status,
        raw_status=raw,
        specs={"storage_bytes": to_int(item.get("size")) * GIB},
        labels=_labels(item.get("metadata")),
        created_at=to_datetime(item.get("created_at")),
        related_ids=_related(source_disk=[item["volume_id"]] if item.get("volume_id") else []),
        sub_account=project_id,
    )


def image(item: Mapping[str, Any], *, region: str, project_id: str) -> ResourceRecord:
    status, raw = _status(IMAGE_STATUS, item.get("status"))
    return ResourceRecord(
        provider_id=str(item["id"]),
        type=ResourceType.IMAGE,
        name=str(item.get("name") or ""),
        region=region,
        status=status,
        raw_status=raw,
        specs={"storage_bytes": to_int(item.get("size"))},
        properties=_props(
            visibility=item.get("visibility"),
            disk_format=item.get("disk_format"),
            min_disk_gib=to_int(item.get("min_disk")) or None,
        ),
        created_at=to_datetime(item.get("created_at")),
        sub_account=project_id,
    )


def floating_ip(
    item: Mapping[str, Any], *, region: str, project_id: str, vm_by_port: Mapping[str, str]
) -> ResourceRecord:
    status, raw = _status(IP_STATUS, item.get("status"))
    port = item.get("port_id")
    return ResourceRecord(
        provider_id=str(item["id"]),
        type=ResourceType.IP_ADDRESS,
        name=str(item.get("floating_ip_address") or item.get("description") or ""),
        region=region,
        status=status,
        raw_status=raw,
        properties=_props(
            address=item.get("floating_ip_address"),
            fixed_address=item.get("fixed_ip_address"),
            # An address bound to no port is paid for and unused: the optimization rules'
            # "idle IP" finding reads this.
            idle=not port,
            port_id=port,
        ),
        created_at=to_datetime(item.get("created_at")),
        parent_provider_id=vm_by_port.get(str(port)) if port else None,
        sub_account=project_id,
    )


def load_balancer(item: Mapping[str, Any], *, region: str, project_id: str) -> ResourceRecord:
    status, raw = _status(LB_STATUS, item.get("provisioning_status"))
    return ResourceRecord(
        provider_id=str(item["id"]),
        type=ResourceType.LOAD_BALANCER,
        name=str(item.get("name") or ""),
        region=region,
        zone=item.get("availability_zone") or None,
        status=status,
        raw_status=raw,
        properties=_props(
            vip_address=item.get("vip_address"),
            operating_status=item.get("operating_status"),
            flavor_id=item.get("flavor_id"),
        ),
        created_at=to_datetime(item.get("created_at")),
        sub_account=project_id,
    )


def database(
    item: Mapping[str, Any],
    *,
    region: str,
    project_id: str,
    flavors: Mapping[str, Mapping[str, Any]] | None = None,
) -> ResourceRecord:
    """A managed database: a Trove instance (VK Cloud) or a Selectel DBaaS datastore."""
    status, raw = _status(DB_STATUS, item.get("status"))
    flavor = item.get("flavor") if isinstance(item.get("flavor"), Mapping) else {}
    if "vcpus" not in flavor and flavors:
        flavor = flavors.get(str(flavor.get("id") or item.get("flavor_id") or "")) or flavor
    specs = flavor_specs(flavor)
    volume_size = (
        item.get("volume", {}).get("size") if isinstance(item.get("volume"), Mapping) else None
    )
    if volume_size is not None:
        specs["storage_bytes"] = to_int(volume_size) * GIB
    store = item.get("datastore") if isinstance(item.get("datastore"), Mapping) else {}
    nodes = item.get("node_count")
    return ResourceRecord(
        provider_id=str(item["id"]),
        type=ResourceType.DATABASE_CLUSTER,
        name=str(item.get("name") or ""),
        region=region,
        status=status,
        raw_status=raw,
        specs={**specs, **({"hosts": to_int(nodes)} if nodes not in (None, "") else {})},
        properties=_props(
            engine=str(store.get("type") or item.get("type_id") or item.get("engine") or ""),
            version=str(store.get("version") or item.get("version") or ""),
        ),
        created_at=to_datetime(item.get("created") or item.get("created_at")),
        sub_account=project_id,
    )


def k8s_cluster(item: Mapping[str, Any], *, region: str, project_id: str) -> ResourceRecord:
    status, raw = _status(K8S_STATUS, item.get("status"))
    cluster_id = item.get("uuid") or item["id"]
    nodes = to_int(item.get("node_count")) if item.get("node_count") not in (None, "") else None
    return ResourceRecord(
        provider_id=str(cluster_id),
        type=ResourceType.K8S_CLUSTER,
        name=str(item.get("name") or ""),
        region=region,
        status=status,
        raw_status=raw,
        specs={"nodes": nodes} if nodes is not None else {},
        properties=_props(
            version=str(item.get("kube_version") or item.get("coe_version") or ""),
            master_count=to_int(item.get("master_count")) or None,
        ),
        created_at=to_datetime(item.get("created_at") or item.get("create_time")),
        sub_account=project_id,
    )


def k8s_node_group(
    item: Mapping[str, Any],
    *,
    cluster_id: str,
    region: str,
    project_id: str,
    flavors: Mapping[str, Mapping[str, Any]] | None = None,
) -> ResourceRecord:
    status, raw = _status(K8S_STATUS, item.get("status") or "ACTIVE")
    nodes = item.get("nodes")
    count = len(nodes) if isinstance(nodes, list) else to_int(item.get("node_count"))
    flavor = (flavors or {}).get(str(item.get("flavor_id") or "")) or {}
    specs = {**flavor_specs(flavor), "nodes": count}
    if item.get("volume_gb") not in (None, ""):
        specs["storage_bytes"] = to_int(item["volume_gb"]) * GIB
    return ResourceRecord(
        provider_id=str(item.get("uuid") or item["id"]),
        type=ResourceType.K8S_NODE_GROUP,
        name=str(item.get("name") or ""),
        region=region,
        zone=item.get("availability_zone") or None,
        status=status,
        raw_status=raw,
        specs=specs,
        properties=_props(flavor_id=item.get("flavor_id")),
        created_at=to_datetime(item.get("created_at")),
        parent_provider_id=cluster_id,
        sub_account=project_id,
    )


def project(item: Mapping[str, Any]) -> ResourceRecord:
    enabled = item.get("enabled", True)
    return ResourceRecord(
        provider_id=str(item["id"]),
        type=ResourceType.PROJECT,
        name=str(item.get("name") or ""),
        status=RUNNING if enabled in (True, "true", "True", 1) else STOPPED,
        raw_status="enabled" if enabled in (True, "true", "True", 1) else "disabled",
        properties=_props(url=item.get("url"), custom_url=item.get("custom_url")),
    )
