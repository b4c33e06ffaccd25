"""Allocation API: dimensions, tag aliases and required tags, virtual tags, mapping rules (with
previews) and their runs, tag discovery and the tagging-policy compliance report. Thin views:
writes are service calls, reports are selectors."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from allocation import exports, selectors
from allocation import filtersets as f
from allocation.api import serializers as s
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
from allocation.preview import last_month, month_range
from allocation.services.billing import (
    invoice_delete,
    invoice_email,
    invoice_generate,
    invoice_issue,
    invoice_reissue,
    price_book_charge_create,
    price_book_charge_delete,
    price_book_charge_update,
    price_book_create,
    price_book_delete,
    price_book_rule_create,
    price_book_rule_delete,
    price_book_rule_update,
    price_book_update,
)
from allocation.services.dimensions import dimension_create, dimension_delete, dimension_update
from allocation.services.metrics import (
    MAX_CSV_BYTES,
    business_metric_create,
    business_metric_csv_import,
    business_metric_delete,
    business_metric_points_upsert,
    business_metric_pull,
    business_metric_update,
)
from allocation.services.rules import tag_rule_create, tag_rule_delete, tag_rule_update
from allocation.services.runs import mapping_run_request
from allocation.services.shared import (
    allocation_rule_create,
    allocation_rule_delete,
    allocation_rule_update,
    allocation_run_request,
)
from allocation.services.tags import (
    required_tag_create,
    required_tag_delete,
    required_tag_update,
    tag_alias_create,
    tag_alias_delete,
    virtual_tag_create,
    virtual_tag_delete,
    virtual_tag_update,
)
from core.api.base import TenantScopedViewSet
from core.api.schema import VALIDATION_ERROR
from providers.costs.query import QueryError, amount_text, cost_tenant_for


class _ServiceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """Create, PATCH and DELETE through services (``service_create`` … on the subclass)."""

    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        obj = self.service_create(dict(serializer.validated_data))
        return Response(self.get_serializer(obj).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        serializer = self.get_serializer(self.get_object(), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        obj = self.service_update(serializer.instance, dict(serializer.validated_data))
        return Response(self.get_serializer(obj).data)

    def destroy(self, request, *args, **kwargs):
        self.service_delete(self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class _DimensionViewSet(_ServiceViewSet):
    kind = ""
    ordering_fields = ["name", "code", "created_at"]

    def service_create(self, data):
        return dimension_create(actor=self.request.user, kind=self.kind, **data)

    def service_update(self, instance, data):
        return dimension_update(actor=self.request.user, dimension=instance, **data)

    def service_delete(self, instance):
        dimension_delete(actor=self.request.user, dimension=instance)


class BusinessUnitViewSet(_DimensionViewSet):
    """Business units: the top of the business hierarchy (projects belong to one)."""

    kind = "business_unit"
    queryset = BusinessUnit.objects.select_related("owner")
    serializer_class = s.BusinessUnitSerializer
    filterset_class = f.BusinessUnitFilterSet


class ProjectViewSet(_DimensionViewSet):
    """Projects, each under a business unit. Moving one re-applies the mapping rules."""

    kind = "project"
    queryset = Project.objects.select_related("owner")
    serializer_class = s.ProjectSerializer
    filterset_class = f.ProjectFilterSet


class FeatureViewSet(_DimensionViewSet):
    """Features, each under a project."""

    kind = "feature"
    queryset = Feature.objects.select_related("owner")
    serializer_class = s.FeatureSerializer
    filterset_class = f.FeatureFilterSet


class EnvironmentViewSet(_DimensionViewSet):
    """Environments (prod, staging, …)."""

    kind = "environment"
    queryset = Environment.objects.select_related("owner")
    serializer_class = s.EnvironmentSerializer
    filterset_class = f.EnvironmentFilterSet


class CostCenterViewSet(_DimensionViewSet):
    """Cost centers (with your accounting codes)."""

    kind = "cost_center"
    queryset = CostCenter.objects.select_related("owner")
    serializer_class = s.CostCenterSerializer
    filterset_class = f.CostCenterFilterSet


class TagAliasViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    TenantScopedViewSet,
):
    """Tag normalisation: key aliases (``Env``, ``environment`` → ``env``, any case) and value
    aliases (``env``: ``production`` → ``prod``). Adding or removing one re-applies the rules."""

    queryset = TagAlias.objects.all()
    serializer_class = s.TagAliasSerializer
    filterset_class = f.TagAliasFilterSet
    ordering_fields = ["kind", "key", "canonical", "created_at"]

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        alias = tag_alias_create(actor=request.user, **serializer.validated_data)
        return Response(self.get_serializer(alias).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        tag_alias_delete(actor=self.request.user, alias=instance)


class RequiredTagViewSet(_ServiceViewSet):
    """The tagging policy: tag keys every resource and cost row should carry."""

    queryset = RequiredTag.objects.all()
    serializer_class = s.RequiredTagSerializer
    filterset_class = f.RequiredTagFilterSet
    ordering_fields = ["key", "created_at"]

    def service_create(self, data):
        return required_tag_create(actor=self.request.user, **data)

    def service_update(self, instance, data):
        return required_tag_update(actor=self.request.user, required_tag=instance, **data)

    def service_delete(self, instance):
        required_tag_delete(actor=self.request.user, required_tag=instance)


class VirtualTagViewSet(_ServiceViewSet):
    """Virtual tags: keys whose values the mapping rules set (group costs by them with
    ``group_by=vtag:<key>`` in /cost-query/)."""

    queryset = VirtualTag.objects.all()
    serializer_class = s.VirtualTagSerializer
    filterset_class = f.VirtualTagFilterSet
    ordering_fields = ["key", "created_at"]

    def service_create(self, data):
        return virtual_tag_create(actor=self.request.user, **data)

    def service_update(self, instance, data):
        return virtual_tag_update(actor=self.request.user, virtual_tag=instance, **data)

    def service_delete(self, instance):
        virtual_tag_delete(actor=self.request.user, virtual_tag=instance)


class TagRuleViewSet(_ServiceViewSet):
    """Mapping rules, in the order they are tried. Each change re-applies the rules to the cost
    history (a run under /mapping-runs/); every import applies them to its rows.
    POST /tag-rules/preview/ says what a rule would do before it is saved."""

    queryset = TagRule.objects.select_related("virtual_tag")
    serializer_class = s.TagRuleSerializer
    filterset_class = f.TagRuleFilterSet
    ordering_fields = ["position", "name", "created_at"]
    action_map = {"preview": "add"}

    def get_serializer_class(self):
        if self.action == "preview":
            return s.TagRulePreviewSerializer
        return s.TagRuleSerializer

    def service_create(self, data):
        return tag_rule_create(actor=self.request.user, **data)

    def service_update(self, instance, data):
        return tag_rule_update(actor=self.request.user, rule=instance, **data)

    def service_delete(self, instance):
        tag_rule_delete(actor=self.request.user, rule=instance)

    @extend_schema(
        request=s.TagRulePreviewSerializer,
        responses={200: OpenApiTypes.OBJECT},
        parameters=[
            OpenApiParameter(
                "rule",
                OpenApiTypes.INT,
                description="Preview a change of this rule (the body is its new version).",
            )
        ],
    )
    @action(detail=False, methods=["post"])
    def preview(self, request):
        """What the rule in the body would do if saved (nothing is saved): rows and cost it
        matches in the period, and per output (hierarchy, environment, cost center, virtual
        tag) the rows it would win, take from other rules, or leave to earlier ones."""
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        period = data.pop("period", None)
        existing = self._existing(request.query_params.get("rule"), data["tenant"])
        rule = TagRule(**data)
        if existing is not None:
            rule.pk = existing.pk
            if rule.position is None:
                rule.position = existing.position
        tenant = data["tenant"]
        if period:
            start, end = month_range(tenant, dt.date.fromisoformat(f"{period}-01"))
        else:
            start, end = last_month(tenant)
        preview = selectors.tag_rule_preview(user=request.user, rule=rule, start=start, end=end)
        return Response(preview.as_dict())

    def _existing(self, value, tenant):
        if value in (None, ""):
            return None
        if not re.fullmatch(r"[0-9]{1,18}", value):
            raise ValidationError({"rule": ["A rule id."]})
        rule = (
            TagRule.objects.for_user(self.request.user, "view")
            .filter(pk=int(value), tenant=tenant)
            .first()
        )
        if rule is None:
            raise ValidationError({"rule": ["No such rule in this tenant."]})
        return rule


class MappingRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """Re-applications of the mapping rules, newest first, with progress while running. POST
    asks for one (201): the whole history, or [first_day, last_day] (tenant-local days)."""

    queryset = MappingRun.objects.all()
    serializer_class = s.MappingRunSerializer
    filterset_class = f.MappingRunFilterSet
    ordering_fields = ["created_at", "status"]

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        run = mapping_run_request(actor=request.user, **serializer.validated_data)
        return Response(self.get_serializer(run).data, status=status.HTTP_201_CREATED)


# --- shared costs ------------------------------------------------------------------------------
class AllocationRuleViewSet(_ServiceViewSet):
    """Shared-cost rules, in the order they claim cost rows (a row joins the first pool it
    matches). Each change recomputes the history (a run under /allocation-runs/); every import
    and every mapping run recomputes the days it touched."""

    queryset = AllocationRule.objects.all()
    serializer_class = s.AllocationRuleSerializer
    filterset_class = f.AllocationRuleFilterSet
    ordering_fields = ["position", "name", "created_at"]

    def service_create(self, data):
        return allocation_rule_create(actor=self.request.user, **data)

    def service_update(self, instance, data):
        return allocation_rule_update(actor=self.request.user, rule=instance, **data)

    def service_delete(self, instance):
        allocation_rule_delete(actor=self.request.user, rule=instance)


class AllocationRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """Recomputations of the shared costs, newest first, with progress while running. POST
    asks for one (201): the whole history, or [first_day, last_day] (tenant-local days)."""

    queryset = AllocationRun.objects.all()
    serializer_class = s.AllocationRunSerializer
    filterset_class = f.AllocationRunFilterSet
    ordering_fields = ["created_at", "status"]

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        run = allocation_run_request(actor=request.user, **serializer.validated_data)
        return Response(self.get_serializer(run).data, status=status.HTTP_201_CREATED)


class AllocatedCostViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """The daily shared-cost results (read-only): per rule, day and currency the pool taken
    away, each target's share and the unallocated rest, summing to zero. For costs after
    allocation by any dimension use /cost-query/?allocation=include."""

    queryset = AllocatedCost.objects.all()
    serializer_class = s.AllocatedCostSerializer
    filterset_class = f.AllocatedCostFilterSet
    ordering_fields = ["day", "rule", "kind"]


# --- reports --------------------------------------------------------------------------------
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MONTH = re.compile(r"[0-9]{4}-[0-9]{2}")
MAX_REPORT_DAYS = 366


def _date(params, name: str) -> dt.date | None:
    if name not in params:
        return None
    value = params.get(name)
    try:
        if not _DATE.fullmatch(value or ""):
            raise ValueError
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationError({name: [f"{name} must be a date as YYYY-MM-DD."]}) from None


def _days(params, tenant) -> tuple[dt.date, dt.date]:
    first, last = _date(params, "start"), _date(params, "end")
    if first is None and last is None:
        today = timezone.now().astimezone(zoneinfo.ZoneInfo(tenant.time_zone)).date()
        return today.replace(day=1), today
    if first is None or last is None:
        raise ValidationError({"start": ["Give both start and end, or neither (this month)."]})
    if last < first:
        raise ValidationError({"end": ["end must not be before start."]})
    if (last - first).days + 1 > MAX_REPORT_DAYS:
        raise ValidationError({"end": [f"At most {MAX_REPORT_DAYS} days."]})
    return first, last


def _tenant(request):
    try:
        return cost_tenant_for(request.user, request.query_params.get("tenant"))
    except QueryError as exc:
        if exc.status == 403:
            from rest_framework.exceptions import PermissionDenied

            raise PermissionDenied(str(exc)) from None
        raise ValidationError({exc.param or "tenant": [str(exc)]}) from None


_REPORT_PARAMETERS = [
    OpenApiParameter(
        "tenant",
        OpenApiTypes.STR,
        description="Tenant id or slug; required when you can view several tenants' costs.",
    ),
    OpenApiParameter("start", OpenApiTypes.DATE, description="First day (default: this month)."),
    OpenApiParameter("end", OpenApiTypes.DATE, description="Last day, inclusive."),
]


def _money(cost: dict) -> dict:
    return {currency: amount_text(value) for currency, value in sorted(cost.items())}


class TagDiscoveryView(APIView):
    """Tag keys found on resources (labels) and cost rows (tags), normalised by the tenant's
    aliases: line items, cost and live resources carrying each, and its spellings. With
    ``key``, that key's values (the most costly first). A member limited to some dimension
    values sees the figures of their rows."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[
            *_REPORT_PARAMETERS,
            OpenApiParameter("key", OpenApiTypes.STR, description="List this key's values."),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        tenant = _tenant(request)
        first, last = _days(request.query_params, tenant)
        key = request.query_params.get("key") or None
        found = selectors.tag_discovery(
            user=request.user, tenant=tenant, first=first, last=last, key=key
        )
        return Response(
            {
                "tenant": tenant.pk,
                "start": first.isoformat(),
                "end": last.isoformat(),
                "total": {
                    "line_items": found.total.line_items,
                    "cost": _money(found.total.cost),
                    "resources": found.total.resources,
                },
                "keys": [
                    {
                        "key": k.key,
                        "spellings": k.spellings,
                        "line_items": k.line_items,
                        "cost": _money(k.cost),
                        "resources": k.resources,
                        "values": k.values,
                    }
                    for k in found.keys
                ],
                "key": found.key,
                "values": [{**v, "cost": _money(v["cost"])} for v in found.values],
            }
        )


