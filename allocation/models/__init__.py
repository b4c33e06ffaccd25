from allocation.models.billing import (
    Invoice,
    InvoiceLine,
    PriceBook,
    PriceBookCharge,
    PriceBookRule,
)
from allocation.models.dimensions import (
    DIMENSION_MODELS,
    HIERARCHY,
    BusinessUnit,
    CostCenter,
    Dimension,
    Environment,
    Feature,
    Project,
)
from allocation.models.metrics import BusinessMetric, BusinessMetricValue
from allocation.models.rules import TagRule, VirtualTag
from allocation.models.runs import MappingRun
from allocation.models.shared import AllocatedCost, AllocationRule, AllocationRun
from allocation.models.tags import RequiredTag, TagAlias

__all__ = [
    "DIMENSION_MODELS",
    "HIERARCHY",
    "AllocatedCost",
    "AllocationRule",
    "AllocationRun",
    "BusinessMetric",
    "BusinessMetricValue",
    "BusinessUnit",
    "CostCenter",
    "Dimension",
    "Environment",
    "Feature",
    "Invoice",
    "InvoiceLine",
    "MappingRun",
    "PriceBook",
    "PriceBookCharge",
    "PriceBookRule",
    "Project",
    "RequiredTag",
    "TagAlias",
    "TagRule",
    "VirtualTag",
]
