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
    AllocatedCost,
    AllocationRule,
    AllocationRun,
    BusinessUnit,
    CostCenter,
    Environment,
    Feature,
    MappingRun,
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
