# ruff: noqa: RUF001 -- the console export is in Russian
"""VK Cloud over real HTTP against its simulator: Keystone at a configurable URL with the user
domain, discovery of the project in every catalog region, fault knobs, partial permissions, the
balance, instance actions and refresh; and the console's detail export (csv and xlsx) read into
exact Decimal records, bad rows reported."""

from __future__ import annotations

import datetime as dt
import io
import zoneinfo
from decimal import Decimal

import pytest

from providers.adapters.base import ProviderAuthError, ProviderUnavailable
from providers.adapters.listing import ListingOutcome
from providers.adapters.vk_cloud.adapter import VKCloudAdapter
from providers.adapters.vk_cloud.detail import parse_detail
from providers.adapters.vk_cloud.simulator import BONUS_KOPECKS, VKCloudSimulator
from tests.providers.adapters.openstack_support import fast_http, ids

MSK = zoneinfo.ZoneInfo("Europe/Moscow")


@pytest.fixture
def sim():
    with VKCloudSimulator(seed=4, resources=40) as s:
        yield s


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def make(sleeps):
    def build(sim, credentials=None, **options):
        http = fast_http("VK Cloud", sleeps, max_attempts=options.pop("max_attempts", 4))
        return VKCloudAdapter(
            credentials or sim.credentials,
            scope=options.pop("scope", {}),
            endpoints=sim.endpoints,
            http=http,
            page_size=options.pop("page_size", 6),
        )

    return build


def _inventory(sim) -> set[str]:
    return {sim.project_id} | {i.get("id") or i.get("uuid") for _, _, _, i in sim.cloud.resources()}


def test_discovery_equals_the_inventory_in_every_region(sim, make):
    adapter = make(sim)
    records = list(adapter.discover())
    assert ids(records) == _inventory(sim)
    assert len(records) == sim.expected_count()
    assert adapter.listing.fully_complete
    assert {r.region for r in records if r.type != "project"} == {"RegionOne", "kz"}
    kinds = {r.type for r in records}
    assert {"vm", "disk", "snapshot", "image", "ip_address", "load_balancer"} <= kinds
    assert {"database_cluster", "k8s_cluster", "k8s_node_group"} <= kinds
    db = next(r for r in records if r.type == "database_cluster")
    assert db.specs["storage_bytes"] > 0 and db.properties["engine"] in ("postgresql", "mysql")


def test_the_regions_scope_limits_the_walk(sim, make):
    records = list(make(sim, scope={"regions": ["kz"]}).discover())
    assert {r.region for r in records if r.type != "project"} == {"kz"}


def test_the_user_domain_matters(sim, make):
    wrong = {**sim.credentials, "user_domain": "other"}
    with pytest.raises(ProviderAuthError, match="Keystone refused"):
        list(make(sim, credentials=wrong).discover())


def test_tokens_expiring_mid_walk_and_retried_faults(sim, make, sleeps):
    sim.inject("expire_token", times=2, every=5, path="/kz/")
    sim.inject("rate_limit", retry_after=3, times=1, path="/RegionOne/image")
    sim.inject("unavailable", status=504, times=2, path="/RegionOne/network")
    sim.inject("disconnect", times=1, path="/kz/volume")
    assert len(list(make(sim).discover())) == sim.expected_count()
    assert 3 in [round(s) for s in sleeps]


def test_a_service_down_ends_the_walk(sim, make):
    sim.inject("unavailable", times=0, path="/kz/compute")
    adapter = make(sim)
    with pytest.raises(ProviderUnavailable):
        list(adapter.discover())
    assert not adapter.listing.finished


def test_denied_and_absent_services_are_skipped_per_unit(sim, make):
    sim.deny_service("kubernetes")
    sim.remove_service("database", "kz")
    adapter = make(sim)
    records = list(adapter.discover())
    units = adapter.listing.units
    assert units[("k8s_cluster", sim.project_id)] == ListingOutcome.DENIED
    assert units[("database_cluster", sim.project_id)] == ListingOutcome.ABSENT
    assert units[("vm", sim.project_id)] == ListingOutcome.COMPLETE
    assert any(r.type == "database_cluster" and r.region == "RegionOne" for r in records)
    messages = [w["message"] for w in adapter.listing.warnings()]
    assert any("Cloud Containers (Magnum)" in m and "permission denied" in m for m in messages)


