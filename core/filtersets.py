"""Filtersets shared by the API and the portal lists."""

from __future__ import annotations

import django_filters

from core.api.base import TenantScopedFilterSet
from core.capabilities import Role
from core.filters import IntegerFilter, UtcDateTimeFilter
from core.models import ApiToken, AuditEvent, Membership, Tenant


class TenantFilterSet(TenantScopedFilterSet):
    q = django_filters.CharFilter(method="search", label="Search name or slug")
    parent = django_filters.ModelChoiceFilter(queryset=Tenant.objects.all())

    class Meta:
        model = Tenant
        fields = ["status", "kind", "parent", "default_currency", "slug"]

    def search(self, queryset, name, value):
        return queryset.filter(name__icontains=value) | queryset.filter(slug__icontains=value)


class MembershipFilterSet(TenantScopedFilterSet):
    tenant = django_filters.ModelChoiceFilter(queryset=Tenant.objects.all())
    role = django_filters.ChoiceFilter(choices=Role.choices)
    user = IntegerFilter(field_name="user_id")
    email = django_filters.CharFilter(field_name="user__email", lookup_expr="iexact")

    class Meta:
        model = Membership
        fields = ["tenant", "role", "user", "email"]


class AuditEventFilterSet(TenantScopedFilterSet):
    tenant = django_filters.ModelChoiceFilter(queryset=Tenant.objects.all())
    event_type = django_filters.CharFilter()
    event_type_prefix = django_filters.CharFilter(field_name="event_type", lookup_expr="startswith")
    source = django_filters.ChoiceFilter(choices=AuditEvent.Source.choices)
    actor = IntegerFilter(field_name="actor_id")
    target_type = django_filters.CharFilter()
    target_id = django_filters.CharFilter()
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = ["tenant", "event_type", "source", "actor", "target_type", "target_id"]


class ApiTokenFilterSet(TenantScopedFilterSet):
    tenant = django_filters.ModelChoiceFilter(queryset=Tenant.objects.all())
    user = django_filters.NumberFilter(field_name="user_id")
    active = django_filters.BooleanFilter(method="filter_active")
    # The tokens a token created: what revoking it would also revoke.
    created_by_token = django_filters.ModelChoiceFilter(queryset=ApiToken.objects.all())

    class Meta:
        model = ApiToken
        fields = ["tenant", "scope", "user", "active", "created_by_token"]

    def filter_active(self, queryset, name, value):
        from django.db.models import Q
        from django.utils import timezone

        active = Q(revoked_at__isnull=True, expires_at__gt=timezone.now())
        return queryset.filter(active) if value else queryset.exclude(active)
