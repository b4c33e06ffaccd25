"""Cost rows enriched from the inventory they link to: region, zone, resource name and type.

A provider's billing data often names the resource but not where it runs or what it is (Yandex
Cloud's billing export has neither region, zone, name nor type); the resource registry knows.
Enrichment happens twice, both as set-based SQL:

- at import (``enrich_import``): the rows of one import run that the loader linked to a resource
  (``x_resource_id``) get the resource's values in the FOCUS columns the source left null, so
  rollups and queries see them;
- at export (``export_columns``): rows still without them are completed from the inventory as
  it is now, so a resource discovered after the import still enriches the export. A row not
  linked at import is matched by its ResourceId within the tenant (a live resource first).

What the source said always wins: only nulls are filled, and RegionName is only derived for a
RegionId that has no name. A row whose resource the inventory does not know keeps ResourceType
null in the table; the export writes its ServiceName there instead (what is known of it: a
resource of that service), because FOCUS requires a ResourceType beside every ResourceId.
"""

from __future__ import annotations

from providers.adapters.base import ResourceType
from providers.adapters.registry import region_names

LINE_ITEMS = "providers_costlineitem"
RESOURCES = "providers_resource"

# Our resource types as FOCUS ResourceType display values.
RESOURCE_TYPE_NAMES: dict[str, str] = {
    ResourceType.VM: "Virtual Machine",
    ResourceType.DISK: "Disk",
    ResourceType.SNAPSHOT: "Disk Snapshot",
    ResourceType.IMAGE: "Disk Image",
    ResourceType.IP_ADDRESS: "Public IP Address",
    ResourceType.BUCKET: "Object Storage Bucket",
    ResourceType.DATABASE_CLUSTER: "Database Cluster",
    ResourceType.DATABASE_HOST: "Database Host",
    ResourceType.K8S_CLUSTER: "Kubernetes Cluster",
    ResourceType.K8S_NODE_GROUP: "Kubernetes Node Group",
    ResourceType.NETWORK: "Virtual Network",
    ResourceType.SUBNET: "Subnet",
    ResourceType.LOAD_BALANCER: "Load Balancer",
    ResourceType.FOLDER: "Folder",
    ResourceType.CLOUD: "Cloud",
}


def _lookup(expression: str, table: dict[str, str]) -> str:
    """SQL mapping ``expression`` through ``table`` (NULL when absent). The table's strings are
    our own constants, inlined as SQL literals so that the expression takes no parameters."""
    if not table:
        return "NULL::text"
    whens = " ".join(f"WHEN {_literal(key)} THEN {_literal(value)}" for key, value in table.items())
    return f"(CASE {expression} {whens} END)"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def enrich_import(cursor, *, tenant_id: int, import_run_id: int, start, end) -> int:
    """Fill the null inventory columns of one import run's linked rows; returns rows updated.

    ``start``/``end`` bound ChargePeriodStart (the load's range), so only its partitions are read.
    """
    region_name = _lookup("r.region", region_names())
    type_name = _lookup("r.type", RESOURCE_TYPE_NAMES)
    cursor.execute(
        f"""
        UPDATE {LINE_ITEMS} c SET
            region_id = CASE WHEN c.region_id IS NULL THEN nullif(r.region, '')
                             ELSE c.region_id END,
            region_name = CASE WHEN c.region_id IS NULL AND r.region <> ''
                               THEN coalesce({region_name}, r.region)
                               ELSE c.region_name END,
            availability_zone = coalesce(c.availability_zone, nullif(r.zone, '')),
            resource_name = coalesce(c.resource_name, nullif(r.name, '')),
            resource_type = coalesce(c.resource_type, {type_name})
          FROM {RESOURCES} r
         WHERE c.x_import_run_id = %s AND c.tenant_id = %s
           AND c.charge_period_start >= %s AND c.charge_period_start < %s
           AND r.id = c.x_resource_id AND r.tenant_id = c.tenant_id
           AND ((c.region_id IS NULL AND r.region <> '')
                OR (c.availability_zone IS NULL AND r.zone <> '')
                OR (c.resource_name IS NULL AND r.name <> '')
                OR (c.resource_type IS NULL AND {type_name} IS NOT NULL))
        """,
        [import_run_id, tenant_id, start, end],
    )
    return cursor.rowcount


def export_columns(tenant_id: int, alias: str = "c") -> tuple[dict[str, str], str, list]:
    """(field -> SQL expression, JOIN clauses, their parameters) for an export over ``alias``.

    The joins add at most one inventory row per line item: the linked resource (``r``), else the
    tenant's resource with the row's ResourceId (``l``, one per provider id, a live one first).
    The JOIN parameters precede the query's WHERE parameters; the expressions take none.
    """
    inventory = {
        column: f"coalesce(nullif(r.{column}, ''), nullif(l.{column}, ''))"
        for column in ("region", "zone", "name", "type")
    }
    region_id = f"coalesce({alias}.region_id, {inventory['region']})"
    region_name = _lookup(region_id, region_names())
    type_name = _lookup(inventory["type"], RESOURCE_TYPE_NAMES)
    expressions = {
        "region_id": region_id,
        "region_name": (
            f"CASE WHEN {alias}.region_id IS NOT NULL AND {alias}.region_name IS NOT NULL "
            f"THEN {alias}.region_name ELSE coalesce({region_name}, {region_id}) END"
        ),
        "availability_zone": f"coalesce({alias}.availability_zone, {inventory['zone']})",
        "resource_name": (
            f"CASE WHEN {alias}.resource_id IS NOT NULL "
            f"THEN coalesce({alias}.resource_name, {inventory['name']}) END"
        ),
        "resource_type": (
            f"CASE WHEN {alias}.resource_id IS NOT NULL "
            f"THEN coalesce({alias}.resource_type, {type_name}, {alias}.service_name) END"
        ),
    }
    joins = (
        f"LEFT JOIN {RESOURCES} r ON r.id = {alias}.x_resource_id "
        f"AND r.tenant_id = {alias}.tenant_id "
        f"LEFT JOIN (SELECT DISTINCT ON (provider_id) provider_id, region, zone, name, type "
        f"FROM {RESOURCES} WHERE tenant_id = %s "
        f"ORDER BY provider_id, deleted_at IS NOT NULL, id) l "
        f"ON {alias}.x_resource_id IS NULL AND l.provider_id = {alias}.resource_id"
    )
    return expressions, joins, [tenant_id]
