"""The portal's resource inventory: a filtered, sortable list of the tenant's resources and a
detail page per resource (specs, labels, relations, timeline of changes, daily CPU).

Lists use ``providers.filtersets.ResourceFilterSet`` (the API's filterset), narrowed to the current
tenant; every read goes through ``for_user`` querysets. Nothing here writes.
"""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo

import django_filters
from django.core.paginator import Paginator
from django.db.models import Case, F, When
from django.db.models.functions import Greatest
from django.shortcuts import get_object_or_404, render
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from core.portal.tenancy import portal_view
from providers.adapters.base import PricingModel, ResourceStatus, ResourceType
from providers.adapters.yandex.metrics import CPU_OF_GUARANTEED, CPU_UTILIZATION
from providers.filtersets import ResourceFilterSet
from providers.models import Resource, ResourceEvent, ResourceMetricDaily, ResourceOperation

PAGE_SIZE = 50
EVENTS_PAGE_SIZE = 20
OPERATIONS_SHOWN = 50
CHILDREN_SHOWN = 50
METRIC_DAYS = 30

# The portal's words for the registry's normalized values.
TYPE_LABELS = {
    ResourceType.VM: _("Virtual machine"),
    ResourceType.DISK: _("Disk"),
    ResourceType.SNAPSHOT: _("Snapshot"),
    ResourceType.IMAGE: _("Image"),
    ResourceType.IP_ADDRESS: _("IP address"),
    ResourceType.BUCKET: _("Bucket"),
    ResourceType.DATABASE_CLUSTER: _("Database cluster"),
    ResourceType.DATABASE_HOST: _("Database host"),
    ResourceType.K8S_CLUSTER: _("Kubernetes cluster"),
    ResourceType.K8S_NODE_GROUP: _("Kubernetes node group"),
    ResourceType.NETWORK: _("Network"),
    ResourceType.SUBNET: _("Subnet"),
    ResourceType.LOAD_BALANCER: _("Load balancer"),
    ResourceType.FOLDER: _("Folder"),
    ResourceType.CLOUD: _("Cloud"),
    ResourceType.PROJECT: _("Project"),
    ResourceType.ACCOUNT: _("Hosting account"),
    ResourceType.SITE: _("Site"),
    ResourceType.DOMAIN: _("Domain"),
    ResourceType.DATABASE: _("Database"),
    ResourceType.BACKUP: _("Backup"),
    ResourceType.CONTAINER_REGISTRY: _("Container registry"),
}
STATUS_LABELS = {
    ResourceStatus.RUNNING: (pgettext_lazy("resource status", "Running"), "badge-ok"),
    ResourceStatus.STOPPED: (_("Stopped"), "badge-muted"),
    ResourceStatus.PROVISIONING: (_("Provisioning"), "badge-soft"),
    ResourceStatus.ERROR: (_("Error"), "badge-danger"),
    ResourceStatus.DELETING: (_("Deleting"), "badge-warn"),
    ResourceStatus.UNKNOWN: (_("Unknown"), "badge-muted"),
}
PRICING_LABELS = {
    PricingModel.ON_DEMAND: _("On demand"),
    PricingModel.PREEMPTIBLE: _("Preemptible"),
    PricingModel.COMMITTED: _("Committed use"),
}
SPEC_LABELS = {
    "vcpu": _("vCPU"),
    "core_fraction": _("Core fraction"),
    "memory_bytes": _("Memory"),
    "gpus": _("GPUs"),
    "storage_bytes": _("Storage"),
    "disk_size_bytes": _("Disk size"),
    "min_disk_size_bytes": _("Minimum disk size"),
    "max_size_bytes": _("Maximum size"),
    "block_size_bytes": _("Block size"),
    "node_count": _("Nodes"),
    "node_count_min": _("Nodes, minimum"),
    "node_count_max": _("Nodes, maximum"),
    "expires_on": _("Expires on"),
}
FIELD_LABELS = {
    "type": _("Type"),
    "name": _("Name"),
    "region": _("Region"),
    "zone": _("Zone"),
    "sub_account": _("Folder / project"),
    "status": _("Status"),
    "raw_status": _("Provider status"),
    "specs": _("Specs"),
    "pricing_model": _("Pricing model"),
    "labels": _("Labels"),
    "properties": _("Properties"),
    "related_ids": _("Related"),
    "parent_provider_id": _("Parent"),
    "provider_created_at": _("Created at the provider"),
}
EVENT_LABELS = {
    ResourceEvent.Kind.APPEARED: (_("Appeared"), "badge-ok"),
    ResourceEvent.Kind.CHANGED: (_("Changed"), "badge-soft"),
    ResourceEvent.Kind.DISAPPEARED: (_("Disappeared"), "badge-danger"),
    ResourceEvent.Kind.REAPPEARED: (_("Reappeared"), "badge-warn"),
}
METRICS = [
    (CPU_OF_GUARANTEED, _("CPU of the guaranteed share, %")),
    (CPU_UTILIZATION, _("CPU of full vCPUs, %")),
]
# ?sort= values: the ORM ordering, always ending with a unique column so pages never overlap.
SORTS = {
    "name": ("name", "id"),
    "-name": ("-name", "-id"),
    "type": ("type", "name", "id"),
    "-type": ("-type", "-name", "-id"),
    "last_seen": ("seen_at", "id"),
    "-last_seen": ("-seen_at", "-id"),
}
DEFAULT_SORT = "type"


