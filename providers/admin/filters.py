"""List filters of the providers admin. Each lists only what the operator may view, and never
runs DISTINCT over a large table."""

from __future__ import annotations

import datetime as dt

from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from providers.models import (
    Connection,
    CostDailySummary,
    CostSource,
    ProviderType,
)


class ConnectionListFilter(admin.SimpleListFilter):
    """Pick a connection; RelatedFieldListFilter would list every tenant's connections."""

    title = _("connection")
    parameter_name = "connection"
    field = "connection_id"  # path from the listed model to the connection's id

    def lookups(self, request, model_admin):
        connections = Connection.objects.for_user(request.user, "view").order_by("name")
        return [(str(c.pk), c.name) for c in connections.only("pk", "name")[:500]]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(**{self.field: self.value()})
        return queryset


class ResourceConnectionListFilter(ConnectionListFilter):
    field = "resource__connection_id"


class ProviderListFilter(admin.SimpleListFilter):
    # From the choices, not SELECT DISTINCT over a table that may hold millions of resources.
    title = _("provider")
    parameter_name = "provider"

    def lookups(self, request, model_admin):
        return ProviderType.choices

    def queryset(self, request, queryset):
        return queryset.filter(provider=self.value()) if self.value() else queryset


class DeletedListFilter(admin.SimpleListFilter):
    title = _("deleted at the provider")
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return [("no", _("No (live)")), ("yes", _("Yes"))]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(deleted_at__isnull=self.value() == "no")
        return queryset


class ChargeMonthListFilter(admin.SimpleListFilter):
    """One month at a time (the current one by default): the partitions prune to it."""

    title = _("month")
    parameter_name = "month"
    field = "charge_period_start"
    months_listed = 24

    def _months(self) -> list[dt.date]:
        today = timezone.now().date().replace(day=1)
        months = [today]
        for _n in range(self.months_listed - 1):
            months.append((months[-1] - dt.timedelta(days=1)).replace(day=1))
        return months

    def lookups(self, request, model_admin):
        return [(f"{m:%Y-%m}", f"{m:%Y-%m}") for m in self._months()]

    def choices(self, changelist):
        current = self.value() or f"{self._months()[0]:%Y-%m}"
        for value, label in self.lookup_choices:
            yield {
                "selected": value == current,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request, queryset):
        value = self.value()
        try:
            first = dt.datetime.strptime(value, "%Y-%m") if value else None
        except ValueError:
            first = None
        first = (first.date() if first else self._months()[0]).replace(day=1)
        following = (first + dt.timedelta(days=32)).replace(day=1)
        if self.field == "day":
            return queryset.filter(day__gte=first, day__lt=following)
        start = dt.datetime.combine(first, dt.time.min, tzinfo=dt.UTC)
        end = dt.datetime.combine(following, dt.time.min, tzinfo=dt.UTC)
        return queryset.filter(charge_period_start__gte=start, charge_period_start__lt=end)


class RollupMonthListFilter(ChargeMonthListFilter):
    field = "day"


class SummaryValueListFilter(admin.SimpleListFilter):
    """Choices from the (small) daily summary the operator may view, not DISTINCT over raw rows."""

    column = ""
    limit = 200

    def lookups(self, request, model_admin):
        values = (
            CostDailySummary.objects.for_user(request.user, "view")
            .exclude(**{f"{self.column}__isnull": True})
            .order_by(self.column)
            .values_list(self.column, flat=True)
            .distinct()[: self.limit]
        )
        return [(v, v) for v in values]

    def queryset(self, request, queryset):
        return queryset.filter(**{self.column: self.value()}) if self.value() else queryset


class CostProviderListFilter(SummaryValueListFilter):
    title = _("provider")
    parameter_name = "provider_name"
    column = "provider_name"


class CostServiceListFilter(SummaryValueListFilter):
    title = _("service")
    parameter_name = "service_name"
    column = "service_name"


class CostSourceListFilter(admin.SimpleListFilter):
    """Pick a cost source; RelatedFieldListFilter would list every tenant's sources."""

    title = _("cost source")
    parameter_name = "source"

    def lookups(self, request, model_admin):
        sources = CostSource.objects.for_user(request.user, "view").order_by("name")
        return [(str(s.pk), s.name) for s in sources.only("pk", "name")[:500]]

    def queryset(self, request, queryset):
        return queryset.filter(source_id=self.value()) if self.value() else queryset
