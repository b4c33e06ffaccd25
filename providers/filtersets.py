"""Filtersets for connections, resources, their history and metrics (API and portal lists).

Conventions: ``*_after`` is inclusive (>=), ``*_before`` exclusive (<), so consecutive windows
never overlap. Every model-choice filter is scoped by ``TenantScopedFilterSet``.
"""

from __future__ import annotations

import datetime as dt

import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.api.base import TenantScopedFilterSet
from core.filters import IntegerFilter, UtcDateTimeFilter
from core.models import Tenant
from providers.models import (
    BalanceSnapshot,
    Connection,
    CostLineItem,
    CostSource,
    CostSourceObject,
    ImportRun,
    ProviderType,
    Resource,
    ResourceEvent,
    ResourceMetric,
    ResourceMetricDaily,
    SyncRun,
)
from providers.models.balances import KIND_CHOICES as BALANCE_KIND_CHOICES
from providers.models.resources import PRICING_CHOICES, STATUS_CHOICES, TYPE_CHOICES

# Raw samples are for drill-down; longer periods come from the daily rollups.
MAX_RAW_METRIC_WINDOW = dt.timedelta(days=31)
_BOUNDED = _(
    "Required: raw samples are served only for a bounded window; give both “after” and "
    "“before” (ISO 8601, at most 31 days apart)."
)


class _RepeatableField(forms.Field):
    """A query parameter that may repeat (``?label=a:b&label=c:d``); cleans to a list."""

    widget = forms.MultipleHiddenInput  # reads every value of the parameter (QueryDict.getlist)
    accepts_empty = True  # text: an empty value is no value (core.api.filtering)

    def to_python(self, value):
        if value in self.empty_values:
            return []
        values = value if isinstance(value, list | tuple) else [value]
        return [str(v).strip() for v in values if str(v).strip()]


class LabelField(_RepeatableField):
    def to_python(self, value):
        pairs = []
        for item in super().to_python(value):
            key, sep, label_value = item.partition(":")
            if not sep or not key:
                # The input goes in params, never into the message: it may hold a "%".
                raise forms.ValidationError(
                    _("Use key:value, e.g. label=env:prod (got %(item)r)."),
                    code="invalid",
                    params={"item": item},
                )
            pairs.append((key, label_value))
        return pairs


class LabelFilter(django_filters.Filter):
    """``label=key:value`` (repeatable, all must match) as JSONB containment: uses the GIN index."""

    field_class = LabelField

    def filter(self, qs, value):
        for key, label_value in value or []:
            qs = qs.filter(**{f"{self.field_name}__contains": {key: label_value}})
        return qs


class LabelKeyFilter(django_filters.Filter):
    """``label_key=key`` (repeatable, all must be present) as JSONB ``?&``: uses the GIN index."""

    field_class = _RepeatableField

    def filter(self, qs, value):
        return qs.filter(**{f"{self.field_name}__has_keys": value}) if value else qs


class ConnectionFilterSet(TenantScopedFilterSet):
    tenant = django_filters.ModelChoiceFilter(queryset=Tenant.objects.all())
    provider = django_filters.ChoiceFilter(choices=ProviderType.choices)
    status = django_filters.ChoiceFilter(choices=Connection.Status.choices)
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Name contains")

    class Meta:
        model = Connection
        fields = ["tenant", "provider", "status", "q"]