def test_verify_probes_the_services(sim, make):
    sim.deny_service("image")
    result = make(sim).verify()
    assert "RegionOne" in result.message
    assert {p.service: p.outcome for p in result.services}["image"] == "denied"


def test_balance_from_the_billing_api(sim, make):
    balances = {b.kind: b for b in make(sim).balances()}
    assert balances["main"].amount == sim.base_balance()
    assert balances["bonus"].amount == Decimal(BONUS_KOPECKS) / 100
    no_pid = {k: v for k, v in sim.credentials.items() if k != "project_pid"}
    assert make(sim, credentials=no_pid).balances() == []


def test_operations_and_refresh(sim, make):
    operations = list(make(sim).operations(None))
    servers = {i["id"] for _, _, k, i in sim.cloud.resources() if k == "servers"}
    assert {o.resource_provider_id for o in operations} == servers
    assert len({o.provider_id for o in operations}) == len(operations)
    vm = next(r for r in make(sim).discover() if r.type == "vm")
    assert make(sim).refresh(vm.provider_id).content_hash == vm.content_hash
    assert make(sim).refresh("00000000-0000-0000-0000-000000000000") is None


# -- the detail export ---------------------------------------------------------------------------

PERIOD = (dt.datetime(2026, 1, 20, tzinfo=MSK), dt.datetime(2026, 1, 24, tzinfo=MSK))


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_export_reads_to_exact_totals(sim, fmt):
    data = sim.detail_export(*PERIOD, fmt)
    records = list(parse_detail(io.BytesIO(data), f"detail.{fmt}"))
    assert len(records) == len(sim.charges(*PERIOD))
    assert sum((r.billed_cost for r in records), Decimal(0)) == sim.total(*PERIOD)
    assert {r.charge_period_start.astimezone(MSK).date() for r in records} == {
        dt.date(2026, 1, d) for d in range(20, 24)
    }
    assert {r.resource_id for r in records} <= _inventory(sim)


def _csv(lines: list[str]) -> io.BytesIO:
    return io.BytesIO("\n".join(lines).encode("utf-8-sig"))


def test_bad_rows_are_reported_by_number_and_nothing_is_returned():
    data = _csv(
        [
            "Детализация",
            "Дата;Услуга;Ресурс;Сумма, ₽",
            "20.01.2026;Cloud Servers;vm-1;1 234,50",
            "32.01.2026;Cloud Servers;vm-1;10,00",
            "21.01.2026;Cloud Servers;vm-1;десять",
            "Итого;;;1 244,50",
        ]
    )
    with pytest.raises(ValueError, match="cannot be read") as caught:
        list(parse_detail(data, "detail.csv"))
    message = str(caught.value)
    assert message.startswith("2 row(s) cannot be read")
    assert "row 4: the date '32.01.2026'" in message and "row 5: the amount 'десять'" in message


def test_english_headers_comma_delimiters_and_amount_noise():
    data = _csv(
        [
            "Date,Service,Resource ID,Amount",
            '2026-01-20,Cloud Servers,vm-1,"1\u00a0000,25 ₽"',
            "2026-01-20,Cloud Servers,vm-2,5",
        ]
    )
    records = list(parse_detail(data, "detail.csv"))
    assert [r.billed_cost for r in records] == [Decimal("1000.25"), Decimal("5")]
    assert records[0].resource_id == "vm-1"


def test_a_file_without_the_columns_or_not_xlsx_is_refused():
    with pytest.raises(ValueError, match="No header row"):
        list(parse_detail(_csv(["a;b", "1;2"]), "detail.csv"))
    with pytest.raises(ValueError, match="not an xlsx workbook"):
        list(parse_detail(io.BytesIO(b"PK-not-really"), "detail.xlsx"))
