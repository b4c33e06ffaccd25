"""Partial permissions over real HTTP: a service the credentials may not read (403), or that the
installation lacks (404 / 501 UNIMPLEMENTED), is skipped and reported; everything else is read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from providers.adapters.base import (
    MetricWindow,
    ProviderAuthError,
    ProviderPermissionDenied,
    ResourceType,
)
from providers.adapters.listing import ListingOutcome
from tests.providers.adapters.support import drain, inventory_ids

WINDOW = MetricWindow.lookback(timedelta(hours=3), end=datetime(2026, 2, 8, 12, 0, tzinfo=UTC))
K8S_TYPES = {ResourceType.K8S_CLUSTER, ResourceType.K8S_NODE_GROUP}


def test_a_denied_service_is_skipped_and_every_other_type_is_read(sim, adapter, sleeps):
    sim.deny_service("kubernetes")

    found, error = drain(adapter.discover())

    assert error is None
    assert sleeps == []  # a 403 is never retried
    everything = inventory_ids(sim)
    assert K8S_TYPES & set(everything.values())  # the guard: there are clusters to miss
    assert {r.provider_id for r in found} == {
        pid for pid, type_ in everything.items() if type_ not in K8S_TYPES
    }
    report = adapter.listing
    assert report.finished and not report.fully_complete
    assert report.type_outcomes()["k8s_cluster"] == "denied"
    assert report.type_outcomes()["vm"] == "complete"
    for folder in sim.inventory.folders:
        assert not report.may_delete("k8s_cluster", folder)
        assert not report.may_delete("k8s_node_group", folder)
        assert report.may_delete("disk", folder)
    [warning] = report.warnings()
    assert warning["message"].startswith("cannot read Managed Kubernetes in 2 folders")
    assert warning["message"].endswith("permission denied — grant k8s.viewer")
    assert warning["types"] == ["k8s_cluster", "k8s_node_group"]


@pytest.mark.parametrize("status", [404, 501])
def test_a_service_the_installation_lacks_is_skipped_as_absent(sim, adapter, status):
    sim.remove_service("managed-mysql", status=status)

    found, error = drain(adapter.discover())

    assert error is None
    assert {r.properties.get("engine") for r in found if r.type == "database_cluster"} >= {
        "postgresql"
    }
    report = adapter.listing
    assert {p.outcome for p in report.problems} == {ListingOutcome.ABSENT}
    [warning] = report.warnings()
    assert "Managed Service for MySQL" in warning["message"]
    assert "not available in this installation or region" in warning["message"]
    # One engine missing leaves the type incomplete: no database cluster may be marked deleted.
    assert not report.may_delete("database_cluster", next(iter(sim.inventory.folders)))


def test_a_persistent_failure_ends_the_walk_but_keeps_what_completed(sim, adapter, sleeps):
    from providers.adapters.yandex.simulator import Fault

    first, second = list(sim.inventory.folders)
    sim.inject(Fault("unavailable", status=503, times=100, path="/managed-kubernetes/"))

    _, error = drain(adapter.discover())

    assert error is not None and error.status == 503
    report = adapter.listing
    assert not report.finished
    assert report.may_delete("vm", first)  # listed completely before the failure
    assert not report.may_delete("k8s_cluster", first)  # the unit that failed
    assert not report.may_delete("vm", second)  # never reached
    assert report.warnings() == []  # a failure is the run's error, not a permission warning


def test_a_vanished_folder_may_be_cleared_only_after_a_finished_walk(sim, adapter):
    list(adapter.discover())

    report = adapter.listing
    assert report.may_delete("vm", "b1gfolderthatisgone0")
    report.scopes_complete = False
    assert not report.may_delete("vm", "b1gfolderthatisgone0")


def test_scope_listing_denied_keeps_every_folder(sim, adapter):
    sim.deny_service("resource_manager")

    found, error = drain(adapter.discover())

    assert error is None and found == []
    report = adapter.listing
    assert report.finished and not report.scopes_complete
    assert not report.may_delete("vm", next(iter(sim.inventory.folders)))
    assert "grant resource-manager.viewer" in report.warnings()[0]["message"]


def test_verify_reports_which_services_are_readable(sim, adapter):
    sim.deny_service("kubernetes")
    sim.remove_service("managed-clickhouse")

    result = adapter.verify()

    outcomes = {probe.service: probe.outcome for probe in result.services}
    assert outcomes["kubernetes"] == "denied"
    assert outcomes["managed-clickhouse"] == "absent"
    assert outcomes["compute"] == outcomes["monitoring"] == "complete"
    assert "readable: Compute Cloud, Virtual Private Cloud" in result.message
    assert "Managed Kubernetes (permission denied — grant k8s.viewer)" in result.message


def test_verify_with_every_service_readable_says_so(sim, adapter):
    result = adapter.verify()

    assert {probe.outcome for probe in result.services} == {"complete"}
    assert "not readable" not in result.message


def test_an_iam_refusal_is_an_auth_error_not_a_permission_gap(sim, make_adapter):
    adapter = make_adapter(sim, {"oauth_token": "y0_not-a-token-we-issued"})

    found, error = drain(adapter.discover())

    assert isinstance(error, ProviderAuthError)
    assert not isinstance(error, ProviderPermissionDenied)
    assert found == []


def test_metrics_skip_a_folder_whose_monitoring_is_denied(sim, adapter):
    vms = [r for r in adapter.discover() if r.type == ResourceType.VM]
    denied, readable = list(sim.inventory.folders)
    sim.denied_folders.add(denied)

    samples = list(adapter.metrics(vms, WINDOW))

    assert samples
    folder_of = {vm.provider_id: vm.sub_account for vm in vms}
    assert {folder_of[s.provider_id] for s in samples} == {readable}
    report = adapter.listing
    assert report.may_delete("vm", readable) and not report.may_delete("vm", denied)


def test_simulator_permission_knobs_answer_in_the_yandex_envelope(sim):
    import requests

    token = requests.post(
        sim.tokens_url, json={"yandexPassportOauthToken": sim.oauth_token}, timeout=5
    ).json()["iamToken"]
    headers = {"Authorization": f"Bearer {token}"}
    folder = next(iter(sim.inventory.folders))
    answer = requests.post(
        f"{sim.url}/_sim/permissions",
        json={"deny": ["compute"], "absent": {"kubernetes": 501}},
        timeout=5,
    )
    assert answer.json() == {"services": {"compute": 403, "kubernetes": 501}}

    denied = requests.get(
        f"{sim.url}/compute/v1/disks", params={"folderId": folder}, headers=headers, timeout=5
    )
    missing = requests.get(
        f"{sim.url}/managed-kubernetes/v1/clusters",
        params={"folderId": folder},
        headers=headers,
        timeout=5,
    )

    assert denied.status_code == 403 and denied.json()["code"] == 7
    assert missing.status_code == 501 and missing.json()["code"] == 12
    requests.post(f"{sim.url}/_sim/permissions", json={"grant": ["compute"]}, timeout=5)
    assert (
        requests.get(
            f"{sim.url}/compute/v1/disks", params={"folderId": folder}, headers=headers, timeout=5
        ).status_code
        == 200
    )
