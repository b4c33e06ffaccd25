from __future__ import annotations

from django.contrib.auth import get_user_model
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

from core.api.base import TenantScopedSerializer
from core.api.tenant_choices import TenantChoiceMixin
from core.capabilities import Capability, Role
from core.models import ApiToken, AuditEvent, Invitation, Membership, Tenant

User = get_user_model()


class ParentTenantField(serializers.PrimaryKeyRelatedField):
    """Required on create, yet the root tenant (the MSP's own) has no parent: null in answers."""


class ParentTenantFieldSchema(OpenApiSerializerFieldExtension):
    target_class = ParentTenantField

    def map_serializer_field(self, auto_schema, direction):
        return {"type": "integer", **({"nullable": True} if direction == "response" else {})}


class TenantSerializer(TenantChoiceMixin, TenantScopedSerializer):
    # A new tenant may only hang under a tenant where the caller manages sub-tenants.
    tenant_choice_field = "parent"
    tenant_choice_capability = Capability.MANAGE_SUBTENANTS
    parent = ParentTenantField(queryset=Tenant.objects.all(), required=True, allow_null=False)

    class Meta:
        model = Tenant
        fields = [
            "id",
            "name",
            "slug",
            "parent",
            "kind",
            "status",
            "default_currency",
            "locale",
            "time_zone",
            "cost_amounts",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["kind", "created_at", "updated_at"]

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None:
            fields["parent"].read_only = True  # moving tenants between parents is not supported
        return fields


class UserSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "email", "first_name", "last_name"]
        read_only_fields = fields


class MembershipSerializer(TenantScopedSerializer):
    tenant = serializers.PrimaryKeyRelatedField(queryset=Tenant.objects.all())
    user = UserSummarySerializer(read_only=True)
    email = serializers.EmailField(
        write_only=True,
        help_text="Email of the person to add; an account is created and invited if none exists.",
    )
    role = serializers.ChoiceField(choices=Role.choices)
    dimension_scope = serializers.JSONField(
        required=False,
        help_text="{} (the whole tenant) or the dimension values the member is limited to, "
        'e.g. {"project": [3, 5]}: they then see only those values\' costs and resources.',
    )

    class Meta:
        model = Membership
        fields = ["id", "tenant", "user", "email", "role", "dimension_scope", "created_at"]
        read_only_fields = ["created_at"]

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None:
            fields["tenant"].read_only = True
            fields["email"].required = False
            fields["email"].read_only = True
        return fields


class InvitationSerializer(serializers.ModelSerializer):
    """A pending invitation of an existing account: no access until its owner accepts it."""

    status = serializers.SerializerMethodField()

    class Meta:
        model = Invitation
        fields = ["id", "tenant", "email", "role", "created_at", "status"]
        read_only_fields = fields

    def get_status(self, obj) -> str:
        return "pending"


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "tenant",
            "seq",
            "created_at",
            "actor",
            "actor_repr",
            "source",
            "request_id",
            "ip_address",
            "event_type",
            "target_type",
            "target_id",
            "target_repr",
            "before",
            "after",
            "changed_fields",
            "extra",
            "prev_hash",
            "hash",
        ]
        read_only_fields = fields


class ApiTokenSerializer(TenantScopedSerializer):
    tenant = serializers.PrimaryKeyRelatedField(queryset=Tenant.objects.all())
    prefix = serializers.SerializerMethodField()
    is_active = serializers.BooleanField(read_only=True)
    user = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "tenant",
            "user",
            "name",
            "prefix",
            "scope",
            "expires_at",
            "created_at",
            "last_used_at",
            "revoked_at",
            "created_by_token",
            "is_active",
        ]
        read_only_fields = ["created_at", "last_used_at", "revoked_at", "created_by_token"]
        extra_kwargs = {"expires_at": {"required": False}}

    def get_prefix(self, obj) -> str:
        return f"izt_{obj.key_id}"


class IssuedTokenSerializer(ApiTokenSerializer):
    token = serializers.CharField(read_only=True, help_text="The secret; shown only once.")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "token"]


class MeMembershipSerializer(serializers.Serializer):
    tenant = serializers.IntegerField()
    tenant_name = serializers.CharField()
    tenant_slug = serializers.CharField()
    role = serializers.CharField()
    capabilities = serializers.ListField(child=serializers.CharField())


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.EmailField()
    is_operator = serializers.BooleanField()
    token = serializers.DictField(allow_null=True)
    memberships = MeMembershipSerializer(many=True)
