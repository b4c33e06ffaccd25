"""The Selectel services discovery reads, in words, with the role that lets a service user read
them (Selectel's "Viewer" role on the account or the project; billing needs the billing role)."""

from __future__ import annotations

from providers.adapters.listing import ServiceInfo

PROVIDER = "Selectel"

SERVICES: dict[str, ServiceInfo] = {
    "projects": ServiceInfo("Projects (Cloud Management API)", "Viewer on the account"),
    "compute": ServiceInfo("Cloud servers", "Viewer on the project"),
    "block_storage": ServiceInfo("Network volumes", "Viewer on the project"),
    "network": ServiceInfo("Public IP addresses", "Viewer on the project"),
    "load_balancer": ServiceInfo("Load balancers", "Viewer on the project"),
    "image": ServiceInfo("Images", "Viewer on the project"),
    "database": ServiceInfo("Managed databases", "Viewer on the project"),
    "kubernetes": ServiceInfo("Managed Kubernetes", "Viewer on the project"),
    "billing": ServiceInfo("Billing", "Billing role (account administrator or billing user)"),
}
NAMES = {key: info.name for key, info in SERVICES.items()}
# Selectel's catalog names its managed databases and Kubernetes with its own types [I]: they are
# only walked where the catalog has them (a region without them simply has none).
CATALOG_TYPES = {"database": ("dbaas",), "kubernetes": ("mks",)}
