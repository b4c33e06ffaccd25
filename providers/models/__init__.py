from providers.models.balances import BalanceSnapshot
from providers.models.connections import Connection, ProviderType
from providers.models.cost_sources import CostSource, CostSourceObject
from providers.models.costs import (
    CostDaily,
    CostDailySummary,
    CostLineItem,
    ExchangeRate,
    ImportRun,
    VatRule,
)
from providers.models.metrics import ResourceMetric, ResourceMetricDaily
from providers.models.operations import ResourceOperation
from providers.models.prices import ProviderPrice
from providers.models.resources import Resource, ResourceEvent
from providers.models.sync_runs import SyncRun

__all__ = [
    "BalanceSnapshot",
    "Connection",
    "CostDaily",
    "CostDailySummary",
    "CostLineItem",
    "CostSource",
    "CostSourceObject",
    "ExchangeRate",
    "ImportRun",
    "ProviderPrice",
    "ProviderType",
    "Resource",
    "ResourceEvent",
    "ResourceMetric",
    "ResourceMetricDaily",
    "ResourceOperation",
    "SyncRun",
    "VatRule",
]
