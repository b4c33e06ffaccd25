from providers.models.connections import Connection, ProviderType
from providers.models.metrics import ResourceMetric, ResourceMetricDaily
from providers.models.resources import Resource, ResourceEvent
from providers.models.sync_runs import SyncRun

__all__ = [
    "Connection",
    "ProviderType",
    "Resource",
    "ResourceEvent",
    "ResourceMetric",
    "ResourceMetricDaily",
    "SyncRun",
]