class ResourceFilterSet(TenantScopedFilterSet):
    tenant = django_filters.ModelChoiceFilter(queryset=Tenant.objects.all())
    connection = django_filters.ModelChoiceFilter(queryset=Connection.objects.all())
    provider = django_filters.ChoiceFilter(choices=ProviderType.choices)
    type = django_filters.MultipleChoiceFilter(choices=TYPE_CHOICES)
    status = django_filters.MultipleChoiceFilter(choices=STATUS_CHOICES)
    pricing_model = django_filters.ChoiceFilter(choices=PRICING_CHOICES)
    region = django_filters.CharFilter()
    zone = django_filters.CharFilter()
    sub_account = django_filters.CharFilter()
    created_by = django_filters.CharFilter(
        label="Created by (from the provider's operation log; exact)"
    )
    parent = django_filters.ModelChoiceFilter(queryset=Resource.objects.all())
    deleted = django_filters.BooleanFilter(
        field_name="deleted_at", lookup_expr="isnull", exclude=True, label="Deleted at the provider"
    )
    label = LabelFilter(field_name="labels", label="Label key:value (repeatable)")
    label_key = LabelKeyFilter(field_name="labels", label="Has label key (repeatable)")
    q = django_filters.CharFilter(method="search", label="Search name or provider id")
    seen_after = UtcDateTimeFilter(method="filter_seen_after")
    seen_before = UtcDateTimeFilter(method="filter_seen_before")

    class Meta:
        model = Resource
        fields = [
            "tenant",
            "connection",
            "provider",
            "type",
            "status",
            "pricing_model",
            "region",
            "zone",
            "sub_account",
            "created_by",
            "parent",
            "deleted",
        ]

    def search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(provider_id__icontains=value))

    # "Seen" is the effective last-seen time: a live resource was seen by its connection's last
    # complete listing even though unchanged rows are not rewritten (see Resource).
    def filter_seen_after(self, queryset, name, value):
        return queryset.filter(
            Q(last_seen_at__gte=value)
            | Q(deleted_at__isnull=True, connection__last_full_sync_at__gte=value)
        )

    def filter_seen_before(self, queryset, name, value):
        return queryset.filter(last_seen_at__lt=value).exclude(
            deleted_at__isnull=True, connection__last_full_sync_at__gte=value
        )


class ResourceEventFilterSet(TenantScopedFilterSet):
    tenant = django_filters.ModelChoiceFilter(queryset=Tenant.objects.all())
    resource = django_filters.ModelChoiceFilter(queryset=Resource.objects.all())
    connection = django_filters.ModelChoiceFilter(
        field_name="resource__connection", queryset=Connection.objects.all()
    )
    sync_run = django_filters.ModelChoiceFilter(queryset=SyncRun.objects.all())
    kind = django_filters.MultipleChoiceFilter(choices=ResourceEvent.Kind.choices)
    at_after = UtcDateTimeFilter(field_name="at", lookup_expr="gte")
    at_before = UtcDateTimeFilter(field_name="at", lookup_expr="lt")

    class Meta:
        model = ResourceEvent
        fields = ["tenant", "resource", "connection", "sync_run", "kind"]


class SyncRunFilterSet(TenantScopedFilterSet):
    tenant = django_filters.ModelChoiceFilter(queryset=Tenant.objects.all())
    connection = django_filters.ModelChoiceFilter(queryset=Connection.objects.all())
    status = django_filters.ChoiceFilter(choices=SyncRun.Status.choices)
    kind = django_filters.ChoiceFilter(choices=SyncRun.Kind.choices)
    trigger = django_filters.ChoiceFilter(choices=SyncRun.Trigger.choices)
    complete = django_filters.BooleanFilter(label="Listing was complete")
    started_after = UtcDateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_before = UtcDateTimeFilter(field_name="started_at", lookup_expr="lt")

    class Meta:
        model = SyncRun
        fields = ["tenant", "connection", "status", "kind", "trigger", "complete"]


class ResourceMetricDailyFilterSet(TenantScopedFilterSet):
    tenant = django_filters.ModelChoiceFilter(queryset=Tenant.objects.all())
    resource = django_filters.ModelChoiceFilter(queryset=Resource.objects.all())
    connection = django_filters.ModelChoiceFilter(
        field_name="resource__connection", queryset=Connection.objects.all()
    )
    metric = django_filters.CharFilter()
    day_after = django_filters.DateFilter(field_name="day", lookup_expr="gte")
    day_before = django_filters.DateFilter(field_name="day", lookup_expr="lt")

    class Meta:
        model = ResourceMetricDaily
        fields = ["tenant", "resource", "connection", "metric"]


