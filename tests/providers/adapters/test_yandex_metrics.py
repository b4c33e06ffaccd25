from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from providers.adapters.base import MetricTarget, MetricWindow, ResourceType
from providers.adapters.yandex.metrics import CPU_OF_GUARANTEED, CPU_UTILIZATION
from providers.adapters.yandex.simulator import Fault
from providers.adapters.yandex.simulator_monitoring import cpu_value

WINDOW = MetricWindow.lookback(timedelta(hours=6), end=datetime(2026, 2, 8, 12, 30, tzinfo=UTC))


def _vms(adapter):
    return [r for r in adapter.discover() if r.type == ResourceType.VM]


def test_lookback_window_is_aligned_to_its_step():
    assert WINDOW.end == datetime(2026, 2, 8, 12, 0, tzinfo=UTC)
    assert WINDOW.start == datetime(2026, 2, 8, 6, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="aware"):
        MetricWindow(datetime(2026, 1, 1), datetime(2026, 1, 2))


def test_cpu_of_running_vms_is_averaged_over_vcpus_and_scaled_by_core_fraction(sim, adapter):
    vms = _vms(adapter)

    samples = list(adapter.metrics(vms, WINDOW))

    series = defaultdict(dict)
    for s in samples:
        assert s.timestamp.tzinfo is not None and isinstance(s.value, float)
        series[(s.provider_id, s.metric)][s.timestamp] = s.value
    running = [vm for vm in vms if vm.raw_status == "RUNNING"]
    assert {pid for pid, _ in series} == {vm.provider_id for vm in running}
    for vm in running:
        fraction = vm.specs["core_fraction"]
        utilization = series[(vm.provider_id, CPU_UTILIZATION)]
        assert len(utilization) == 6
        for moment, value in utilization.items():
            stamp = int(moment.timestamp() * 1000)
            per_cpu = [
                cpu_value(sim.config.seed, vm.provider_id, c, stamp, fraction)
                for c in range(vm.specs["vcpu"])
            ]
            assert math.isclose(value, sum(per_cpu) / len(per_cpu))
            assert 0 <= value <= fraction
            guaranteed = series[(vm.provider_id, CPU_OF_GUARANTEED)][moment]
            assert math.isclose(guaranteed, value * 100 / fraction)


def test_metric_queries_are_batched_per_folder(sim, adapter):
    vms = _vms(adapter)

    list(adapter.metrics(vms, WINDOW))

    folders = {vm.sub_account for vm in vms}
    assert sim.stats.by_path["/monitoring/v2/data/read"] == len(folders)


def test_targets_other_than_vms_are_skipped_and_vms_need_their_folder(sim, adapter):
    disks = [r for r in adapter.discover() if r.type == ResourceType.DISK]
    assert list(adapter.metrics(disks, WINDOW)) == []

    with pytest.raises(ValueError, match="folder"):
        list(adapter.metrics([MetricTarget("fhm0", "vm")], WINDOW))


def test_metric_targets_can_come_from_stored_rows(sim, adapter):
    vm = next(r for r in _vms(adapter) if r.raw_status == "RUNNING")
    target = MetricTarget.from_record(vm)

    assert {s.provider_id for s in adapter.metrics([target], WINDOW)} == {vm.provider_id}


def test_metrics_honour_rate_limits(sim, adapter, sleeps):
    vms = _vms(adapter)
    sim.inject(Fault("rate_limit", path="/monitoring/", retry_after=4))

    samples = list(adapter.metrics(vms, WINDOW))

    assert samples and len(sleeps) == 1 and 4 <= sleeps[0] <= 4.4
