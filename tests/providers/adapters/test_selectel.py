"""Selectel over real HTTP against its simulator: Keystone scopes, discovery of every project and
region from the token catalogs, paging, every fault knob, partial permissions, costs in exact
Decimal roubles, balances, a static token, instance actions and the single-server refresh."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest

from providers.adapters.base import (
    CostPeriod,
    ProviderAuthError,
    ProviderPermissionDenied,
    ProviderRateLimited,
    ProviderResponseError,
    ProviderUnavailable,
)
from providers.adapters.listing import ListingOutcome
from providers.adapters.selectel.adapter import SelectelAdapter, money, moscow_time
from providers.adapters.selectel.simulator import STATIC_TOKEN, SelectelSimulator
from tests.providers.adapters.openstack_support import fast_http, ids

MSK = zoneinfo.ZoneInfo("Europe/Moscow")


@pytest.fixture
def sim():
    with SelectelSimulator(seed=5, projects=2, resources_per_project=30) as s:
        yield s


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def make(sleeps):
    def build(sim, credentials=None, **options):
        http = fast_http("Selectel", sleeps, max_attempts=options.pop("max_attempts", 4))
        return SelectelAdapter(
            credentials or sim.credentials,
            scope=options.pop("scope", {}),
            endpoints=sim.endpoints,
            http=http,
            page_size=options.pop("page_size", 7),
            **options,
        )

    return build


def _inventory_ids(sim) -> set[str]:
    found = set(sim.cloud.projects)
    for _, _, _, item in sim.cloud.resources():
        found.add(item.get("id") or item.get("uuid"))
    return found


def test_discovery_equals_the_inventory_over_paged_listings(sim, make):
    adapter = make(sim)

    records = list(adapter.discover())

    assert ids(records) == _inventory_ids(sim)
    assert len(records) == sim.expected_count()
    assert adapter.listing.fully_complete
    # Small pages: several pages per collection were followed (links), not one.
    assert sim.stats.by_path["/ru-1/compute/v2.1/servers/detail"] >= 1
    vm = next(r for r in records if r.type == "vm")
    server = next(
        i for _, _, k, i in sim.cloud.resources() if k == "servers" and i["id"] == vm.provider_id
    )
    flavor = sim.cloud.flavors[server["flavor"]["id"]]
    assert vm.specs["vcpu"] == flavor["vcpus"]
    assert vm.specs["memory_bytes"] == flavor["ram"] * 1024**2
    assert vm.sub_account in sim.cloud.projects and vm.region in ("ru-1", "ru-9")
    # Tokens: one account-scoped, one per project.
    assert sim.cloud.issued == 1 + len(sim.cloud.projects)


def test_identical_listings_hash_identically(sim, make):
    first = {r.provider_id: r.content_hash for r in make(sim).discover()}
    second = {r.provider_id: r.content_hash for r in make(sim).discover()}
    assert first == second


def test_scope_limits_projects_and_regions(sim, make):
    project = next(iter(sim.cloud.projects))
    adapter = make(sim, scope={"project_ids": [project], "regions": ["ru-9"]})

    records = list(adapter.discover())

    assert {r.sub_account for r in records if r.type != "project"} == {project}
    assert {r.region for r in records if r.type != "project"} == {"ru-9"}


def test_wrong_password_is_an_auth_failure(sim, make):
    adapter = make(sim, credentials={**sim.credentials, "password": "wrong-password"})
    with pytest.raises(ProviderAuthError) as caught:
        list(adapter.discover())
    assert not isinstance(caught.value, ProviderPermissionDenied)
    assert "Keystone refused" in str(caught.value)
    assert "wrong-password" not in str(caught.value)


def test_rate_limits_are_retried_with_retry_after(sim, make, sleeps):
    sim.inject("rate_limit", retry_after=2, times=3, path="/ru-")
    records = list(make(sim).discover())
    assert len(records) == sim.expected_count()
    assert sleeps[:3] == [pytest.approx(2, abs=0.2)] * 3


def test_persistent_rate_limit_gives_up(sim, make):
    sim.inject("rate_limit", retry_after=1, times=0, path="/ru-1/volume")
    adapter = make(sim)
    with pytest.raises(ProviderRateLimited):
        list(adapter.discover())
    assert not adapter.listing.finished


def test_5xx_and_dropped_connections_are_retried(sim, make):
    sim.inject("unavailable", status=502, times=2, path="/ru-9/")
    sim.inject("disconnect", times=1, path="/ru-1/compute")
    assert len(list(make(sim).discover())) == sim.expected_count()


def test_a_service_down_for_good_ends_the_walk_unapplied(sim, make):
    sim.inject("unavailable", times=0, path="/ru-9/network")
    adapter = make(sim)
    with pytest.raises(ProviderUnavailable):
        list(adapter.discover())
    assert adapter.listing.units[("ip_address", next(iter(sim.cloud.projects)))] == "failed"


def test_a_malformed_body_fails_the_walk(sim, make):
    sim.inject("malformed", times=1, path="/ru-1/compute/v2.1/servers")
    adapter = make(sim)
    with pytest.raises(ProviderResponseError):
        list(adapter.discover())
    assert not adapter.listing.finished


def test_a_slow_answer_past_the_timeout_is_retried(sim, sleeps):
    sim.inject("slow", delay=0.6, times=1, path="/ru-1/compute/v2.1/flavors")
    http = fast_http("Selectel", sleeps, timeout=(1.0, 0.3))
    adapter = SelectelAdapter(sim.credentials, endpoints=sim.endpoints, http=http)
    assert len(list(adapter.discover())) == sim.expected_count()


def test_a_token_expiring_mid_walk_is_renewed_once(sim, make):
    sim.inject("expire_token", times=1, path="/ru-9/volume")
    assert len(list(make(sim).discover())) == sim.expected_count()
    assert sim.cloud.issued == 1 + len(sim.cloud.projects) + 1


def test_a_denied_service_is_skipped_for_that_unit_only(sim, make):
    sim.deny_service("kubernetes")
    adapter = make(sim)

    records = list(adapter.discover())

    assert not any(r.type.startswith("k8s") for r in records)
    assert any(r.type == "vm" for r in records)
    report = adapter.listing
    assert report.finished and not report.fully_complete
    project = next(iter(sim.cloud.projects))
    assert report.units[("k8s_cluster", project)] == ListingOutcome.DENIED
    assert report.units[("vm", project)] == ListingOutcome.COMPLETE
    assert not report.may_delete("k8s_cluster", project)
    assert report.may_delete("vm", project)
    [warning] = report.warnings()
    assert warning["message"].startswith("cannot read Managed Kubernetes in 2 projects")


def test_a_service_absent_in_one_region(sim, make):
    sim.remove_service("load_balancer", "ru-9", status=501)
    adapter = make(sim)
    records = list(adapter.discover())
    assert not any(r.type == "load_balancer" and r.region == "ru-9" for r in records)
    project = next(iter(sim.cloud.projects))
    assert adapter.listing.units[("load_balancer", project)] == ListingOutcome.ABSENT
    assert adapter.listing.units[("disk", project)] == ListingOutcome.COMPLETE


def test_a_service_missing_from_a_regions_catalog_has_nothing_there(sim, make):
    sim.cloud.drop_from_catalog("database", "ru-1")
    adapter = make(sim)
    records = list(adapter.discover())
    assert not any(r.type == "database_cluster" and r.region == "ru-1" for r in records)
    assert adapter.listing.fully_complete


def test_verify_names_the_services_it_can_read(sim, make):
    sim.deny_service("image")
    result = make(sim).verify()
    assert "2 project(s) visible" in result.message
    outcomes = {p.service: p.outcome for p in result.services}
    assert outcomes["image"] == "denied" and outcomes["compute"] == "complete"


def test_a_static_token_reads_billing_but_reports_openstack_unreadable(sim, make):
    adapter = make(sim, credentials={"static_token": STATIC_TOKEN})

    assert "static token accepted" in adapter.verify().message
    records = list(adapter.discover())

    assert {r.type for r in records} == {"project"}
    assert adapter.listing.units[("vm", next(iter(sim.cloud.projects)))] == "denied"
    assert adapter.balances()


def test_costs_are_exact_roubles_from_kopecks_in_moscow_days(sim, make):
    adapter = make(sim)
    period = CostPeriod(
        dt.datetime(2026, 1, 20, tzinfo=MSK).astimezone(dt.UTC),
        dt.datetime(2026, 1, 23, tzinfo=MSK).astimezone(dt.UTC),
    )

    records = list(adapter.costs(period))

    assert records
    total = sum((r.billed_cost for r in records), Decimal(0))
    assert total == Decimal(sim.total_kopecks(period.start, period.end)) / 100
    assert all(r.charge_period_start in period for r in records)
    assert {r.charge_period_start.astimezone(MSK).hour for r in records} == {0}
    resources = _inventory_ids(sim)
    assert {r.resource_id for r in records} <= resources
    volume = next(
        r for r in records if r.resource_type == "volume" and r.extensions["selectel_parent_id"]
    )
    assert volume.extensions["selectel_parent_id"] in resources
    assert {r.billing_currency for r in records} == {"RUB"}


def test_costs_of_a_scoped_project_only(sim, make):
    project = next(iter(sim.cloud.projects))
    period = CostPeriod(dt.datetime(2026, 2, 1, tzinfo=MSK), dt.datetime(2026, 2, 2, tzinfo=MSK))
    records = list(make(sim, scope={"project_ids": [project]}).costs(period))
    assert records and {r.sub_account_id for r in records} == {project}


def test_billing_denied_is_a_permission_error(sim, make):
    sim.deny_billing()
    period = CostPeriod(dt.datetime(2026, 2, 1, tzinfo=MSK), dt.datetime(2026, 2, 2, tzinfo=MSK))
    with pytest.raises(ProviderPermissionDenied):
        list(make(sim).costs(period))


def test_balances_equal_paid_in_minus_charges(sim, make):
    balances = {b.kind: b for b in make(sim).balances()}
    assert balances["main"].amount == sim.main_balance()
    assert balances["bonus"].amount == Decimal("234.00")
    assert balances["main"].currency == "RUB"
    assert balances["main"].days_to_block == sim.prediction_days()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(68861, Decimal("688.61")), ("68861", Decimal("688.61")), (1.5, Decimal("0.015"))],
)
def test_amounts_as_numbers_or_strings(raw, expected):
    assert money(raw, "x") == expected


def test_bad_amounts_and_periods_are_refused():
    with pytest.raises(ProviderResponseError):
        money("12abc", "row 3")
    assert moscow_time("2026-02-14T00:00:00").utcoffset() == dt.timedelta(hours=3)
    assert moscow_time("2026-02-14T00:00:00+00:00").utcoffset() == dt.timedelta(0)


def test_instance_actions_since_a_moment(sim, make):
    adapter = make(sim)
    everything = list(adapter.operations(None))
    assert {o.action for o in everything} == {"created"}
    servers = {i["id"] for _, _, k, i in sim.cloud.resources() if k == "servers"}
    assert {o.resource_provider_id for o in everything} == servers

    cut = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    sim.cloud.now = dt.datetime.now(dt.UTC)
    changes = sim.mutate(appear=0, change=1, disappear=1)
    recent = list(make(sim).operations(cut))
    assert {(o.resource_provider_id, o.action) for o in recent} == {
        (changes["changed"][0], "updated"),
        (changes["disappeared"][0], "deleted"),
    }


def test_refresh_one_server_as_discovery_yields_it(sim, make):
    records = list(make(sim).discover())
    vm = next(r for r in records if r.type == "vm")
    assert make(sim).refresh(vm.provider_id).content_hash == vm.content_hash
    project, region, _, _ = sim.cloud.find(vm.provider_id)
    sim.cloud.remove(project, region, "servers", vm.provider_id)
    assert make(sim).refresh(vm.provider_id) is None


def test_a_project_without_a_role_is_denied_and_the_others_are_walked(sim, make):
    first, second = list(sim.cloud.projects)
    sim.cloud.roleless_projects.add(first)
    adapter = make(sim)

    records = list(adapter.discover())

    assert {r.sub_account for r in records if r.type != "project"} == {second}
    assert adapter.listing.units[("vm", first)] == ListingOutcome.DENIED
    assert adapter.listing.units[("vm", second)] == ListingOutcome.COMPLETE
    assert not adapter.listing.may_delete("disk", first)