class PortalResourceFilterSet(ResourceFilterSet):
    """The API's resource filters for one tenant, plus ``label_value`` to pair with a single
    ``label_key`` (two plain inputs are easier to fill in than ``label=key:value``)."""

    label_value = django_filters.CharFilter(method="filter_label_value")

    def __init__(self, data=None, queryset=None, *, request=None, tenant=None, **kwargs):
        super().__init__(data, queryset, request=request, **kwargs)
        # The base class scopes choices to every tenant the user may see; the portal shows one.
        self.filters.pop("tenant", None)
        for name in ("connection", "parent"):
            self.filters[name].queryset = self.filters[name].queryset.filter(tenant=tenant)

    def filter_label_value(self, queryset, name, value):
        keys = self.form.cleaned_data.get("label_key") or []
        if len(keys) != 1:  # a value belongs to exactly one key
            return queryset
        return queryset.filter(labels__contains={keys[0]: value})


def _with_effective_last_seen(queryset):
    # Unchanged resources are not rewritten by a sync: a live resource was last seen by its
    # connection's last complete listing (see Resource.effective_last_seen_at).
    return queryset.annotate(
        seen_at=Case(
            When(
                deleted_at__isnull=True,
                then=Greatest("last_seen_at", "connection__last_full_sync_at"),
            ),
            default=F("last_seen_at"),
        )
    )


def _decorate(resource: Resource) -> Resource:
    resource.type_label = TYPE_LABELS.get(resource.type, resource.type)
    label, resource.badge = STATUS_LABELS.get(resource.status, (resource.status, ""))
    resource.status_label = label
    resource.label_items = sorted((resource.labels or {}).items())
    return resource


def _render(request, template: str, context: dict):
    with timezone.override(zoneinfo.ZoneInfo(request.portal_tenant.time_zone)):
        return render(request, template, context)


def _choices(queryset, field: str) -> list[str]:
    return list(
        queryset.exclude(**{field: ""}).order_by(field).values_list(field, flat=True).distinct()
    )


@portal_view
def resources(request):
    tenant = request.portal_tenant
    tenant_resources = Resource.objects.for_user(request.user, "view").for_tenant(tenant)
    data = request.GET.copy()
    data.setdefault("deleted", "false")  # live resources unless asked otherwise
    filterset = PortalResourceFilterSet(
        data,
        queryset=_with_effective_last_seen(tenant_resources.select_related("connection")),
        request=request,
        tenant=tenant,
    )
    sort = data.get("sort") if data.get("sort") in SORTS else DEFAULT_SORT
    page = Paginator(filterset.qs.order_by(*SORTS[sort]), PAGE_SIZE).get_page(data.get("page"))
    for resource in page:
        _decorate(resource)
    context = {
        "page": page,
        "filterset": filterset,
        "values": data,
        "sort": sort,
        "type_choices": [(t.value, TYPE_LABELS[t]) for t in ResourceType],
        "status_choices": [(s.value, label) for s, (label, _badge) in STATUS_LABELS.items()],
        "connection_choices": list(filterset.filters["connection"].queryset.order_by("name")),
        "regions": _choices(tenant_resources, "region"),
        "zones": _choices(tenant_resources, "zone"),
        "filtered": any(k not in ("sort", "page", "deleted") for k in request.GET)
        or data.get("deleted") != "false",
    }
    return _render(request, "portal/resources.html", context)


# --- detail -----------------------------------------------------------------------------------


def _spec_value(key: str, value):
    if isinstance(value, int) and key.endswith("_bytes"):
        return filesizeformat(value)
    if key == "core_fraction":
        return f"{value}%"
    return value


def spec_rows(specs: dict) -> list[tuple[str, object]]:
    known = [k for k in SPEC_LABELS if k in specs]
    other = sorted(k for k in specs if k not in SPEC_LABELS)
    return [(SPEC_LABELS.get(k, k), _spec_value(k, specs[k])) for k in [*known, *other]]


def _show(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, list | tuple):
        return ", ".join(_show(v) for v in value) or "—"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    return str(value)


def property_rows(properties: dict) -> list[tuple[str, str]]:
    return [(key, _show(value)) for key, value in sorted((properties or {}).items())]


def change_rows(changes: dict) -> list[tuple[str, str, str]]:
    """An event's ``{field: [old, new]}`` as (what, before, after) rows; JSON fields (labels,
    specs, properties) are compared key by key so a one-label change reads as one line."""
    rows = []
    for field, pair in sorted((changes or {}).items()):
        old, new = pair if isinstance(pair, list) and len(pair) == 2 else (None, pair)
        label = FIELD_LABELS.get(field, field)
        if isinstance(old, dict) or isinstance(new, dict):
            old, new = old or {}, new or {}
            for key in sorted(set(old) | set(new)):
                if old.get(key) != new.get(key):
                    name = SPEC_LABELS.get(key, key) if field == "specs" else key
                    before, after = old.get(key), new.get(key)
                    if field == "specs":
                        before = None if before is None else _spec_value(key, before)
                        after = None if after is None else _spec_value(key, after)
                    rows.append((f"{label}: {name}", _show(before), _show(after)))
        else:
            rows.append((str(label), _show(old), _show(new)))
    return rows


