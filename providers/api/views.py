"""Provider API: connections (write-only credentials), the resource registry, its history, sync
runs and metrics. Thin views: every write is a service call."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re

from django.db import transaction
from django.db.models import Q
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from core.access import allowed_tenants
from core.api.base import TenantScopedViewSet, scope_queryset
from core.api.filtering import refuse_empty_values, validation_error
from core.api.pagination import NewestFirstCursorPagination, StrictPageSizeMixin
from core.capabilities import Capability
from providers.api import serializers as s
from providers.costs import export, query
from providers.filtersets import (
    BalanceSnapshotFilterSet,
    ConnectionFilterSet,
    CostLineItemFilterSet,
    CostSourceFilterSet,
    CostSourceObjectFilterSet,
    ImportRunFilterSet,
    ResourceEventFilterSet,
    ResourceFilterSet,
    ResourceMetricDailyFilterSet,
    ResourceMetricFilterSet,
    SyncRunFilterSet,
)
from providers.models import (
    BalanceSnapshot,
    Connection,
    CostLineItem,
    CostSource,
    CostSourceObject,
    ImportRun,
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
from providers.services.cost_api import provider_file_import
from providers.services.cost_sources import (
    cost_source_create,
    cost_source_delete,
    cost_source_request_pull,
    cost_source_set_enabled,
    cost_source_update,
)
from providers.services.costs import cost_file_import
from providers.services.uploads import cost_upload_enqueue
from providers.services.yandex_imports import yandex_export_import

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


class MetricSamplePagination(StrictPageSizeMixin, CursorPagination):
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
        refuse_empty_values(filterset, request.query_params)
        if not filterset.is_valid():
            raise validation_error(filterset.errors)
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


class BalanceSnapshotViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """Prepaid balances: the time series of every connection whose provider reports one, one
    row per balance (account and kind: main, bonus, ...) per collection, newest first. Read
    every BALANCE_COLLECT_INTERVAL_MINUTES and after each sync. `summary/` adds them up with
    the burn rate and the days until each runs out."""

    queryset = BalanceSnapshot.objects.all()
    serializer_class = s.BalanceSnapshotSerializer
    filterset_class = BalanceSnapshotFilterSet
    pagination_class = NewestFirstCursorPagination
    ordering_fields = None
    action_map = {"summary": "view"}

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "tenant",
                OpenApiTypes.STR,
                description="Tenant id or slug; required when you can view several tenants' costs.",
            )
        ],
        responses={200: s.BalanceSummarySerializer, 400: OpenApiTypes.OBJECT},
    )
    @action(detail=False, methods=["get"], pagination_class=None, filterset_class=None)
    def summary(self, request):
        """Each connection's latest balances with the burn rate (money per day, from recent
        billed costs, else from the balance's own decreases: `burn_source` says which), the
        days left and the day it runs out, the provider's own forecast where it gives one;
        totals per currency; and the balance that runs out first (`earliest`)."""
        from providers.balances import overview_json, tenant_balance_overview, tenant_today

        try:
            tenant = query.cost_tenant_for(request.user, request.query_params.get("tenant"))
        except query.QueryError as exc:
            code = status.HTTP_403_FORBIDDEN if exc.status == 403 else status.HTTP_400_BAD_REQUEST
            return Response({exc.param or "detail": [str(exc)]}, status=code)
        connections = (
            scope_queryset(Connection.objects.all(), request.user, "view")
            .filter(tenant=tenant)
            .order_by("name", "pk")
        )
        overview = tenant_balance_overview(connections, today=tenant_today(tenant))
        return Response({"tenant": tenant.pk, **overview_json(overview)})


class ResourceMetricDailyViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet
):
    """Daily metric rollups (avg/min/max/samples per resource, metric and UTC day)."""

    queryset = ResourceMetricDaily.objects.all()
    serializer_class = s.ResourceMetricDailySerializer
    filterset_class = ResourceMetricDailyFilterSet
    ordering_fields = ["day", "metric", "avg", "max"]


# --- cost data ----------------------------------------------------------------------------------
class LineItemPagination(StrictPageSizeMixin, CursorPagination):
    """Keyset pagination on (charge_period_start, id): no COUNT, no OFFSET, stable while loading.

    DRF's CursorPagination keeps only the first ordering field in the cursor and steps over equal
    values with an OFFSET; hourly cost rows share timestamps by the thousand, so the cursor here
    carries both fields and the next page is one index range: (start, id) > (cursor).
    """

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
    ordering = ("charge_period_start", "id")
    invalid_cursor_message = "Invalid cursor."

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.page_size = self.get_page_size(request)
        self.base_url = request.build_absolute_uri()
        position = self._decode(request)
        queryset = queryset.order_by(*self.ordering)
        if position is not None:
            start, pk = position
            queryset = queryset.filter(
                Q(charge_period_start__gt=start) | Q(charge_period_start=start, id__gt=pk)
            )
        page = list(queryset[: self.page_size + 1])
        self.has_next = len(page) > self.page_size
        self.page = page[: self.page_size]
        return self.page

    def get_paginated_response(self, data):
        return Response({"next": self.get_next_link(), "previous": None, "results": data})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["results"],
            "properties": {
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }

    def get_next_link(self):
        if not self.has_next or not self.page:
            return None
        last = self.page[-1]
        token = f"{last.charge_period_start.isoformat()}|{last.pk}"
        cursor = base64.urlsafe_b64encode(token.encode()).decode()
        return replace_query_param(self.base_url, self.cursor_query_param, cursor)

    def get_previous_link(self):
        return None

    def _decode(self, request):
        encoded = request.query_params.get(self.cursor_query_param)
        if not encoded:
            return None
        try:
            start, _, pk = base64.urlsafe_b64decode(encoded.encode()).decode().partition("|")
            # In UTC: a forged offset past ±15:59 is one PostgreSQL cannot compare.
            return dt.datetime.fromisoformat(start).astimezone(dt.UTC), int(pk)
        except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError):
            raise NotFound(self.invalid_cursor_message) from None


class CostLineItemViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """FOCUS 1.2 cost line items, for drill-down. Lists are bounded by ChargePeriodStart:
    `charge_period_after` (>=) and `charge_period_before` (<), at most 93 days apart; without
    them the current UTC month is listed. Cursor-paginated in (ChargePeriodStart, id) order.
    Tags: `tag=env:prod` (repeatable, all must match) and `tag_key=env`. Totals over longer
    periods come from /api/v1/cost-query/."""

    queryset = CostLineItem.objects.all()
    serializer_class = s.CostLineItemSerializer
    filterset_class = CostLineItemFilterSet
    pagination_class = LineItemPagination
    ordering_fields = None  # the cursor fixes the order

    def filter_queryset(self, queryset):
        if self.action == "retrieve":
            return queryset  # an id is an id: the list's default month does not apply
        queryset = super().filter_queryset(queryset)
        if "tenant" not in self.request.query_params:
            # Most callers see one tenant: name it, so each page is one range of the
            # (tenant, charge_period_start, id) index instead of a sort of the window.
            tenants = allowed_tenants(self.request.user, Capability.VIEW_COSTS)
            only = list(tenants.values_list("pk", flat=True)[:2]) if tenants is not None else []
            if len(only) == 1:
                queryset = queryset.filter(tenant_id=only[0])
        return queryset


class ImportRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """Cost imports with their counts, totals, warnings and errors (examples with line numbers)
    and, while running, progress. POST uploads a FOCUS file: multipart `file` (or JSON with base64
    `content`), `tenant`, optional `source_key`, `policy` (reject_file | skip_rows), `force`. The
    file is queued for import and the pending run is answered with 202; with `wait=true` (query
    or body; files up to 20 MB) it is imported during the request: 201, or 400 with the failed
    run and its reasons. A file that is not FOCUS at all is a 400 at once."""

    queryset = ImportRun.objects.all()
    serializer_class = s.ImportUploadSerializer
    filterset_class = ImportRunFilterSet
    pagination_class = NewestFirstCursorPagination
    ordering_fields = None
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    def get_serializer_class(self):
        if self.action == "create":
            return s.ImportUploadSerializer
        return s.ImportRunSerializer

    @extend_schema(
        request={
            "multipart/form-data": s.ImportUploadSerializer,
            "application/json": s.ImportUploadSerializer,
        },
        responses={
            201: s.ImportRunSerializer,
            202: s.ImportRunSerializer,
            400: OpenApiTypes.OBJECT,
        },
        parameters=[OpenApiParameter("wait", OpenApiTypes.BOOL, description="Import at once.")],
    )
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        wait = data["wait"] or request.query_params.get("wait", "").lower() in ("1", "true")
        options = {
            "actor": request.user,
            "tenant": data["tenant"],
            "file": data["stream"],
            "file_name": data["file_name"],
            "source_key": data["source_key"],
            "policy": data["policy"],
            "force": data["force"],
        }
        if not wait:
            run = cost_upload_enqueue(**options)
            return self._run_response(run, status.HTTP_202_ACCEPTED)
        run = cost_file_import(**options)
        if run.status == ImportRun.Status.FAILED:
            body = {
                "detail": run.error,
                "import_run": s.ImportRunSerializer(
                    run, context=self.get_serializer_context()
                ).data,
            }
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
        return self._run_response(run, status.HTTP_201_CREATED)

    def _run_response(self, run, code):
        data = s.ImportRunSerializer(run, context=self.get_serializer_context()).data
        location = reverse("api:importrun-detail", kwargs={"pk": run.pk})
        return Response(data, status=code, headers={"Location": location})


# --- cost sources -------------------------------------------------------------------------------
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


class CostSourceViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    TenantScopedViewSet,
):
    """Where cost data comes from. Billing files pulled on a schedule from an S3-compatible
    bucket: a Yandex Cloud detailed billing export (`yandex_billing_export`) or FOCUS files
    (`focus_bucket`); a provider's cost API read through the source's `connection`
    (`provider_api`: each pull re-reads `lookback_days` before `pulled_through`); or provider
    cost files uploaded to `{id}/upload/` (`provider_file`, in the `file_kind` format).
    Bucket `credentials` (`{"access_key_id", "secret_access_key"}`) are write-only;
    `has_credentials` says whether a pair is stored. `pull_interval` is in seconds. Endpoints
    other than public S3-compatible stores over HTTPS are for MSP operators only. A new source
    is pulled at once; its imports are listed under /api/v1/import-runs/ (`source_key`), the
    bucket objects it dealt with under `{id}/objects/`."""

    queryset = CostSource.objects.all()
    serializer_class = s.CostSourceSerializer
    filterset_class = CostSourceFilterSet
    ordering_fields = ["name", "status", "last_pull_at", "next_pull_at", "created_at"]
    action_map = {
        "pull": "pull",
        "enable": "change",
        "disable": "change",
        "objects": "view",
        "upload": "change",
    }

    def get_serializer_class(self):
        if self.action == "objects":
            return s.CostSourceObjectSerializer
        if self.action == "upload":
            return s.YandexExportUploadSerializer
        return s.CostSourceSerializer

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        source = cost_source_create(actor=request.user, **serializer.validated_data)
        return Response(self.get_serializer(source).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        serializer = self.get_serializer(self.get_object(), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        source = cost_source_update(
            actor=request.user, source=serializer.instance, **serializer.validated_data
        )
        return Response(self.get_serializer(source).data)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "purge_costs",
                OpenApiTypes.BOOL,
                description="Also delete the cost data the source loaded (default: it stays, "
                "as billing history).",
            )
        ],
        responses={204: None},
    )
    def destroy(self, request, *args, **kwargs):
        purge = _bool_param(request.query_params, "purge_costs")
        cost_source_delete(actor=request.user, source=self.get_object(), purge_costs=purge)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={202: _DETAIL})
    @action(detail=True, methods=["post"])
    def pull(self, request, pk=None):
        """Queue a pull now (refused for a disabled source). Its imports appear under
        /api/v1/import-runs/."""
        cost_source_request_pull(actor=request.user, source=self.get_object(), trigger="manual")
        return Response({"detail": "Pull queued."}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses={200: s.CostSourceSerializer})
    @action(detail=True, methods=["post"])
    def enable(self, request, pk=None):
        """Resume scheduled pulls; the source is due at once (the next dispatcher tick)."""
        return self._set_enabled(True)

    @extend_schema(request=None, responses={200: s.CostSourceSerializer})
    @action(detail=True, methods=["post"])
    def disable(self, request, pk=None):
        """Stop scheduled pulls and refuse manual ones until enabled again."""
        return self._set_enabled(False)

    def _set_enabled(self, enabled: bool):
        source = cost_source_set_enabled(
            actor=self.request.user, source=self.get_object(), enabled=enabled
        )
        return Response(self.get_serializer(source).data)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Source id."
            )
        ],
        responses={200: s.CostSourceObjectSerializer(many=True)},
    )
    # This action lists another model: its queryset (scoped like any), filters and ordering.
    @action(
        detail=True,
        methods=["get"],
        queryset=CostSourceObject.objects.order_by("-pulled_at", "-id"),
        filterset_class=CostSourceObjectFilterSet,
        ordering_fields=["key", "last_modified", "size", "pulled_at"],
    )
    def objects(self, request, pk=None):
        """The bucket objects this source dealt with (the version last imported or rejected),
        most recently pulled first. A source forgets them when it is pointed elsewhere."""
        sources = scope_queryset(CostSource.objects.all(), request.user, "view")
        source = get_object_or_404(sources, pk=pk)
        objects = self.get_queryset().filter(source_id=source.pk, tenant_id=source.tenant_id)
        page = self.paginate_queryset(self.filter_queryset(objects))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        request={
            "multipart/form-data": s.YandexExportUploadSerializer,
            "application/json": s.YandexExportUploadSerializer,
        },
        responses={201: s.ImportRunSerializer, 400: OpenApiTypes.OBJECT},
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser, JSONParser])
    def upload(self, request, pk=None):
        """Import one file into this source now (files up to 20 MB): a daily file of a Yandex
        Cloud billing export (e.g. days the bucket no longer holds; it replaces the source's rows
        for its MSK day, and a later pull replaces them again only if the bucket's file
        changes), or a provider cost file of a `provider_file` source (in its `file_kind`
        format; it replaces the source's rows of the days it covers). 201 with the import run,
        or 400 with the failed run and its reasons."""
        source = self.get_object()
        if source.kind not in (
            CostSource.Kind.YANDEX_BILLING_EXPORT,
            CostSource.Kind.PROVIDER_FILE,
        ):
            raise serializers.ValidationError(
                {"non_field_errors": ["FOCUS files are uploaded to /api/v1/import-runs/."]}
            )
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if source.kind == CostSource.Kind.PROVIDER_FILE:
            run = provider_file_import(
                actor=request.user,
                source=source,
                file=data["stream"],
                file_name=data["file_name"],
                force=data["force"],
            )
        else:
            run = yandex_export_import(
                actor=request.user,
                tenant=source.tenant,
                file=data["stream"],
                file_name=data["file_name"],
                source_key=source.source_key_for(data["file_name"]),
                day=data.get("day"),
                policy=data.get("policy") or source.policy,
                connection=source.connection,
                force=data["force"],
            )
        body = s.ImportRunSerializer(run, context=self.get_serializer_context()).data
        if run.status == ImportRun.Status.FAILED:
            return Response(
                {"detail": run.error, "import_run": body}, status=status.HTTP_400_BAD_REQUEST
            )
        location = reverse("api:importrun-detail", kwargs={"pk": run.pk})
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": location})


def _bool_param(params, name: str) -> bool:
    value = params.get(name, "").strip().lower()
    if value not in _TRUE + _FALSE:
        raise serializers.ValidationError({name: [f"{name} must be true or false."]})
    return value in _TRUE


_QUERY_PARAMETERS = [
    OpenApiParameter(
        "tenant",
        OpenApiTypes.STR,
        description="Tenant id or slug; required when you can view several tenants' costs.",
    ),
    OpenApiParameter(
        "group_by",
        OpenApiTypes.STR,
        description="Comma-separated: day, month, provider, service, service_category, region, "
        "sub_account, sub_account_name, resource, connection, charge_category, billing_currency, "
        "business_unit, project, feature, environment, cost_center (named; the id is beside "
        "the name as <dimension>_id), estimated, tag:<key>, vtag:<virtual tag key>.",
    ),
    OpenApiParameter(
        "estimates",
        OpenApiTypes.STR,
        enum=list(query.ESTIMATES),
        description="Estimated costs (inventory x price list, not billed): exclude (default: "
        "billed costs only), include, or only. `estimated_totals` in the answer is the "
        "estimated part either way; group by `estimated` to see the two apart.",
    ),
    OpenApiParameter(
        "allocation",
        OpenApiTypes.STR,
        enum=list(query.ALLOCATION_CHOICES),
        description="Shared costs: exclude (default: direct costs as billed) or include (pools "
        "split over their targets by the shared-cost rules; totals unchanged, each row adds "
        "`allocated_cost`, the answer adds `allocation_totals` with pooled, allocated and "
        "unallocated amounts).",
    ),
    OpenApiParameter("start", OpenApiTypes.DATE, description="First day (tenant's time zone)."),
    OpenApiParameter("end", OpenApiTypes.DATE, description="Last day, inclusive."),
    OpenApiParameter("currency", OpenApiTypes.STR, description="Default: the tenant's."),
    OpenApiParameter("amounts", OpenApiTypes.STR, enum=["gross", "net"]),
    OpenApiParameter("order", OpenApiTypes.STR, description="e.g. -billed_cost or month."),
    OpenApiParameter("limit", OpenApiTypes.INT, description="Rows (default 10000)."),
    OpenApiParameter("tag", OpenApiTypes.STR, description="key:value filter, repeatable."),
    OpenApiParameter(
        "vtag", OpenApiTypes.STR, description="Virtual tag key:value filter, repeatable."
    ),
    *(
        OpenApiParameter(name, OpenApiTypes.STR, description="Filter, repeatable.")
        for name in query.FILTERABLE
    ),
]


class CostQueryView(APIView):
    """Costs grouped by any dimensions over the daily rollups, in the tenant's reporting currency
    (converted per day), gross or net of VAT as the tenant chose. Amounts are Decimal strings.
    Filters: repeat a parameter for several values (`service=A&service=B`). Billed costs only
    unless `estimates` asks for estimated ones (`estimated_totals` reports them either way)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(parameters=_QUERY_PARAMETERS, responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        params = request.query_params
        try:
            tenant = query.cost_tenant_for(request.user, params.get("tenant"))
            spec = query.CostQuery(
                tenant=tenant,
                group_by=query.parse_group_by(params.get("group_by")),
                start=_date_param(params, "start"),
                end=_date_param(params, "end"),
                filters={
                    name: params.getlist(name)
                    for name in (*query.FILTERABLE, *query.ALIASES)
                    if name in params
                },
                tags=_tag_params(params.getlist("tag")),
                vtags=_tag_params(params.getlist("vtag"), "vtag"),
                currency=params.get("currency") or None,
                amounts=_given(params, "amounts"),
                order=params.get("order") or None,
                limit=_int_param(params, "limit", query.DEFAULT_LIMIT),
                estimates=_given(params, "estimates") or query.EXCLUDE,
                allocation=_given(params, "allocation") or query.EXCLUDE,
                viewer=request.user,
            )
            result = query.run_cost_query(spec)
        except query.QueryError as exc:
            body = {exc.param or "detail": [str(exc)]}
            if exc.missing_rates:
                body["missing_rates"] = exc.missing_rates
            if exc.status == 403:
                return Response({"detail": str(exc)}, status=status.HTTP_403_FORBIDDEN)
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
        return Response(query.result_json(result, tenant))


class CostExportView(APIView):
    """A tenant's costs for one month (of ChargePeriodStart, UTC) as a FOCUS file, streamed:
    `format=csv` (default) or `parquet`, `version=1.2` (default) or `1.3`. Passes our conformance
    checker (manage.py focus_check)."""

    permission_classes = [IsAuthenticated]

    def perform_content_negotiation(self, request, force=False):
        # `format` names the file format here, not DRF's renderer override: errors stay JSON.
        renderer = self.get_renderers()[0]
        return renderer, renderer.media_type

    @extend_schema(
        parameters=[
            OpenApiParameter("tenant", OpenApiTypes.STR, description="Tenant id or slug."),
            OpenApiParameter(
                "period", OpenApiTypes.STR, description="YYYY-MM (default: this month, UTC)."
            ),
            OpenApiParameter("format", OpenApiTypes.STR, enum=list(export.FORMATS)),
            OpenApiParameter(
                "version",
                OpenApiTypes.STR,
                enum=list(export.EXPORT_VERSIONS),
                description=f"FOCUS version of the file (default {export.DEFAULT_VERSION}).",
            ),
            OpenApiParameter(
                "escape_formulas",
                OpenApiTypes.BOOL,
                description="CSV only: prefix cells that a spreadsheet would run as a formula "
                "(leading =, +, -, @, tab, CR; plain numbers excepted) with a quote. Default "
                "false: exact values, as FOCUS tools need. For files people open in Excel.",
            ),
        ],
        responses={
            (200, media_type.split(";")[0]): OpenApiTypes.BINARY
            for media_type in export.CONTENT_TYPES.values()
        },
    )
    def get(self, request):
        params = request.query_params
        try:
            tenant = query.cost_tenant_for(request.user, params.get("tenant"))
            period = params.get("period") or timezone.now().astimezone(dt.UTC).strftime("%Y-%m")
            start, end = export.parse_period(period)
            fmt = export.parse_format(params.get("format"))
            version = export.parse_version(params.get("version"))
            escape = params.get("escape_formulas", "false").lower()
            if escape not in ("true", "false", "1", "0"):
                raise export.ExportError(f"escape_formulas must be true or false (got {escape!r})")
        except query.QueryError as exc:
            code = status.HTTP_403_FORBIDDEN if exc.status == 403 else status.HTTP_400_BAD_REQUEST
            return Response({exc.param or "detail": [str(exc)]}, status=code)
        except export.ExportError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        plan = export.export_plan(
            tenant.pk, start, end, version=version, scope=query.viewer_scope(request.user, tenant)
        )
        response = StreamingHttpResponse(
            export.stream_export(plan, fmt, escape_formulas=escape in ("true", "1")),
            content_type=export.CONTENT_TYPES[fmt],
        )
        name = export.file_name(tenant, period, fmt)
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        response["X-Focus-Rows"] = str(plan.rows)
        response["X-Focus-Version"] = plan.version
        return response


_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_INTEGER = re.compile(r"-?[0-9]{1,18}")


def _date_param(params, name: str) -> dt.date | None:
    # Absent means "the default"; present but empty or not YYYY-MM-DD is a mistake to report.
    if name not in params:
        return None
    value = params.get(name)
    try:
        if not _DATE.fullmatch(value):
            raise ValueError
        return dt.date.fromisoformat(value)
    except ValueError:
        raise query.QueryError(
            f"{name} must be a date as YYYY-MM-DD (got {value!r}).", param=name
        ) from None


def _int_param(params, name: str, default: int) -> int:
    if name not in params:
        return default
    value = params.get(name)
    if not _INTEGER.fullmatch(value):
        raise query.QueryError(f"{name} must be a whole number (got {value!r}).", param=name)
    return int(value)


def _given(params, name: str) -> str | None:
    """A parameter's value; None when absent; a 400 when present but empty."""
    if name not in params:
        return None
    value = params.get(name)
    if not value:
        raise query.QueryError(f"Give {name} a value, or leave it out.", param=name)
    return value


def _tag_params(values: list[str], param: str = "tag") -> list[tuple[str, str]]:
    pairs = []
    for item in values:
        key, sep, value = item.partition(":")
        if not sep or not key:
            raise query.QueryError(
                f"Use {param}=key:value, e.g. {param}=env:prod (got {item!r}).", param=param
            )
        pairs.append((key, value))
    return pairs
