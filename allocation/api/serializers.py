"""Serializers for dimensions, tag settings, virtual tags, mapping rules and runs.

Related fields (tenant, owner, parents, rule targets) list only what the caller can see (the
scoped bases); the services check the rest (owners are members, parents and targets are of the
same tenant, conditions are well formed).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from rest_framework import serializers

from allocation.conditions import describe
from allocation.models import (
    DIMENSION_MODELS,
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
    InvoiceLine,
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
from core.api.base import TenantScopedSerializer
from core.api.tenant_choices import TenantChoiceMixin
from core.capabilities import Capability
from core.models import Tenant
from providers.models import ImportRun

User = get_user_model()


class _TenantOwned(TenantChoiceMixin, TenantScopedSerializer):
    tenant_choice_capability = Capability.MANAGE_ALLOCATION
    tenant = serializers.PrimaryKeyRelatedField(queryset=Tenant.objects.all())

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None:
            fields["tenant"].read_only = True  # rows never move between tenants
        return fields


class _DimensionSerializer(_TenantOwned):
    owner = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(),
        required=False,
        allow_null=True,
        help_text="A member of the tenant who answers for these costs.",
    )
    owner_name = serializers.SerializerMethodField()

    base_fields = [
        "id",
        "tenant",
        "name",
        "code",
        "description",
        "owner",
        "owner_name",
        "created_at",
        "updated_at",
    ]

    def get_owner_name(self, obj) -> str:
        return obj.owner.get_username() if obj.owner_id else ""


class BusinessUnitSerializer(_DimensionSerializer):
    class Meta:
        model = BusinessUnit
        fields = _DimensionSerializer.base_fields
        read_only_fields = ["created_at", "updated_at"]


class ProjectSerializer(_DimensionSerializer):
    business_unit = serializers.PrimaryKeyRelatedField(queryset=BusinessUnit.objects.all())

    class Meta:
        model = Project
        fields = [*_DimensionSerializer.base_fields, "business_unit"]
        read_only_fields = ["created_at", "updated_at"]


class FeatureSerializer(_DimensionSerializer):
    project = serializers.PrimaryKeyRelatedField(queryset=Project.objects.all())

    class Meta:
        model = Feature
        fields = [*_DimensionSerializer.base_fields, "project"]
        read_only_fields = ["created_at", "updated_at"]


class EnvironmentSerializer(_DimensionSerializer):
    class Meta:
        model = Environment
        fields = _DimensionSerializer.base_fields
        read_only_fields = ["created_at", "updated_at"]


class CostCenterSerializer(_DimensionSerializer):
    class Meta:
        model = CostCenter
        fields = _DimensionSerializer.base_fields
        read_only_fields = ["created_at", "updated_at"]


class TagAliasSerializer(_TenantOwned):
    """``kind`` key: ``alias`` (any case) becomes the key ``canonical``. ``kind`` value: under
    the (normalised) key ``key``, the value ``alias`` becomes ``canonical``."""

    class Meta:
        model = TagAlias
        fields = ["id", "tenant", "kind", "key", "alias", "canonical", "created_at"]
        read_only_fields = ["created_at"]


class RequiredTagSerializer(_TenantOwned):
    class Meta:
        model = RequiredTag
        fields = ["id", "tenant", "key", "description", "created_at"]
        read_only_fields = ["created_at"]


class VirtualTagSerializer(_TenantOwned):
    class Meta:
        model = VirtualTag
        fields = ["id", "tenant", "key", "description", "created_at"]
        read_only_fields = ["created_at"]


CONDITIONS_HELP = (
    "All must hold (empty: every row). Each is an object: "
    '{"field": "service", "op": "in", "values": ["Compute Cloud"]}, '
    '{"field": "resource_name", "op": "regex", "value": "^web-", "ignore_case": true}, '
    '{"field": "tag", "key": "team", "op": "missing"}. Fields: provider, connection (ids), '
    "billing_account, sub_account (id or name), service, service_category, sku, region, "
    "resource_type, resource_name, resource_id, charge_category, creator, tag (with key). "
    "Ops: in, not_in, regex, not_regex; tags also exists, missing."
)


class TagRuleSerializer(_TenantOwned):
    """An ordered mapping rule: on rows matching every condition it sets the targets, unless an
    earlier rule already set that output (hierarchy, environment, cost center, each virtual
    tag). Saving re-applies the rules to the history (see /mapping-runs/)."""

    conditions = serializers.JSONField(help_text=CONDITIONS_HELP)
    position = serializers.IntegerField(
        required=False, min_value=1, help_text="1 = tried first; default: after the last rule."
    )
    business_unit = serializers.PrimaryKeyRelatedField(
        queryset=BusinessUnit.objects.all(), required=False, allow_null=True
    )
    project = serializers.PrimaryKeyRelatedField(
        queryset=Project.objects.all(), required=False, allow_null=True
    )
    feature = serializers.PrimaryKeyRelatedField(
        queryset=Feature.objects.all(), required=False, allow_null=True
    )
    environment = serializers.PrimaryKeyRelatedField(
        queryset=Environment.objects.all(), required=False, allow_null=True
    )
    cost_center = serializers.PrimaryKeyRelatedField(
        queryset=CostCenter.objects.all(), required=False, allow_null=True
    )
    virtual_tag = serializers.PrimaryKeyRelatedField(
        queryset=VirtualTag.objects.all(), required=False, allow_null=True
    )
    conditions_text = serializers.SerializerMethodField()

    class Meta:
        model = TagRule
        fields = [
            "id",
            "tenant",
            "name",
            "position",
            "enabled",
            "conditions",
            "conditions_text",
            "description",
            "business_unit",
            "project",
            "feature",
            "environment",
            "cost_center",
            "virtual_tag",
            "virtual_tag_value",
            "virtual_tag_from_key",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def get_conditions_text(self, obj) -> list[str]:
        try:
            return [describe(c) for c in obj.conditions or []]
        except (KeyError, TypeError):
            return []


class TagRulePreviewSerializer(TagRuleSerializer):
    """A rule as it would be saved (unsaved), and the month to preview it on."""

    period = serializers.RegexField(
        r"^[0-9]{4}-(0[1-9]|1[0-2])$",
        required=False,
        help_text="YYYY-MM (default: last month in the tenant's time zone).",
    )

    class Meta(TagRuleSerializer.Meta):
        fields = [*TagRuleSerializer.Meta.fields, "period"]


class MappingRunSerializer(_TenantOwned):
    """A re-application of the tenant's rules to its cost history (or to [first_day,
    last_day]), with progress while it runs."""

    class Meta:
        model = MappingRun
        fields = [
            "id",
            "tenant",
            "status",
            "trigger",
            "reason",
            "first_day",
            "last_day",
            "progress",
            "rows_changed",
            "days_refreshed",
            "error",
            "created_at",
            "started_at",
            "finished_at",
            "duration_ms",
        ]
        read_only_fields = [
            "status",
            "trigger",
            "reason",
            "progress",
            "rows_changed",
            "days_refreshed",
            "error",
            "created_at",
            "started_at",
            "finished_at",
            "duration_ms",
        ]


# --- shared costs ---------------------------------------------------------------------------------
class AllocationRuleSerializer(_TenantOwned):
    """A shared-cost rule: the cost rows matching its conditions (the first matching rule's pool)
    are split every day over ``targets`` — values of ``dimension`` — by ``method``: even, fixed
    (each target's ``percent``, adding up to 100), direct_cost (each target's own cost that day),
    usage_metric (a daily resource ``metric`` of the target's resources), or any basis another
    app registers. Shares are whole minor units; the rest, and pools of days without any basis,
    stay unallocated. Saving recomputes the history (see /allocation-runs/)."""

    conditions = serializers.JSONField(help_text=CONDITIONS_HELP)
    position = serializers.IntegerField(
        required=False, min_value=1, help_text="1 = tried first; default: after the last rule."
    )
    method = serializers.CharField(
        required=False,
        max_length=32,
        help_text="even, fixed, direct_cost, usage_metric (or a registered basis).",
    )
    targets = serializers.JSONField(
        help_text='[{"id": 12}, {"id": 13}] or, for fixed, [{"id": 12, "percent": "60"}, …].'
    )
    conditions_text = serializers.SerializerMethodField()

    class Meta:
        model = AllocationRule
        fields = [
            "id",
            "tenant",
            "name",
            "position",
            "enabled",
            "conditions",
            "conditions_text",
            "description",
            "dimension",
            "method",
            "targets",
            "metric",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def get_conditions_text(self, obj) -> list[str]:
        try:
            return [describe(c) for c in obj.conditions or []]
        except (KeyError, TypeError):
            return []


class AllocationRunSerializer(_TenantOwned):
    """A recomputation of the tenant's shared costs over its history (or [first_day,
    last_day]), with progress while it runs."""

    class Meta:
        model = AllocationRun
        fields = [
            "id",
            "tenant",
            "status",
            "trigger",
            "reason",
            "first_day",
            "last_day",
            "progress",
            "rows_written",
            "days_allocated",
            "error",
            "created_at",
            "started_at",
            "finished_at",
            "duration_ms",
        ]
        read_only_fields = [
            "status",
            "trigger",
            "reason",
            "progress",
            "rows_written",
            "days_allocated",
            "error",
            "created_at",
            "started_at",
            "finished_at",
            "duration_ms",
        ]


class AllocatedCostSerializer(TenantScopedSerializer):
    """One day's shared-cost result row: ``pool`` (taken away, negative), ``share`` (one
    target's part, whole minor units) or ``unallocated`` (the rest). Per rule, day and currency
    they sum to zero. Amounts are Decimal strings in ``billing_currency``."""

    class Meta:
        model = AllocatedCost
        fields = [
            "id",
            "tenant",
            "day",
            "rule",
            "kind",
            "target_id",
            "ratio",
            "basis",
            "billing_currency",
            "provider_name",
            "service_name",
            "charge_category",
            "x_business_unit_id",
            "x_project_id",
            "x_feature_id",
            "x_environment_id",
            "x_cost_center_id",
            "billed_cost",
            "effective_cost",
            "list_cost",
            "vat_amount",
        ]
        read_only_fields = fields


# --- unit economics --------------------------------------------------------------------------
class BusinessMetricSerializer(_TenantOwned):
    """A business metric (orders, active users …). With ``dimension``, every point names a
    value of that dimension (``dimension_value``: its id). ``pull_url``: an HTTP JSON endpoint
    pulled every ``pull_interval`` seconds (customers: public HTTPS hosts only); the answer, at
    ``pull_path``, is a list of {"date", "value"[, "dimension_value"]}."""

    class Meta:
        model = BusinessMetric
        fields = [
            "id",
            "tenant",
            "name",
            "unit",
            "description",
            "dimension",
            "pull_url",
            "pull_path",
            "pull_interval",
            "enabled",
            "last_pull_at",
            "last_pull_status",
            "last_pull_error",
            "last_pull_points",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "last_pull_at",
            "last_pull_status",
            "last_pull_error",
            "last_pull_points",
            "created_at",
            "updated_at",
        ]


class BusinessMetricValueSerializer(TenantScopedSerializer):
    class Meta:
        model = BusinessMetricValue
        fields = ["id", "tenant", "metric", "day", "dimension_value_id", "value", "updated_at"]
        read_only_fields = fields


class MetricPointsSerializer(serializers.Serializer):
    points = serializers.ListField(
        child=serializers.DictField(),
        allow_empty=False,
        max_length=50_000,
        help_text='[{"date": "2026-01-31", "value": "1200", "dimension_value": 7}, …]',
    )


class MetricUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="CSV with a header: date,value[,dimension_value].")
    # The same choices as cost uploads' (providers): one enum in the schema.
    policy = serializers.ChoiceField(
        choices=ImportRun.BadRowPolicy.choices,
        default=ImportRun.BadRowPolicy.REJECT_FILE,
        help_text="reject_file: a bad line stores nothing; skip_rows: store the good lines.",
    )


# --- chargeback ------------------------------------------------------------------------------
class _Billing(_TenantOwned):
    tenant_choice_capability = Capability.MANAGE_BILLING


class PriceBookSerializer(_Billing):
    """A client's price book (MSP operators only): markup on provider cost (negative: a
    discount), rules per provider/service, fixed fees and custom lines, VAT rate, validity."""

    class Meta:
        model = PriceBook
        fields = [
            "id",
            "tenant",
            "name",
            "currency",
            "valid_from",
            "valid_to",
            "default_markup",
            "vat_rate",
            "email_to",
            "auto_invoice",
            "last_run_at",
            "last_run_error",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["last_run_at", "last_run_error", "created_at", "updated_at"]


class _PriceBookPart(TenantScopedSerializer):
    """A part of a price book: its tenant is the price book's, and it stays in its book."""

    tenant = serializers.PrimaryKeyRelatedField(read_only=True)
    price_book = serializers.PrimaryKeyRelatedField(queryset=PriceBook.objects.all())

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None:
            fields["price_book"].read_only = True
        return fields