def _related(resource: Resource, scoped) -> list[dict]:
    """The provider ids a resource names (disks, subnets, source image, …), resolved to rows of
    the same connection where the registry has them."""
    roles = {role: ids for role, ids in (resource.related_ids or {}).items() if ids}
    wanted = {pid for ids in roles.values() for pid in ids}
    known = {
        r.provider_id: r
        for r in scoped.filter(connection_id=resource.connection_id, provider_id__in=wanted)
    }
    return [
        {
            "role": role.replace("_", " ").capitalize(),
            "items": [{"id": pid, "resource": known.get(pid)} for pid in ids],
        }
        for role, ids in sorted(roles.items())
    ]


def sparkline(days: list[dt.date], points: list[ResourceMetricDaily], width=600, height=120):
    """SVG geometry for daily avg (a line) inside a min-max band, drawn on a fixed day axis so
    gaps in the data stay visible as gaps in time."""
    top = max([100.0, *(p.max for p in points)])
    pad = 4
    index = {day: i for i, day in enumerate(days)}
    span = max(len(days) - 1, 1)

    def xy(day, value):
        x = index[day] * width / span
        y = pad + (height - 2 * pad) * (1 - value / top)
        return f"{x:.1f},{y:.1f}"

    placed = [p for p in points if p.day in index]
    return {
        "width": width,
        "height": height,
        "top": round(top),
        "line": " ".join(xy(p.day, p.avg) for p in placed),
        "band": " ".join(
            [xy(p.day, p.max) for p in placed] + [xy(p.day, p.min) for p in reversed(placed)]
        ),
        "dots": [{"xy": xy(p.day, p.avg).split(","), "point": p} for p in placed],
    }


def metric_panels(resource: Resource, user) -> list[dict]:
    today = timezone.localdate()
    days = [today - dt.timedelta(days=n) for n in range(METRIC_DAYS - 1, -1, -1)]
    rows = list(
        ResourceMetricDaily.objects.for_user(user, "view")
        .filter(resource=resource, metric__in=[m for m, _label in METRICS], day__gte=days[0])
        .order_by("metric", "day")
    )
    panels = []
    for metric, label in METRICS:
        points = [r for r in rows if r.metric == metric]
        if not points:
            continue
        weights = sum(p.samples for p in points) or len(points)
        average = sum(p.avg * (p.samples or 1) for p in points) / weights
        panels.append(
            {
                "metric": metric,
                "label": label,
                "points": points,
                "average": average,
                "peak": max(p.max for p in points),
                "chart": sparkline(days, points),
                "first_day": days[0],
                "last_day": days[-1],
            }
        )
    return panels


@portal_view
def resource_detail(request, pk: int):
    scoped = Resource.objects.for_user(request.user, "view").for_tenant(request.portal_tenant)
    resource = _decorate(get_object_or_404(scoped.select_related("connection", "parent"), pk=pk))
    children = scoped.filter(parent=resource).order_by("type", "name", "id")
    shown = [_decorate(c) for c in children[: CHILDREN_SHOWN + 1]]
    events = Paginator(
        ResourceEvent.objects.for_user(request.user, "view")
        .filter(resource=resource)
        .order_by("-at", "-id"),
        EVENTS_PAGE_SIZE,
    ).get_page(request.GET.get("events"))
    for event in events:
        event.label, event.badge = EVENT_LABELS.get(event.kind, (event.kind, ""))
        event.rows = change_rows(event.changes)
    # The provider's own log of who did what (operation logs), newest first, read-only.
    operations = list(
        ResourceOperation.objects.for_user(request.user, "view")
        .filter(tenant_id=resource.tenant_id, resource=resource)
        .order_by("-at", "-id")[: OPERATIONS_SHOWN + 1]
    )
    context = {
        "resource": resource,
        "operations": operations[:OPERATIONS_SHOWN],
        "operations_more": len(operations) > OPERATIONS_SHOWN,
        "parent": _decorate(resource.parent) if resource.parent_id else None,
        "children": shown[:CHILDREN_SHOWN],
        # Counted only when there are more than are shown (a cluster may have many hosts).
        "children_total": children.count() if len(shown) > CHILDREN_SHOWN else len(shown),
        "related": _related(resource, scoped),
        "specs": spec_rows(resource.specs or {}),
        "properties": property_rows(resource.properties),
        "pricing_label": PRICING_LABELS.get(resource.pricing_model, resource.pricing_model),
        "events": events,
        "metrics": metric_panels(resource, request.user),
        "connection": resource.connection,
    }
    return _render(request, "portal/resource_detail.html", context)
