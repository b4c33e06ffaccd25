"""Provider API: connections (write-only credentials), the resource registry, its history, sync
runs and metrics. Thin views: every write is a service call."""

from __future__ import annotations

from django.db import transaction
from django.shortcuts import get_object_or_404
from django_filters.utils import translate_validation
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from core.api.base import TenantScopedViewSet, scope_queryset
from core.api.pagination import NewestFirstCursorPagination
from providers.api import serializers as s
from providers.filtersets import (
    ConnectionFilterSet,
    ResourceEventFilterSet,
    ResourceFilterSet,
    ResourceMetricDailyFilterSet,
    ResourceMetricFilterSet,
    SyncRunFilterSet,
)
from providers.models import (
    Connection,
    Resource,
    ResourceEvent,
    ResourceMetric,
    ResourceMetricDaily,
    SyncRun,
)
from providers.services.connections import (
    connection_create,
    connection_delete,
    connection_request_sync,
    connection_set_enabled,
    connection_update,
    connection_verify,
    webhook_secret,
)

_DETAIL = inline_serializer("Detail", fields={"detail": serializers.CharField()})


class ConnectionViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    TenantScopedViewSet,
):
    """Cloud connections. `credentials` are write-only (never returned; `has_credentials` tells
    whether some are stored). The webhook secret is returned once, in the create response.
    `sync_interval` is in seconds. Deleting a connection deletes its resources and history."""

    queryset = Connection.objects.all()
    serializer_class = s.ConnectionSerializer
    filterset_class = ConnectionFilterSet
    ordering_fields = ["name", "status", "last_sync_at", "next_sync_at", "created_at"]
    action_map = {"verify": "verify", "sync": "sync", "enable": "change", "disable": "change"}

    @extend_schema(responses={201: s.CreatedConnectionSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():
            connection = connection_create(actor=request.user, **serializer.validated_data)
        output = s.CreatedConnectionSerializer(connection, context=self.get_serializer_context())
        data = output.data
        # Like an API token: shown once so the customer can configure their signer.
        data["webhook_secret"] = webhook_secret(connection)
        return Response(data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        serializer = self.get_serializer(self.get_object(), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        connection = connection_update(
            actor=request.user, connection=serializer.instance, **serializer.validated_data
        )
        return Response(self.get_serializer(connection).data)

    def perform_destroy(self, instance):
        connection_delete(actor=self.request.user, connection=instance)

    @extend_schema(request=None, responses={200: s.VerifyResultSerializer})
    @action(detail=True, methods=["post"])
    def verify(self, request, pk=None):
        """Check the credentials with one cheap provider call; says exactly what failed."""
        connection = self.get_object()
        ok, message = connection_verify(actor=request.user, connection=connection)
        connection.refresh_from_db(fields=["status"])
        return Response({"ok": ok, "message": message, "status": connection.status})

    @extend_schema(request=None, responses={202: _DETAIL})
    @action(detail=True, methods=["post"])
    def sync(self, request, pk=None):
        """Queue an immediate sync (refused for a disabled connection)."""
        connection_request_sync(actor=request.user, connection=self.get_object(), trigger="manual")
        return Response({"detail": "Sync queued."}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={200: s.ConnectionSerializer})
    @action(detail=True, methods=["post"])
    def enable(self, request, pk=None):
        """Resume scheduled syncs; a sync starts at once."""
        return self._set_enabled(True)

    @extend_schema(request=None, responses={200: s.ConnectionSerializer})
    @action(detail=True, methods=["post"])
    def disable(self, request, pk=None):
        """Stop scheduled syncs and refuse manual ones until enabled again."""
        return self._set_enabled(False)

    def _set_enabled(self, enabled: bool):
        connection = connection_set_enabled(
            actor=self.request.user, connection=self.get_object(), enabled=enabled
        )
        return Response(self.get_serializer(connection).data)


class MetricSamplePagination(CursorPagination):
    """Time order with a cursor: no COUNT over the partitioned table, stable while it grows."""

    ordering = ("ts", "metric")
    page_size = 1000
    page_size_query_param = "page_size"
    max_page_size = 10000

    def get_ordering(self, request, queryset, view):
        return self.ordering  # not the resource list's ?ordering=, which names other fields


class ResourceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """The resource registry, live and deleted (filter `deleted=false` for live ones only).
    Labels: `label=env:prod` (repeatable, all must match) and `label_key=env`."""

    queryset = Resource.objects.select_related("connection")
    serializer_class = s.ResourceSerializer
    filterset_class = ResourceFilterSet
    ordering_fields = [
        "id",
        "name",
        "type",
        "status",
        "region",
        "provider_created_at",
        "first_seen_at",
        "last_seen_at",
        "deleted_at",
    ]
    action_map = {"metrics": "view"}

    @extend_schema(
        parameters=[
            OpenApiParameter("metric", OpenApiTypes.STR, description="e.g. cpu_utilization"),
            OpenApiParameter(
                "after", OpenApiTypes.DATETIME, required=True, description="Window start (>=)"
            ),
            OpenApiParameter(
                "before",
                OpenApiTypes.DATETIME,
                required=True,
                description="Window end (<); the window may span at most 31 days.",
            ),
            OpenApiParameter("cursor", OpenApiTypes.STR),
            OpenApiParameter("page_size", OpenApiTypes.INT),
        ],
        responses={200: s.ResourceMetricSerializer(many=True)},
    )
    @action(detail=True, methods=["get"], pagination_class=MetricSamplePagination)
    def metrics(self, request, pk=None):
        """Raw metric samples of this resource in a bounded window (`after` and `before` are
        required; at most 31 days). Use /resource-metrics-daily/ for longer periods."""
        # Looked up without the list filters: their parameters are not this action's.
        resource = get_object_or_404(self.get_queryset(), pk=pk)
        samples = scope_queryset(ResourceMetric.objects.all(), request.user, "view").filter(
            resource_id=resource.pk, tenant_id=resource.tenant_id
        )
        filterset = ResourceMetricFilterSet(request.query_params, samples, request=request)
        if not filterset.is_valid():
            raise translate_validation(filterset.errors)
        page = self.paginate_queryset(filterset.qs)
        return self.get_paginated_response(s.ResourceMetricSerializer(page, many=True).data)


class ResourceEventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """Resource timelines: appeared, changed (with a field diff), disappeared, reappeared."""

    queryset = ResourceEvent.objects.all()
    serializer_class = s.ResourceEventSerializer
    filterset_class = ResourceEventFilterSet
    pagination_class = NewestFirstCursorPagination
    ordering_fields = None  # the cursor fixes the order: newest first


class SyncRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """Sync attempts with their counts, errors and (while running) progress; newest first."""

    queryset = SyncRun.objects.all()
    serializer_class = s.SyncRunSerializer
    filterset_class = SyncRunFilterSet
    pagination_class = NewestFirstCursorPagination
    ordering_fields = None


class ResourceMetricDailyViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet
):
    """Daily metric rollups (avg/min/max/samples per resource, metric and UTC day)."""

    queryset = ResourceMetricDaily.objects.all()
    serializer_class = s.ResourceMetricDailySerializer
    filterset_class = ResourceMetricDailyFilterSet
    ordering_fields = ["day", "metric", "avg", "max"]
