"""Filtersets for allocation's lists (API and portal); model choices are scoped by the base."""

from __future__ import annotations

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import Q

from allocation.models import (
    AllocatedCost,
    AllocationRule,
    AllocationRun,
    BusinessMetric,
    BusinessMetricValue,
    BusinessUnit,
    CostCenter,
    Environment,
    Feature,
    Invoice,
    MappingRun,
    PriceBook,
    PriceBookCharge,
    PriceBookRule,
    Project,
    RequiredTag,
    TagAlias,
    TagRule,
    VirtualTag,
)
from allocation.models.metrics import DIMENSION_CHOICES
from core.api.base import TenantScopedFilterSet
from core.filters import IntegerFilter, UtcDateTimeFilter
from core.models import Tenant

User = get_user_model()


class _DimensionFilterSet(TenantScopedFilterSet):
    tenant = django_filters.ModelChoiceFilter(queryset=Tenant.objects.all())
    owner = django_filters.ModelChoiceFilter(queryset=User.objects.all())
    q = django_filters.CharFilter(method="search", label="Search name or code")

    def search(self, queryset, name, value):
        return queryset.filter(name__icontains=value) | queryset.filter(code__icontains=value)


class BusinessUnitFilterSet(_DimensionFilterSet):
    class Meta:
        model = BusinessUnit
        fields = ["tenant", "owner", "code", "q"]


class ProjectFilterSet(_DimensionFilterSet):
    business_unit = django_filters.ModelChoiceFilter(queryset=BusinessUnit.objects.all())

    class Meta:
        model = Project
        fields = ["tenant", "owner", "code", "business_unit", "q"]


class FeatureFilterSet(_DimensionFilterSet):
    project = django_filters.ModelChoiceFilter(queryset=Project.objects.all())
    business_unit = django_filters.ModelChoiceFilter(
        field_name="project__business_unit", queryset=BusinessUnit.objects.all()
    )

    class Meta:
        model = Feature
        fields = ["tenant", "owner", "code", "project", "business_unit", "q"]


class EnvironmentFilterSet(_DimensionFilterSet):
    class Meta:
        model = Environment
        fields = ["tenant", "owner", "code", "q"]


class CostCenterFilterSet(_DimensionFilterSet):
    class Meta:
        model = CostCenter
        fields = ["tenant", "owner", "code", "q"]


class TagAliasFilterSet(TenantScopedFilterSet):
    tenant = django_filters.ModelChoiceFilter(queryset=Tenant.objects.all())
    kind = django_filters.ChoiceFilter(choices=TagAlias.Kind.choices)
    key = django_filters.CharFilter(lookup_expr="iexact")
    canonical = django_filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = TagAlias
        fields = ["tenant", "kind", "key", "canonical"]


class RequiredTagFilterSet(TenantScopedFilterSet):
    tenant = django_filters.ModelChoiceFilter(queryset=Tenant.objects.all())
    key = django_filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = RequiredTag
        fields = ["tenant", "key"]


class VirtualTagFilterSet(TenantScopedFilterSet):
    tenant = django_filters.ModelChoiceFilter(queryset=Tenant.objects.all())
    key = django_filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = VirtualTag
        fields = ["tenant", "key"]


class TagRuleFilterSet(TenantScopedFilterSet):
    tenant = django_filters.ModelChoiceFilter(queryset=Tenant.objects.all())
    enabled = django_filters.BooleanFilter()
    business_unit = django_filters.ModelChoiceFilter(queryset=BusinessUnit.objects.all())
    project = django_filters.ModelChoiceFilter(queryset=Project.objects.all())
    feature = django_filters.ModelChoiceFilter(queryset=Feature.objects.all())
    environment = django_filters.ModelChoiceFilter(queryset=Environment.objects.all())
    cost_center = django_filters.ModelChoiceFilter(queryset=CostCenter.objects.all())
    virtual_tag = django_filters.ModelChoiceFilter(queryset=VirtualTag.objects.all())
    created_by = django_filters.ModelChoiceFilter(queryset=User.objects.all())
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Name contains")

    class Meta:
        model = TagRule
        fields = [
            "tenant",
            "enabled",
            "business_unit",
            "project",
            "feature",
            "environment",
            "cost_center",
            "virtual_tag",
            "created_by",
            "q",
        ]


class MappingRunFilterSet(TenantScopedFilterSet):
    tenant = django_filters.ModelChoiceFilter(queryset=Tenant.objects.all())
    status = django_filters.ChoiceFilter(choices=MappingRun.Status.choices)
    trigger = django_filters.ChoiceFilter(choices=MappingRun.Trigger.choices)
    created_by = django_filters.ModelChoiceFilter(queryset=User.objects.all())
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = MappingRun
        fields = ["tenant", "status", "trigger", "created_by"]


class BusinessMetricFilterSet(TenantScopedFilterSet):
    tenant = django_filters.ModelChoiceFilter(queryset=Tenant.objects.all())
    dimension = django_filters.ChoiceFilter(choices=DIMENSION_CHOICES)
    enabled = django_filters.BooleanFilter()
    last_pull_status = django_filters.ChoiceFilter(choices=BusinessMetric.PullStatus.choices)
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Name contains")

    class Meta:
        model = BusinessMetric
        fields = ["tenant", "dimension", "enabled", "last_pull_status", "q"]