class _RawMetricForm(forms.Form):
    def clean(self):
        cleaned = super().clean()
        after, before = cleaned.get("after"), cleaned.get("before")
        if after and before:
            if before <= after:
                self.add_error("before", _("“before” must be later than “after”."))
            elif before - after > MAX_RAW_METRIC_WINDOW:
                self.add_error(
                    "before",
                    _(
                        "Raw samples are served for at most %(days)d days per request; use "
                        "/api/v1/resource-metrics-daily/ for longer periods."
                    )
                    % {"days": MAX_RAW_METRIC_WINDOW.days},
                )
        return cleaned


class ResourceMetricFilterSet(TenantScopedFilterSet):
    """Raw samples of ONE resource (the URL names it) in a bounded window.

    The raw table is partitioned by month and can hold billions of rows: an unbounded query would
    scan every partition, so both ends of the window are required and the span is capped.
    """

    metric = django_filters.CharFilter()
    after = UtcDateTimeFilter(
        field_name="ts",
        lookup_expr="gte",
        required=True,
        label="Window start (inclusive)",
        error_messages={"required": _BOUNDED},
    )
    before = UtcDateTimeFilter(
        field_name="ts",
        lookup_expr="lt",
        required=True,
        label="Window end (exclusive)",
        error_messages={"required": _BOUNDED},
    )

    class Meta:
        model = ResourceMetric
        fields = ["metric"]
        form = _RawMetricForm


# --- cost data ------------------------------------------------------------------------------
# Line items are for drill-down: the table is partitioned by month and may hold billions of rows,
# so every list is bounded to a charge-period window the partitions can prune to.
MAX_LINE_ITEM_WINDOW = dt.timedelta(days=93)


def current_utc_month() -> tuple[dt.datetime, dt.datetime]:
    from django.utils import timezone

    now = timezone.now().astimezone(dt.UTC)
    start = dt.datetime(now.year, now.month, 1, tzinfo=dt.UTC)
    return start, (start + dt.timedelta(days=32)).replace(day=1)


class _ChargePeriodForm(forms.Form):
    """Without a window the current UTC month is listed; a window is at most 93 days."""

    def clean(self):
        cleaned = super().clean()
        if {"charge_period_after", "charge_period_before"} & set(self.errors):
            return cleaned
        after, before = cleaned.get("charge_period_after"), cleaned.get("charge_period_before")
        if after is None and before is None:
            cleaned["charge_period_after"], cleaned["charge_period_before"] = current_utc_month()
        elif after is None or before is None:
            missing = "charge_period_after" if after is None else "charge_period_before"
            self.add_error(
                missing,
                _(
                    "Give both “charge_period_after” and “charge_period_before” (ISO 8601, at "
                    "most 93 days apart), or neither for the current month."
                ),
            )
        elif before <= after:
            self.add_error(
                "charge_period_before",
                _("“charge_period_before” must be later than “charge_period_after”."),
            )
        elif before - after > MAX_LINE_ITEM_WINDOW:
            self.add_error(
                "charge_period_before",
                _(
                    "Line items are listed for at most %(days)d days per request; use "
                    "/api/v1/cost-query/ for totals over longer periods."
                )
                % {"days": MAX_LINE_ITEM_WINDOW.days},
            )
        return cleaned


