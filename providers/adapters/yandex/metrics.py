"""VM CPU utilization from the Yandex Monitoring API.

``cpu_utilization`` is reported per vCPU (label ``cpu_name``) and ranges from 0 to the VM's core
fraction: a 20% VM that is flat out reads 20, not 100. We average across vCPUs and emit two
series per VM:

- ``cpu_utilization``: percent of full vCPUs, as Yandex reports it (0..core_fraction);
- ``cpu_utilization_of_guaranteed``: percent of the guaranteed share (0..100 for a VM within its
  fraction), which is what rightsizing and idle detection must compare against.

Queries are batched per folder (``resource_id="a|b|c"``) so that a fleet costs a few requests,
not one per VM. Each folder is one listing unit (service "monitoring", type vm): a folder whose
metrics the credentials may not read (403) is recorded and skipped, the others are still read,
and the caller keeps the skipped folder's stored samples.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from providers.adapters.base import (
    MetricSample,
    MetricTarget,
    MetricWindow,
    ProviderResponseError,
    ResourceRecord,
    ResourceType,
)
from providers.adapters.listing import ListingReport
from providers.adapters.yandex.client import PROVIDER, YandexClient

CPU_UTILIZATION = "cpu_utilization"
CPU_OF_GUARANTEED = "cpu_utilization_of_guaranteed"
BATCH_SIZE = 50  # VMs per query: keeps the query string well under URL/body limits


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def probe_query() -> dict:
    """The cheapest valid read: one minute of a series that does not exist."""
    return {
        "query": 'cpu_utilization{service="compute", resource_id="infrazen-probe"}',
        "fromTime": "2026-01-01T00:00:00Z",
        "toTime": "2026-01-01T00:01:00Z",
    }


class YandexMetrics:
    def __init__(self, client: YandexClient, report: ListingReport | None = None) -> None:
        self.client = client
        self.report = report or ListingReport()

    def cpu(
        self, targets: Iterable[MetricTarget | ResourceRecord], window: MetricWindow
    ) -> Iterator[MetricSample]:
        by_folder: dict[str, dict[str, int]] = defaultdict(dict)
        for target in targets:
            if str(target.type) != ResourceType.VM:
                continue
            if not target.sub_account:
                raise ValueError(f"VM {target.provider_id} has no folder (sub_account) to query")
            fraction = (target.specs or {}).get("core_fraction") or 100
            by_folder[target.sub_account][target.provider_id] = fraction
        for folder_id, fractions in by_folder.items():
            self.report.visit(folder_id)
            ids = list(fractions)
            with self.report.unit("monitoring", (ResourceType.VM,), folder_id):
                for start in range(0, len(ids), BATCH_SIZE):
                    batch = ids[start : start + BATCH_SIZE]
                    yield from self._read(folder_id, batch, fractions, window)
        self.report.scopes_complete = True

    def _read(
        self, folder_id: str, ids: list[str], fractions: dict[str, int], window: MetricWindow
    ) -> Iterator[MetricSample]:
        body = {
            "query": f'cpu_utilization{{service="compute", resource_id="{"|".join(ids)}"}}',
            "fromTime": _rfc3339(window.start),
            "toTime": _rfc3339(window.end),
            "downsampling": {
                "gridAggregation": "AVG",
                "gapFilling": "NONE",
                "gridInterval": str(int(window.step.total_seconds() * 1000)),
            },
        }
        answer = self.client.call(
            "POST",
            "monitoring",
            "/monitoring/v2/data/read",
            params={"folderId": folder_id},
            json_body=body,
        )
        if not isinstance(answer, dict):
            raise ProviderResponseError(f"{PROVIDER}: monitoring answered a non-object")
        # (vm, timestamp ms) -> per-vCPU values, averaged below.
        points: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
        for series in answer.get("metrics") or ():
            vm = (series.get("labels") or {}).get("resource_id")
            if vm not in fractions:
                continue
            ts = series.get("timeseries") or {}
            values = ts.get("doubleValues")
            if values is None:
                values = ts.get("int64Values") or ()
            for stamp, value in zip(ts.get("timestamps") or (), values, strict=False):
                number = _number(value)
                if number is not None:
                    points[vm][int(stamp)].append(number)
        for vm in ids:
            fraction = fractions[vm]
            for stamp in sorted(points.get(vm, ())):
                per_cpu = points[vm][stamp]
                mean = sum(per_cpu) / len(per_cpu)
                moment = datetime.fromtimestamp(stamp / 1000, UTC)
                yield MetricSample(vm, CPU_UTILIZATION, moment, mean)
                yield MetricSample(vm, CPU_OF_GUARANTEED, moment, mean * 100.0 / fraction)


def _number(value) -> float | None:
    """Gaps come as null or "NaN"; int64 values may be strings."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