class PriceBookRuleSerializer(_PriceBookPart):
    """A markup for a provider, or one of its services (the most specific rule wins)."""

    class Meta:
        model = PriceBookRule
        fields = ["id", "tenant", "price_book", "provider_name", "service_name", "markup"]


class PriceBookChargeSerializer(_PriceBookPart):
    """A fixed fee (billed every month) or a custom line (``month``: the one month it is
    billed in, as its first day; empty: every month). Net of VAT."""

    class Meta:
        model = PriceBookCharge
        fields = ["id", "tenant", "price_book", "kind", "description", "amount", "month"]


MARGIN_FIELDS = ("provider_cost", "margin", "markup")


def _hide_margin(serializer, data: dict, tenant_id: int) -> dict:
    """Provider cost and margin are for ``view_margin`` holders (MSP operators) only."""
    from allocation.selectors import can_view_margin

    request = serializer.context.get("request")
    cache = serializer.context.setdefault("_margin", {})
    if tenant_id not in cache:
        cache[tenant_id] = can_view_margin(getattr(request, "user", None), tenant_id)
    if not cache[tenant_id]:
        for name in MARGIN_FIELDS:
            data.pop(name, None)
    return data


class InvoiceLineSerializer(TenantScopedSerializer):
    class Meta:
        model = InvoiceLine
        fields = [
            "id",
            "tenant",
            "invoice",
            "position",
            "kind",
            "description",
            "provider_name",
            "service_name",
            "dimension_value_id",
            "dimension_value",
            "markup",
            "provider_cost",
            "margin",
            "amount",
            "vat_amount",
            "total",
        ]
        read_only_fields = fields

    def to_representation(self, instance):
        return _hide_margin(self, super().to_representation(instance), instance.tenant_id)


class InvoiceSerializer(_Billing):
    """An invoice for one month. POST builds the month's draft (``period_start``: the 1st);
    /issue/ freezes it, /reissue/ replaces an issued one by a new version, /email/ sends it,
    /export/?format=csv|xlsx|pdf|focus_invoice_detail|focus_billing_period downloads it."""

    dimension = serializers.ChoiceField(
        choices=[("", "per service"), *[(k, k) for k in DIMENSION_MODELS]],
        required=False,
        allow_blank=True,
    )

    class Meta:
        model = Invoice
        fields = [
            "id",
            "tenant",
            "number",
            "version",
            "status",
            "period_start",
            "period_end",
            "price_book",
            "dimension",
            "currency",
            "provider_cost",
            "margin",
            "net_amount",
            "vat_rate",
            "vat_amount",
            "total_amount",
            "supersedes",
            "reason",
            "created_at",
            "issued_at",
            "emailed_at",
        ]
        read_only_fields = [f for f in fields if f not in ("tenant", "period_start", "dimension")]

    def to_representation(self, instance):
        return _hide_margin(self, super().to_representation(instance), instance.tenant_id)


class InvoiceReissueSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300)
