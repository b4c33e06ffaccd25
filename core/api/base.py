"""Scoped API base classes: every viewset, serializer and filterset inherits tenant scoping.

A viewset declares ``queryset``, ``serializer_class`` and ``filterset_class``; the base maps the
HTTP method to an action, restricts the queryset with ``for_user`` (so other tenants' objects are a
404), restricts every related-field choice, and refuses writes from read-only tokens with a clear
message.
"""

from __future__ import annotations

import django_filters
from django.contrib.auth import get_user_model
from django.db import models
from django.utils.functional import SimpleLazyObject, cached_property
from rest_framework import exceptions, permissions, serializers, viewsets

from core.access import visible_users
from core.capabilities import READ_ACTIONS
from core.filters import IntegerFilter, UtcDateTimeFilter
from core.models import TenantOwnedModel
from core.querysets import TenantScopedQuerySet

METHOD_ACTIONS = {
    "GET": "view",
    "HEAD": "view",
    "OPTIONS": "view",
    "POST": "add",
    "PUT": "change",
    "PATCH": "change",
    "DELETE": "delete",
}


def is_tenant_owned(model) -> bool:
    """Tenant-owned however its managers are built: a scoped default manager or the base class."""
    return issubclass(model, TenantOwnedModel) or isinstance(
        model._default_manager.all(), TenantScopedQuerySet
    )


def scope_queryset(queryset, user, action: str = "view") -> models.QuerySet:
    """Restrict a queryset (or manager) of any tenant-owned model, and of users, to what ``user``
    may see; querysets of other models are returned unchanged.

    DRF and Django build related-field choices from ``Model._default_manager`` or from plain
    querysets, so the type of what is passed in proves nothing: the model decides.
    """
    if isinstance(queryset, models.Manager):
        queryset = queryset.all()
    if isinstance(queryset, TenantScopedQuerySet):
        return queryset.for_user(user, action)
    model = queryset.model
    if model is get_user_model():
        return queryset.filter(pk__in=visible_users(user).values("pk"))
    if is_tenant_owned(model):
        scoped = model._default_manager.all()
        if not isinstance(scoped, TenantScopedQuerySet):
            scoped = TenantScopedQuerySet(model=model, using=queryset.db)
        return queryset.filter(pk__in=scoped.for_user(user, action).values("pk"))
    return queryset


def scope_serializer_fields(serializer, user) -> None:
    """Scope every related field's choices in ``serializer``, however the field was built:
    declared or generated, many=True (``child_relation``), inside list/dict fields and nested
    serializers. Idempotent. Unknown ids and other tenants' ids then fail validation alike."""
    if isinstance(serializer, serializers.ListSerializer):
        serializer = serializer.child
    for field in serializer.fields.values():
        _scope_field(field, user)


def _scope_field(field, user) -> None:
    if isinstance(field, serializers.BaseSerializer):
        scope_serializer_fields(field, user)
        return
    if isinstance(field, serializers.ManyRelatedField):
        field = field.child_relation
    child = getattr(field, "child", None)
    if isinstance(child, serializers.Field):  # ListField / DictField of related fields
        _scope_field(child, user)
    if not isinstance(field, serializers.RelatedField) or field.queryset is None:
        return
    if getattr(field, "_scoped_for", None) is not user:
        unscoped = field.__dict__.setdefault("_unscoped_queryset", field.queryset)
        # Built on first use (validating input, listing form choices): answering a read with
        # JSON never touches a related field's queryset, and building the scoped one for every
        # field of every list request cost a third of the request's CPU.
        field.queryset = SimpleLazyObject(lambda: scope_queryset(unscoped, user, "view"))
        field._scoped_for = user


class TokenScopePermission(permissions.BasePermission):
    message = "This API token is read-only; create a token with the write scope to make changes."

    def has_permission(self, request, view) -> bool:
        token = getattr(request.user, "api_token", None)
        if token is None or token.allows_write:
            return True
        return view.action_for_request() in READ_ACTIONS


class TenantScopedViewSet(viewsets.GenericViewSet):
    permission_classes = [permissions.IsAuthenticated, TokenScopePermission]
    # Ids are integers on every route, extra actions included: /resources/AAA/metrics/ is a
    # 404 from the router, never a lookup that breaks on "AAA".
    lookup_value_regex = "[0-9]+"
    # Extra actions (e.g. "revoke") map to capability actions here.
    action_map: dict[str, str] = {}

    def action_for_request(self) -> str:
        if self.action in self.action_map:
            return self.action_map[self.action]
        return METHOD_ACTIONS.get(self.request.method, "view")

    def get_queryset(self):
        queryset = super().get_queryset()
        return scope_queryset(queryset, self.request.user, self.action_for_request())

    def get_serializer(self, *args, **kwargs):
        # Every serializer a viewset hands out, including the browsable API's forms and the
        # OPTIONS metadata, is scoped here, whether or not its class uses the mixin below.
        serializer = super().get_serializer(*args, **kwargs)
        scope_serializer_fields(serializer, getattr(self.request, "user", None))
        return serializer


class ScopedRelatedFieldsMixin:
    """Limit every related field's choices to rows the requesting user can see."""

    @cached_property
    def fields(self):
        fields = super().fields
        request = self.context.get("request")
        user = getattr(request, "user", None)
        for field in fields.values():
            _scope_field(field, user)
        return fields


class TenantScopedSerializer(ScopedRelatedFieldsMixin, serializers.ModelSerializer):
    """Rejects cross-tenant references: related rows must belong to the object's own tenant."""

    def validate(self, attrs):
        attrs = super().validate(attrs)
        tenant = attrs.get("tenant") or getattr(self.instance, "tenant", None)
        if tenant is None:
            return attrs
        errors = {}
        for name, value in attrs.items():
            related_tenant = getattr(value, "tenant_id", None)
            if name != "tenant" and related_tenant is not None and related_tenant != tenant.pk:
                errors[name] = "This object belongs to another tenant."
        if errors:
            raise exceptions.ValidationError(errors)
        return attrs


class TenantScopedFilterSet(django_filters.FilterSet):
    """Model-choice filters list (and accept) only rows the requesting user can see.
    Filters generated from model fields take instants in UTC and ids as integers
    (core.filters), like the declared ones."""

    FILTER_DEFAULTS = {
        **django_filters.FilterSet.FILTER_DEFAULTS,
        models.DateTimeField: {"filter_class": UtcDateTimeFilter},
        **{
            field: {"filter_class": IntegerFilter}
            for field in (
                models.AutoField,
                models.BigAutoField,
                models.IntegerField,
                models.BigIntegerField,
                models.SmallIntegerField,
                models.PositiveIntegerField,
                models.PositiveSmallIntegerField,
                models.PositiveBigIntegerField,
            )
        },
    }

    def __init__(self, data=None, queryset=None, *, request=None, **kwargs):
        super().__init__(data, queryset, request=request, **kwargs)
        user = getattr(request, "user", None)
        for filter_ in self.filters.values():
            # django-filter builds choice fields from ``filter.queryset`` (QuerySetRequestMixin).
            field_queryset = getattr(filter_, "queryset", None)
            if callable(field_queryset) and not isinstance(field_queryset, models.QuerySet):
                field_queryset = field_queryset(request)
            if isinstance(field_queryset, models.QuerySet):
                filter_.queryset = scope_queryset(field_queryset, user, "view")