class BusinessMetricValueFilterSet(TenantScopedFilterSet):
    tenant = django_filters.ModelChoiceFilter(queryset=Tenant.objects.all())
    metric = django_filters.ModelChoiceFilter(queryset=BusinessMetric.objects.all())
    day_from = django_filters.DateFilter(field_name="day", lookup_expr="gte")
    day_to = django_filters.DateFilter(field_name="day", lookup_expr="lte")
    dimension_value_id = IntegerFilter()

    class Meta:
        model = BusinessMetricValue
        fields = ["tenant", "metric", "day_from", "day_to", "dimension_value_id"]


class PriceBookFilterSet(TenantScopedFilterSet):
    tenant = django_filters.ModelChoiceFilter(queryset=Tenant.objects.all())
    currency = django_filters.CharFilter(lookup_expr="iexact")
    auto_invoice = django_filters.BooleanFilter()
    valid_on = django_filters.DateFilter(method="valid", label="Valid on this day")
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Name contains")

    def valid(self, queryset, name, value):
        return queryset.filter(valid_from__lte=value).filter(
            Q(valid_to__isnull=True) | Q(valid_to__gte=value)
        )

    class Meta:
        model = PriceBook
        fields = ["tenant", "currency", "auto_invoice", "valid_on", "q"]


class PriceBookRuleFilterSet(TenantScopedFilterSet):
    tenant = django_filters.ModelChoiceFilter(queryset=Tenant.objects.all())
    price_book = django_filters.ModelChoiceFilter(queryset=PriceBook.objects.all())
    provider_name = django_filters.CharFilter(lookup_expr="iexact")
    service_name = django_filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = PriceBookRule
        fields = ["tenant", "price_book", "provider_name", "service_name"]


class PriceBookChargeFilterSet(TenantScopedFilterSet):
    tenant = django_filters.ModelChoiceFilter(queryset=Tenant.objects.all())
    price_book = django_filters.ModelChoiceFilter(queryset=PriceBook.objects.all())
    kind = django_filters.ChoiceFilter(choices=PriceBookCharge.Kind.choices)
    month = django_filters.DateFilter()

    class Meta:
        model = PriceBookCharge
        fields = ["tenant", "price_book", "kind", "month"]


class InvoiceFilterSet(TenantScopedFilterSet):
    tenant = django_filters.ModelChoiceFilter(queryset=Tenant.objects.all())
    status = django_filters.ChoiceFilter(choices=Invoice.Status.choices)
    period_start = django_filters.DateFilter()
    period_from = django_filters.DateFilter(field_name="period_start", lookup_expr="gte")
    period_to = django_filters.DateFilter(field_name="period_start", lookup_expr="lte")
    number = django_filters.CharFilter(lookup_expr="iexact")
    price_book = django_filters.ModelChoiceFilter(queryset=PriceBook.objects.all())
    supersedes = django_filters.ModelChoiceFilter(queryset=Invoice.objects.all())
    issued_by = django_filters.ModelChoiceFilter(queryset=User.objects.all())

    class Meta:
        model = Invoice
        fields = [
            "tenant",
            "status",
            "period_start",
            "period_from",
            "period_to",
            "number",
            "price_book",
            "supersedes",
            "issued_by",
        ]


class AllocationRuleFilterSet(TenantScopedFilterSet):
    tenant = django_filters.ModelChoiceFilter(queryset=Tenant.objects.all())
    enabled = django_filters.BooleanFilter()
    dimension = django_filters.ChoiceFilter(choices=AllocationRule.Dimension.choices)
    method = django_filters.CharFilter()
    created_by = django_filters.ModelChoiceFilter(queryset=User.objects.all())
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label="Name contains")

    class Meta:
        model = AllocationRule
        fields = ["tenant", "enabled", "dimension", "method", "created_by"]


class AllocationRunFilterSet(TenantScopedFilterSet):
    tenant = django_filters.ModelChoiceFilter(queryset=Tenant.objects.all())
    status = django_filters.ChoiceFilter(choices=AllocationRun.Status.choices)
    trigger = django_filters.ChoiceFilter(choices=AllocationRun.Trigger.choices)
    created_by = django_filters.ModelChoiceFilter(queryset=User.objects.all())
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = AllocationRun
        fields = ["tenant", "status", "trigger", "created_by"]


class AllocatedCostFilterSet(TenantScopedFilterSet):
    tenant = django_filters.ModelChoiceFilter(queryset=Tenant.objects.all())
    rule = django_filters.ModelChoiceFilter(queryset=AllocationRule.objects.all())
    kind = django_filters.ChoiceFilter(choices=AllocatedCost.Kind.choices)
    day_after = django_filters.DateFilter(field_name="day", lookup_expr="gte", label="From day")
    day_before = django_filters.DateFilter(field_name="day", lookup_expr="lte", label="To day")
    target_id = IntegerFilter(min_value=1)
    billing_currency = django_filters.CharFilter(max_length=3)

    class Meta:
        model = AllocatedCost
        fields = ["tenant", "rule", "kind", "target_id", "billing_currency"]
