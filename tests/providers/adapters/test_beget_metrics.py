"""Beget VPS CPU statistics and server history over real HTTP against the simulator."""

from __future__ import annotations

import datetime as dt

import pytest

from providers.adapters.base import MetricWindow, ResourceType
from providers.adapters.beget.simulator import BegetSimulator, SimulatorConfig
from providers.adapters.beget.simulator_account import MOSCOW


def _vms(adapter):
    return [r for r in adapter.discover() if r.type == ResourceType.VM]


@pytest.mark.parametrize("dates", ["local", "iso", "unix"])
def test_cpu_is_averaged_onto_the_window_grid(make_beget, dates):
    with BegetSimulator(SimulatorConfig(seed=2, servers=2, stat_dates=dates)) as sim:
        adapter = make_beget(sim)
        vms = _vms(adapter)
        window = MetricWindow.lookback(dt.timedelta(hours=3))

        samples = list(adapter.metrics(vms, window))

        assert adapter.listing.fully_complete
        assert sim.stats.by_path[f"/v1/vps/statistic/cpu/{vms[0].provider_id}"] == 1
        vm = vms[0].provider_id
        series = [s for s in samples if s.provider_id == vm and s.metric == "cpu_utilization"]
        assert [s.timestamp for s in series] == [window.start + n * window.step for n in range(3)]
        # The first hour's mean is the mean of the simulator's 5-minute points in it.
        points = [sim.cpu_value(vm, window.start + dt.timedelta(minutes=5 * n)) for n in range(12)]
        assert series[0].value == pytest.approx(sum(points) / len(points))
        guaranteed = [s for s in samples if s.metric == "cpu_utilization_of_guaranteed"]
        assert len(guaranteed) == len(series) * len(vms)


def test_a_long_window_asks_for_a_longer_period(beget_sim, beget):
    vms = _vms(beget)
    list(beget.metrics(vms[:1], MetricWindow.lookback(dt.timedelta(days=3))))
    assert beget_sim.stats.by_path[f"/v1/vps/statistic/cpu/{vms[0].provider_id}"] == 1


def test_denied_statistics_skip_every_server_and_keep_their_samples(beget_sim, beget):
    vms = _vms(beget)
    beget_sim.deny_service("vps_statistic")

    samples = list(beget.metrics(vms, MetricWindow.lookback(dt.timedelta(hours=2))))

    assert samples == []
    assert beget.listing.type_outcomes() == {"vm": "denied"}
    assert not beget.listing.may_delete("vm", "simacct")


def test_a_server_gone_since_is_skipped_but_absent_statistics_are_reported(beget_sim, beget):
    vms = _vms(beget)
    beget_sim.account.remove_server(vms[0].provider_id)

    samples = list(beget.metrics(vms, MetricWindow.lookback(dt.timedelta(hours=2))))

    assert {s.provider_id for s in samples} == {v.provider_id for v in vms[1:]}
    assert beget.listing.type_outcomes() == {"vm": "complete"}
    beget_sim.remove_service("vps_statistic")
    list(beget.metrics(vms, MetricWindow.lookback(dt.timedelta(hours=2))))
    assert beget.listing.type_outcomes() == {"vm": "absent"}


def test_operations_come_from_the_servers_history_oldest_first(beget_sim, beget):
    everything = list(beget.operations(None))

    assert len(everything) == 2 * len(beget_sim.account.servers)  # CREATE and START each
    assert [op.at for op in everything] == sorted(op.at for op in everything)
    assert {op.action for op in everything} == {"created", "started"}
    assert len({op.provider_id for op in everything}) == len(everything)

    changed = beget_sim.mutate(change=1).changed[0]
    since = max(op.at for op in everything) + dt.timedelta(seconds=1)
    new = list(beget.operations(since))

    assert [(op.resource_provider_id, op.action, op.raw_action) for op in new] == [
        (changed, "stopped", "STOP")
    ]
    # Beget prints Moscow time without a zone: read as Moscow, stored as UTC.
    assert new[0].at.tzinfo is dt.UTC or new[0].at.utcoffset() == dt.timedelta(0)
    history_time = beget_sim.account.servers[changed].history[-1][0]
    assert new[0].at == history_time.replace(tzinfo=MOSCOW)
    # The same entries read again are the same operations (the caller drops repeats by id).
    assert {op.provider_id for op in beget.operations(since)} == {new[0].provider_id}
