"""Estimated costs for providers without a cost API (``CostCapability.ESTIMATE``, VK Cloud): the
connection's stored inventory x the operators' price list (``ProviderPrice``), per day of the
provider's billing time zone.

A cost API source (``provider_api``) on such a connection pulls these instead of calling the
adapter (``ApiPull``): the rows are flagged ``x_estimated``, left out of billed totals unless a
query asks for them, and never exported as FOCUS. For each day, resource and price metric:
hours the resource existed that day (from its creation at the provider, or when we first saw it,
until it was marked deleted or now; a started hour counts) x quantity (1, vCPUs, GiB of memory
or storage) x the price in force that day (the newest ``valid_from`` on or before it; a price for
the resource's variant — disk type or flavor — beats the one for any), rounded to kopecks.

What the inventory never saw (resources created and deleted between two syncs, or before the
first) is not estimated; what the price list lacks costs nothing, and ``missing`` says which
types had no price.
"""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from collections import defaultdict
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Q
from django.utils import timezone

from providers.adapters.base import CostPeriod, CostRecord
from providers.adapters.registry import provider_spec
from providers.adapters.spec import CostCapability
from providers.models import Connection, ProviderPrice, Resource

GIB = Decimal(1024**3)
KOPECK = Decimal("0.01")


def estimates_only(spec) -> bool:
    """The provider's costs are estimated here, not read from a cost API."""
    costs = spec.capabilities.costs
    return CostCapability.ESTIMATE in costs and CostCapability.API not in costs


def _quantity(metric: str, specs: dict) -> Decimal:
    if metric == ProviderPrice.Metric.HOUR:
        return Decimal(1)
    if metric == ProviderPrice.Metric.VCPU_HOUR:
        return Decimal(int(specs.get("vcpu") or 0))
    if metric == ProviderPrice.Metric.MEMORY_GIB_HOUR:
        return Decimal(int(specs.get("memory_bytes") or 0)) / GIB
    return Decimal(int(specs.get("storage_bytes") or 0)) / GIB


def _variant(resource: Resource) -> str:
    props = resource.properties or {}
    return str(props.get("volume_type") or props.get("flavor") or "")


class PriceList:
    """A provider's prices by (resource type, metric, variant), each a date-sorted history."""

    def __init__(self, provider: str, until: dt.date) -> None:
        self.history: dict[tuple[str, str, str], list[ProviderPrice]] = defaultdict(list)
        for price in ProviderPrice.objects.filter(
            provider=provider, valid_from__lte=until
        ).order_by("valid_from"):
            self.history[(price.resource_type, price.metric, price.variant)].append(price)
        self.types = {key[0] for key in self.history}

    def in_force(self, resource_type: str, variant: str, day: dt.date) -> list[ProviderPrice]:
        """The price of each metric for this type and variant on ``day``."""
        chosen: dict[str, ProviderPrice] = {}
        for (type_, metric, price_variant), history in self.history.items():
            if type_ != resource_type or price_variant not in ("", variant):
                continue
            current = None
            for price in history:
                if price.valid_from <= day:
                    current = price
            if current is None:
                continue
            if metric not in chosen or (price_variant and not chosen[metric].variant):
                chosen[metric] = current
        return list(chosen.values())


class EstimateSource:
    """Looks like a cost adapter to the pull (``costs``, ``cost_estimates``, ``api_calls``)."""

    cost_estimates = True
    cost_extensions = ("estimate_metric",)
    api_calls = 0

    def __init__(self, connection: Connection, *, now: dt.datetime | None = None) -> None:
        self.connection = connection
        self.spec = provider_spec(connection.provider)
        self.tz = zoneinfo.ZoneInfo(self.spec.billing_time_zone)
        self.now = now or timezone.now()
        self.missing: set[str] = set()

    def costs(self, period: CostPeriod) -> Iterator[CostRecord]:
        end = min(period.end, self.now)
        if end <= period.start:
            return
        first = period.start.astimezone(self.tz).date()
        last = (end - dt.timedelta(microseconds=1)).astimezone(self.tz).date()
        prices = PriceList(self.connection.provider, last)
        resources = (
            Resource.objects.filter(connection=self.connection, type__in=prices.types)
            .filter(
                Q(provider_created_at__lt=end)
                | Q(provider_created_at__isnull=True, first_seen_at__lt=end)
            )
            .filter(Q(deleted_at__isnull=True) | Q(deleted_at__gt=period.start))
        )
        seen_types = set(
            Resource.objects.filter(connection=self.connection).values_list("type", flat=True)
        )
        self.missing = seen_types - prices.types
        for resource in resources.order_by("pk").iterator(chunk_size=2000):
            born = resource.provider_created_at or resource.first_seen_at
            gone = resource.deleted_at or self.now
            day = first
            while day <= last:
                low = dt.datetime.combine(day, dt.time.min, tzinfo=self.tz)
                high = low + dt.timedelta(days=1)
                start, stop = max(low, born, period.start), min(high, gone, end)
                if stop > start:
                    hours = Decimal(math.ceil((stop - start).total_seconds() / 3600))
                    yield from self._records(resource, prices, day, low, high, hours)
                day += dt.timedelta(days=1)

    def _records(self, resource, prices, day, low, high, hours) -> Iterator[CostRecord]:
        for price in prices.in_force(resource.type, _variant(resource), day):
            quantity = _quantity(price.metric, resource.specs or {})
            if not quantity:
                continue
            amount = (hours * quantity * price.price).quantize(KOPECK, rounding=ROUND_HALF_UP)
            yield CostRecord(
                charge_period_start=low.astimezone(dt.UTC),
                charge_period_end=high.astimezone(dt.UTC),
                billed_cost=amount,
                effective_cost=amount,
                list_cost=amount,
                list_unit_price=price.price,
                billing_currency=price.currency,
                charge_description=f"Estimate: {price.get_metric_display()}",
                service_name=resource.get_type_display(),
                resource_id=resource.provider_id,
                resource_name=resource.name or None,
                resource_type=resource.type,
                region_id=resource.region or None,
                sub_account_id=resource.sub_account or None,
                sku_id=f"{resource.type}:{price.metric}:{price.variant or '*'}",
                sku_price_id=str(price.pk),
                pricing_quantity=hours * quantity,
                pricing_unit=price.metric,
                consumed_quantity=hours,
                consumed_unit="Hours",
                tags=resource.labels or None,
                extensions={"estimate_metric": price.metric},
            )
