"""OpenStack services discovery reads: listing-unit keys, catalog types and resource types.

Catalog types are aliases tried in order (Cinder is ``volumev3`` at most clouds, ``block-storage``
or ``volume`` at some); a provider passes its own where they differ (Selectel's managed databases
and Kubernetes are ``dbaas`` and ``mks`` in its catalog, VK Cloud's are Trove's ``database`` and
Magnum's ``container-infra``).
"""

from __future__ import annotations

from collections.abc import Mapping

from providers.adapters.base import ResourceType
from providers.adapters.listing import ServiceInfo

CATALOG_TYPES: dict[str, tuple[str, ...]] = {
    "compute": ("compute",),
    "block_storage": ("volumev3", "block-storage", "volume"),
    "network": ("network",),
    "load_balancer": ("load-balancer",),
    "image": ("image",),
    "database": ("database",),
    "kubernetes": ("container-infra",),
}

TYPES: dict[str, tuple[str, ...]] = {
    "compute": (ResourceType.VM,),
    "block_storage": (ResourceType.DISK, ResourceType.SNAPSHOT),
    "network": (ResourceType.IP_ADDRESS,),
    "load_balancer": (ResourceType.LOAD_BALANCER,),
    "image": (ResourceType.IMAGE,),
    "database": (ResourceType.DATABASE_CLUSTER,),
    "kubernetes": (ResourceType.K8S_CLUSTER, ResourceType.K8S_NODE_GROUP),
}


def openstack_services(names: Mapping[str, str], role: str = "reader") -> dict[str, ServiceInfo]:
    """ServiceInfo per unit key, in the provider's words (``names``: key -> display name)."""
    return {key: ServiceInfo(names.get(key, key), role) for key in CATALOG_TYPES}