class CostLineItemFilterSet(TenantScopedFilterSet):
    """FOCUS line items. ``charge_period_after`` (>=) and ``charge_period_before`` (<) bound
    ChargePeriodStart: both or neither (the current UTC month), at most 93 days apart."""

    tenant = django_filters.ModelChoiceFilter(queryset=Tenant.objects.all())
    charge_period_after = UtcDateTimeFilter(
        field_name="charge_period_start", lookup_expr="gte", label="ChargePeriodStart from (>=)"
    )
    charge_period_before = UtcDateTimeFilter(
        field_name="charge_period_start", lookup_expr="lt", label="ChargePeriodStart before (<)"
    )
    provider_name = django_filters.CharFilter()
    service_name = django_filters.CharFilter()
    service_category = django_filters.CharFilter()
    region_id = django_filters.CharFilter()
    sub_account_id = django_filters.CharFilter()
    resource_id = django_filters.CharFilter()
    charge_category = django_filters.CharFilter()
    billing_currency = django_filters.CharFilter()
    x_source_key = django_filters.CharFilter()
    x_connection = django_filters.ModelChoiceFilter(queryset=Connection.objects.all())
    x_import_run = django_filters.ModelChoiceFilter(queryset=ImportRun.objects.all())
    x_resource = django_filters.ModelChoiceFilter(queryset=Resource.objects.all())
    x_business_unit_id = IntegerFilter()
    x_project_id = IntegerFilter()
    x_feature_id = IntegerFilter()
    x_environment_id = IntegerFilter()
    x_cost_center_id = IntegerFilter()
    x_estimated = django_filters.BooleanFilter(
        label="Estimated (inventory x price list), not billed by the provider"
    )
    tag = LabelFilter(field_name="tags", label="Tag key:value (repeatable, all must match)")
    tag_key = LabelKeyFilter(field_name="tags", label="Has tag key (repeatable)")

    class Meta:
        model = CostLineItem
        fields = [
            "tenant",
            "provider_name",
            "service_name",
            "service_category",
            "region_id",
            "sub_account_id",
            "resource_id",
            "charge_category",
            "billing_currency",
            "x_source_key",
            "x_connection",
            "x_import_run",
            "x_resource",
        ]
        form = _ChargePeriodForm


class ImportRunFilterSet(TenantScopedFilterSet):
    tenant = django_filters.ModelChoiceFilter(queryset=Tenant.objects.all())
    connection = django_filters.ModelChoiceFilter(queryset=Connection.objects.all())
    status = django_filters.ChoiceFilter(choices=ImportRun.Status.choices)
    source = django_filters.ChoiceFilter(choices=ImportRun.Source.choices)
    source_key = django_filters.CharFilter()
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = ImportRun
        fields = ["tenant", "connection", "status", "source", "source_key"]


# --- cost sources ---------------------------------------------------------------------------
class CostSourceFilterSet(TenantScopedFilterSet):
    tenant = django_filters.ModelChoiceFilter(queryset=Tenant.objects.all())
    kind = django_filters.ChoiceFilter(choices=CostSource.Kind.choices)
    status = django_filters.ChoiceFilter(choices=CostSource.Status.choices)
    connection = django_filters.ModelChoiceFilter(queryset=Connection.objects.all())
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Name contains")

    class Meta:
        model = CostSource
        fields = ["tenant", "kind", "status", "connection", "q"]


class CostSourceObjectFilterSet(TenantScopedFilterSet):
    """The bucket objects of ONE source (the URL names it)."""

    outcome = django_filters.ChoiceFilter(choices=CostSourceObject.Outcome.choices)
    key_prefix = django_filters.CharFilter(
        field_name="key", lookup_expr="startswith", label="Key starts with"
    )

    class Meta:
        model = CostSourceObject
        fields = ["outcome", "key_prefix"]


class BalanceSnapshotFilterSet(TenantScopedFilterSet):
    """The balance time series: ``collected_after`` (>=) and ``collected_before`` (<)."""

    tenant = django_filters.ModelChoiceFilter(queryset=Tenant.objects.all())
    connection = django_filters.ModelChoiceFilter(queryset=Connection.objects.all())
    kind = django_filters.ChoiceFilter(choices=BALANCE_KIND_CHOICES)
    currency = django_filters.CharFilter()
    account_id = django_filters.CharFilter()
    collected_after = UtcDateTimeFilter(field_name="collected_at", lookup_expr="gte")
    collected_before = UtcDateTimeFilter(field_name="collected_at", lookup_expr="lt")

    class Meta:
        model = BalanceSnapshot
        fields = ["tenant", "connection", "kind", "currency", "account_id"]