class TagComplianceView(APIView):
    """The tagging policy's report: for each required key, the share of cost, line items and
    live resources missing it, the resources missing it that cost most, and the share of cost
    missing it month by month (the last six months up to ``end``)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(parameters=_REPORT_PARAMETERS, responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        tenant = _tenant(request)
        first, last = _days(request.query_params, tenant)
        report = selectors.tag_compliance(user=request.user, tenant=tenant, first=first, last=last)
        return Response(
            {
                "tenant": tenant.pk,
                "start": first.isoformat(),
                "end": last.isoformat(),
                "total": {
                    "line_items": report.total.line_items,
                    "cost": _money(report.total.cost),
                    "resources": report.total.resources,
                },
                "keys": [
                    {
                        "key": k.key,
                        "description": k.description,
                        "missing": {
                            "line_items": k.missing.line_items,
                            "cost": _money(k.missing.cost),
                            "resources": k.missing.resources,
                        },
                        "cost_share_missing": _money(k.cost_share(report.total)),
                        "resource_share_missing": str(
                            round(k.missing.resources / report.total.resources, 6)
                            if report.total.resources
                            else 0
                        ),
                        "top_offenders": [{**o, "cost": str(o["cost"])} for o in k.offenders],
                        "trend": [
                            {
                                "month": t["month"],
                                "cost": _money(t["cost"]),
                                "total": _money(t["total"]),
                            }
                            for t in k.trend
                        ],
                    }
                    for k in report.keys
                ],
            }
        )


# --- unit economics --------------------------------------------------------------------------
def _service_errors(exc) -> dict:
    """A service's ValidationError as DRF error detail (field -> messages)."""
    from rest_framework.serializers import as_serializer_error

    return as_serializer_error(exc)


