"""The Yandex Cloud services discovery reads, in words, with the viewer role each needs.

Keys are the listing-unit service names the adapter records (and the simulator's permission
knobs accept). Roles are from Yandex Cloud's role reference
(https://yandex.cloud/en/docs/iam/roles-reference, "Service roles"): each service's ``*.viewer``
role lets a service account list its resources; the primitive ``viewer`` role on a folder or
cloud covers them all.
"""

from __future__ import annotations

from providers.adapters.listing import ServiceInfo

SERVICES: dict[str, ServiceInfo] = {
    "resource_manager": ServiceInfo("Resource Manager", "resource-manager.viewer"),
    "compute": ServiceInfo("Compute Cloud", "compute.viewer"),
    "vpc": ServiceInfo("Virtual Private Cloud", "vpc.viewer"),
    "storage": ServiceInfo("Object Storage", "storage.viewer"),
    "managed-postgresql": ServiceInfo(
        "Managed Service for PostgreSQL", "managed-postgresql.viewer"
    ),
    "managed-mysql": ServiceInfo("Managed Service for MySQL", "managed-mysql.viewer"),
    "managed-clickhouse": ServiceInfo(
        "Managed Service for ClickHouse", "managed-clickhouse.viewer"
    ),
    "kubernetes": ServiceInfo("Managed Kubernetes", "k8s.viewer"),
    "monitoring": ServiceInfo("Monitoring", "monitoring.viewer"),
    # The balance: read on the billing account, not in a folder.
    "billing": ServiceInfo("Billing", "billing.accounts.viewer"),
}


def db_service(engine: str) -> str:
    return f"managed-{engine}"
