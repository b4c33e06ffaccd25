"""The VK Cloud services discovery reads, in words, with the role that reads them."""

from __future__ import annotations

from providers.adapters.listing import ServiceInfo

PROVIDER = "VK Cloud"

SERVICES: dict[str, ServiceInfo] = {
    "identity": ServiceInfo("Project (Keystone)", "a member of the project"),
    "compute": ServiceInfo("Cloud Servers (Nova)", "Viewer in the project"),
    "block_storage": ServiceInfo("Disks (Cinder)", "Viewer in the project"),
    "network": ServiceInfo("Floating IPs (Neutron)", "Viewer in the project"),
    "load_balancer": ServiceInfo("Load balancers (Octavia)", "Viewer in the project"),
    "image": ServiceInfo("Images (Glance)", "Viewer in the project"),
    "database": ServiceInfo("Cloud Databases (Trove)", "Viewer in the project"),
    "kubernetes": ServiceInfo("Cloud Containers (Magnum)", "Viewer in the project"),
    "billing": ServiceInfo("Billing (balance)", "Project owner or billing administrator"),
}
NAMES = {key: info.name for key, info in SERVICES.items()}
REGION_NAMES = {"RegionOne": "Moscow", "kz": "Kazakhstan"}