class BusinessMetricViewSet(_ServiceViewSet):
    """Business metrics for unit economics (cost per order, per active user …).
    POST /business-metrics/{id}/points/ upserts points (all or nothing), .../upload/ takes a
    CSV (multipart ``file``, ``policy``), .../pull/ pulls the metric's URL now. Cost per unit:
    /unit-costs/."""

    queryset = BusinessMetric.objects.all()
    serializer_class = s.BusinessMetricSerializer
    filterset_class = f.BusinessMetricFilterSet
    ordering_fields = ["name", "created_at"]
    action_map = {"points": "change", "upload": "change", "pull": "change"}

    def get_serializer_class(self):
        return {
            "points": s.MetricPointsSerializer,
            "upload": s.MetricUploadSerializer,
        }.get(self.action, s.BusinessMetricSerializer)

    def service_create(self, data):
        return business_metric_create(actor=self.request.user, **data)

    def service_update(self, instance, data):
        return business_metric_update(actor=self.request.user, metric=instance, **data)

    def service_delete(self, instance):
        business_metric_delete(actor=self.request.user, metric=instance)

    @extend_schema(request=s.MetricPointsSerializer, responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def points(self, request, pk=None):
        """Insert or replace points; one bad point stores nothing (400 names it)."""
        metric = self.get_object()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            result = business_metric_points_upsert(
                actor=request.user, metric=metric, points=serializer.validated_data["points"]
            )
        except DjangoValidationError as exc:
            raise ValidationError(_service_errors(exc)) from None
        return Response(result.as_dict())

    @extend_schema(request=s.MetricUploadSerializer, responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser])
    def upload(self, request, pk=None):
        """A CSV of points (header date,value[,dimension_value]); bad lines are reported with
        their line number and reason."""
        metric = self.get_object()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        if upload.size > MAX_CSV_BYTES:
            raise ValidationError({"file": ["The file is larger than 5 MB."]})
        try:
            result = business_metric_csv_import(
                actor=request.user,
                metric=metric,
                content=upload.read(),
                policy=serializer.validated_data["policy"],
            )
        except DjangoValidationError as exc:
            raise ValidationError(_service_errors(exc)) from None
        return Response(result.as_dict())

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def pull(self, request, pk=None):
        """Pull the metric's URL now (a failure is a 400 and is kept on the metric)."""
        metric = self.get_object()
        try:
            result = business_metric_pull(actor=request.user, metric=metric)
        except DjangoValidationError as exc:
            raise ValidationError(_service_errors(exc)) from None
        return Response(result.as_dict())


class BusinessMetricValueViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet
):
    """Recorded points of business metrics (write them through /business-metrics/{id}/...)."""

    queryset = BusinessMetricValue.objects.all()
    serializer_class = s.BusinessMetricValueSerializer
    filterset_class = f.BusinessMetricValueFilterSet
    ordering_fields = ["day", "value"]


class UnitCostView(APIView):
    """Cost per unit of a business metric by day or month, optionally per value of a
    dimension, with each series' relative change from the previous period (``change``)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[
            *_REPORT_PARAMETERS,
            OpenApiParameter("metric", OpenApiTypes.INT, required=True),
            OpenApiParameter("granularity", OpenApiTypes.STR, description="day or month"),
            OpenApiParameter(
                "group_by",
                OpenApiTypes.STR,
                description="business_unit, project, feature, environment or cost_center",
            ),
            OpenApiParameter("currency", OpenApiTypes.STR),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        tenant = _tenant(request)
        first, last = _days(request.query_params, tenant)
        value = request.query_params.get("metric") or ""
        if not re.fullmatch(r"[0-9]{1,18}", value):
            raise ValidationError({"metric": ["A business metric id is required."]})
        metric = (
            BusinessMetric.objects.for_user(request.user, "view")
            .filter(pk=int(value), tenant=tenant)
            .first()
        )
        if metric is None:
            raise ValidationError({"metric": ["No such business metric in this tenant."]})
        try:
            report = selectors.unit_costs(
                user=request.user,
                tenant=tenant,
                metric=metric,
                start=first,
                end=last,
                granularity=request.query_params.get("granularity") or "month",
                group_by=request.query_params.get("group_by") or None,
                currency=request.query_params.get("currency") or None,
            )
        except selectors.UnitCostError as exc:
            raise ValidationError({exc.param: [str(exc)]}) from None
        return Response(
            {
                "tenant": tenant.pk,
                "metric": metric.pk,
                "unit": metric.unit,
                "currency": report.currency,
                "granularity": report.granularity,
                "group_by": report.group_by,
                "start": report.start.isoformat(),
                "end": report.end.isoformat(),
                "rows": [row.as_dict() for row in report.rows],
                "totals": [row.as_dict() for row in report.totals],
            }
        )


# --- chargeback ------------------------------------------------------------------------------
# A delete the service refuses (an issued invoice, a price book with invoices) is a 400.
REFUSABLE_DELETE = extend_schema_view(
    destroy=extend_schema(responses={204: None, 400: VALIDATION_ERROR})
)


@REFUSABLE_DELETE
class PriceBookViewSet(_ServiceViewSet):
    """Client price books (MSP operators: ``manage_billing``). Rules: /price-book-rules/;
    fixed fees and custom lines: /price-book-charges/."""

    queryset = PriceBook.objects.select_related("tenant")
    serializer_class = s.PriceBookSerializer
    filterset_class = f.PriceBookFilterSet
    ordering_fields = ["valid_from", "name", "created_at"]

    def service_create(self, data):
        return price_book_create(actor=self.request.user, **data)

    def service_update(self, instance, data):
        return price_book_update(actor=self.request.user, price_book=instance, **data)

    def service_delete(self, instance):
        price_book_delete(actor=self.request.user, price_book=instance)


class PriceBookRuleViewSet(_ServiceViewSet):
    """Markups per provider or provider and service, inside a price book."""

    queryset = PriceBookRule.objects.all()
    serializer_class = s.PriceBookRuleSerializer
    filterset_class = f.PriceBookRuleFilterSet
    ordering_fields = ["provider_name", "service_name"]

    def service_create(self, data):
        return price_book_rule_create(actor=self.request.user, **data)

    def service_update(self, instance, data):
        return price_book_rule_update(actor=self.request.user, rule=instance, **data)

    def service_delete(self, instance):
        price_book_rule_delete(actor=self.request.user, rule=instance)


class PriceBookChargeViewSet(_ServiceViewSet):
    """Fixed fees and custom lines of a price book."""

    queryset = PriceBookCharge.objects.all()
    serializer_class = s.PriceBookChargeSerializer
    filterset_class = f.PriceBookChargeFilterSet
    ordering_fields = ["kind", "month", "amount"]

    def service_create(self, data):
        return price_book_charge_create(actor=self.request.user, **data)

    def service_update(self, instance, data):
        return price_book_charge_update(actor=self.request.user, charge=instance, **data)

    def service_delete(self, instance):
        price_book_charge_delete(actor=self.request.user, charge=instance)


@REFUSABLE_DELETE
class InvoiceViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    TenantScopedViewSet,
):
    """Invoices. Customers (``view_costs``) see theirs without provider cost and margin. POST
    (MSP operators) builds the month's draft; then /issue/, /reissue/ (a new version, with a
    ``reason``), /email/, /lines/ and /export/?file_type=csv|xlsx|pdf|focus_invoice_detail|
    focus_billing_period (&audience=internal adds cost and margin, for ``view_margin``)."""

    queryset = Invoice.objects.select_related("tenant", "supersedes")
    serializer_class = s.InvoiceSerializer
    filterset_class = f.InvoiceFilterSet
    ordering_fields = ["period_start", "version", "created_at", "total_amount"]
    action_map = {"issue": "change", "reissue": "change", "email": "change"}

    def get_serializer_class(self):
        if self.action == "reissue":
            return s.InvoiceReissueSerializer
        return s.InvoiceSerializer

    def get_queryset(self):
        return selectors.invoices_for(self.request.user, super().get_queryset())

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invoice = invoice_generate(actor=request.user, **serializer.validated_data)
        return Response(self.get_serializer(invoice).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        invoice_delete(actor=self.request.user, invoice=instance)

    @extend_schema(request=None, responses={200: s.InvoiceSerializer})
    @action(detail=True, methods=["post"])
    def issue(self, request, pk=None):
        invoice = invoice_issue(actor=request.user, invoice=self.get_object())
        return Response(s.InvoiceSerializer(invoice, context=self.get_serializer_context()).data)

    @extend_schema(request=s.InvoiceReissueSerializer, responses={201: s.InvoiceSerializer})
    @action(detail=True, methods=["post"])
    def reissue(self, request, pk=None):
        invoice = self.get_object()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        new = invoice_reissue(
            actor=request.user, invoice=invoice, reason=serializer.validated_data["reason"]
        )
        return Response(
            s.InvoiceSerializer(new, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=None, responses={200: s.InvoiceSerializer})
    @action(detail=True, methods=["post"])
    def email(self, request, pk=None):
        invoice = invoice_email(actor=request.user, invoice=self.get_object())
        return Response(s.InvoiceSerializer(invoice, context=self.get_serializer_context()).data)

    @extend_schema(responses={200: s.InvoiceLineSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def lines(self, request, pk=None):
        invoice = self.get_object()
        rows = invoice.lines.order_by("position")
        page = self.paginate_queryset(rows)
        data = s.InvoiceLineSerializer(page, many=True, context=self.get_serializer_context()).data
        return self.get_paginated_response(data)

    @extend_schema(
        parameters=[
            OpenApiParameter("file_type", OpenApiTypes.STR, description=", ".join(exports.FORMATS)),
            OpenApiParameter("audience", OpenApiTypes.STR, description="customer or internal"),
        ],
        responses={
            (200, media_type.split(";")[0]): OpenApiTypes.BINARY
            for media_type in sorted(set(exports.CONTENT_TYPES.values()))
        },
    )
    @action(detail=True, methods=["get"], url_path="export")
    def export(self, request, pk=None):
        invoice = self.get_object()
        fmt = request.query_params.get("file_type") or "csv"
        if fmt not in exports.FORMATS:
            raise ValidationError({"file_type": [f"Choose one of: {', '.join(exports.FORMATS)}."]})
        audience = request.query_params.get("audience") or "customer"
        if audience not in ("customer", "internal"):
            raise ValidationError({"audience": ["customer or internal."]})
        internal = audience == "internal"
        if internal and not selectors.can_view_margin(request.user, invoice.tenant):
            raise ValidationError({"audience": ["Only MSP operators see the internal version."]})
        name, content_type, content = exports.render(invoice, fmt, internal=internal)
        response = HttpResponse(content, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


class ChargebackView(APIView):
    """Showback/chargeback for a period: per value of ``dimension`` (or the whole tenant),
    direct and shared cost and the customer amount under the client's price book. Provider
    cost and margin are shown to MSP operators (``view_margin``) only."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[
            *_REPORT_PARAMETERS,
            OpenApiParameter(
                "dimension",
                OpenApiTypes.STR,
                description="business_unit, project, feature, environment or cost_center",
            ),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        from rest_framework.exceptions import PermissionDenied

        tenant = _tenant(request)
        first, last = _days(request.query_params, tenant)
        try:
            report = selectors.chargeback_report(
                user=request.user,
                tenant=tenant,
                start=first,
                end=last,
                dimension=request.query_params.get("dimension") or None,
            )
        except selectors.UnitCostError as exc:
            raise ValidationError({exc.param: [str(exc)]}) from None
        except DjangoPermissionDenied as exc:
            raise PermissionDenied(str(exc)) from None
        margin = selectors.can_view_margin(request.user, tenant)

        def row(r) -> dict:
            data = {
                "dimension_id": r.dimension_id,
                "dimension": r.dimension,
                "amount": amount_text(r.amount),
            }
            if margin:
                data |= {
                    "direct_cost": amount_text(r.direct),
                    "shared_cost": amount_text(r.shared),
                    "provider_cost": amount_text(r.provider_cost),
                    "margin": amount_text(r.margin),
                }
            return data

        return Response(
            {
                "tenant": tenant.pk,
                "start": first.isoformat(),
                "end": last.isoformat(),
                "currency": report.currency,
                "dimension": report.dimension,
                "price_book": report.price_book.pk if report.price_book and margin else None,
                "rows": [row(r) for r in report.rows],
                "total": row(report.total),
            }
        )
