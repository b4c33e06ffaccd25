"""Beget discovery over real HTTP against its simulator: what is listed, how, and how Beget's
inconsistent types are read."""

from __future__ import annotations

from collections import Counter

import pytest

from providers.adapters.base import ResourceType, SpecKey
from providers.adapters.beget.simulator import BegetSimulator, SimulatorConfig
from providers.adapters.beget.simulator_account import VPS_CONFIGS
from providers.adapters.spec import SettingsInvalid
from tests.providers.adapters.support import drain


def expected_ids(sim: BegetSimulator) -> dict[str, str]:
    a = sim.account
    ids = {a.login: "account"}
    ids.update({f"site/{i}": "site" for i in a.sites})
    ids.update({f"domain/{i}": "domain" for i in a.domains})
    ids.update({f"mysql/{n}": "database" for n in a.databases})
    ids.update({f"backup/{kind}/{i}": "backup" for kind, i in a.backups})
    ids.update(dict.fromkeys(a.servers, "vm"))
    return ids


def test_discovery_lists_the_whole_account_and_its_servers(beget_sim, beget):
    records = list(beget.discover())

    assert {r.provider_id: str(r.type) for r in records} == expected_ids(beget_sim)
    assert len(records) == beget_sim.expected_count()
    assert beget.listing.fully_complete
    assert beget.listing.type_outcomes() == dict.fromkeys(
        ["account", "backup", "database", "domain", "site", "vm"], "complete"
    )
    # Every hosting list is one call, the servers one page: 1 + 1 + 1 + 1 + 2 + (auth + 1).
    assert beget.api_calls == 8


def test_records_carry_the_plan_sizes_prices_and_expiry_dates(beget_sim, beget):
    records = {r.provider_id: r for r in beget.discover()}
    a = beget_sim.account

    account = records[a.login]
    assert account.specs["plan"] == a.plan_name
    assert account.properties["rate_day"] == "11.50"
    assert account.properties["rate_month"] == "345.00"
    server = next(iter(a.servers.values()))
    vm = records[server.id]
    name, cpu, memory_mib, disk_mib, price = VPS_CONFIGS[server.config]
    assert vm.specs[SpecKey.VCPU] == cpu
    assert vm.specs[SpecKey.MEMORY_BYTES] == memory_mib * 1024 * 1024
    assert vm.specs[SpecKey.STORAGE_BYTES] == disk_mib * 1024 * 1024
    assert vm.specs["configuration"] == name
    assert vm.properties["price_day"] == f"{price:.2f}"
    assert vm.parent_provider_id == a.login
    for domain in a.domains.values():
        record = records[f"domain/{domain.id}"]
        if domain.expires is None:  # Beget's "0": no expiry known, no key
            assert SpecKey.EXPIRES_ON not in record.specs
        else:
            assert record.specs[SpecKey.EXPIRES_ON] == domain.expires.isoformat()
            assert type(record.specs[SpecKey.EXPIRES_ON]) is str
        assert record.properties["auto_renew"] is domain.auto_renew
    site = next(iter(a.sites.values()))
    assert records[f"site/{site.id}"].related_ids["domains"] == tuple(
        f"domain/{d}" for d in site.domain_ids
    )


def test_numbers_sent_as_strings_read_the_same_as_numbers():
    """The same account served with Beget's mixed string/number types and with plain numbers
    gives identical records, hashes included (a flip between syncs costs no write)."""
    from providers.adapters.beget.adapter import BegetAdapter

    found = []
    for mixed in (True, False):
        with BegetSimulator(SimulatorConfig(seed=3, servers=4, mixed_types=mixed)) as sim:
            adapter = BegetAdapter(sim.credentials, endpoints={"*": sim.url})
            found.append({r.provider_id: r.content_hash for r in adapter.discover()})
    assert found[0] == found[1]


def test_the_same_listing_twice_has_the_same_hashes(beget):
    first = {r.provider_id: r.content_hash for r in beget.discover()}
    second = {r.provider_id: r.content_hash for r in beget.discover()}
    assert first == second


def test_servers_are_paged_by_offset_until_total_count(beget_sim, make_beget):
    adapter = make_beget(beget_sim, vps_page_size=2)

    records = list(adapter.discover())

    assert Counter(str(r.type) for r in records)["vm"] == 5
    assert beget_sim.stats.by_path["/v1/vps/server/list"] == 3  # 2 + 2 + 1


def test_without_vps_credentials_only_the_hosting_account_is_read(beget_sim, make_beget):
    credentials = {"login": beget_sim.config.login, "api_password": beget_sim.config.api_password}
    adapter = make_beget(beget_sim, credentials)

    records = list(adapter.discover())

    assert ResourceType.VM not in {r.type for r in records}
    assert beget_sim.stats.by_path["/v1/auth"] == 0
    assert "no VPS API credentials" in adapter.verify().message


def test_a_given_vps_token_is_used_without_a_login(beget_sim, make_beget):
    adapter = make_beget(beget_sim, beget_sim.token_credentials)

    records = list(adapter.discover())

    assert sum(1 for r in records if r.type == ResourceType.VM) == 5
    assert beget_sim.token_exchanges == 0


def test_size_units_can_be_pinned_per_connection(beget_sim, make_beget):
    adapter = make_beget(beget_sim, scope={"vps_memory_unit": "MB", "vps_disk_unit": "GiB"})
    vm = next(r for r in adapter.discover() if r.type == ResourceType.VM)
    server = beget_sim.account.servers[vm.provider_id]
    _, _, memory, disk, _ = VPS_CONFIGS[server.config]
    assert vm.specs[SpecKey.MEMORY_BYTES] == memory * 1000 * 1000
    assert vm.specs[SpecKey.STORAGE_BYTES] == disk * 1024**3


@pytest.mark.parametrize(
    ("scope", "field"),
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"vps_memory_unit": "KiB"}, "vps_memory_unit"),
        ({"plan_rate": "both"}, "plan_rate"),
    ],
)
def test_unknown_options_are_refused_naming_the_field(scope, field):
    from providers.adapters.beget.spec import check_scope

    with pytest.raises(SettingsInvalid) as caught:
        check_scope(scope)
    assert caught.value.field == field


def test_verify_names_the_plan_and_every_readable_section(beget):
    result = beget.verify()

    assert result.message.startswith("account simacct (plan ")
    assert {p.service: p.outcome for p in result.services} == dict.fromkeys(
        ["user", "site", "domain", "mysql", "backup", "vps"], "complete"
    )


def test_refresh_gives_what_discovery_gives_or_none_when_gone(beget_sim, beget):
    records = {r.provider_id: r for r in beget.discover()}
    for provider_id in list(records)[:: max(1, len(records) // 8)]:
        assert beget.refresh(provider_id).content_hash == records[provider_id].content_hash
    server_id = next(iter(beget_sim.account.servers))
    beget_sim.account.remove_server(server_id)

    assert beget.refresh(server_id) is None
    assert beget.refresh("site/1") is None
    assert beget.refresh("backup/tape/1") is None


def test_a_mutated_account_is_listed_as_it_is_now(beget_sim, beget):
    before = {r.provider_id for r in beget.discover()}
    report = beget_sim.mutate(appear=2, change=1, disappear=1)

    after, error = drain(beget.discover())

    ids = {r.provider_id for r in after}
    assert error is None
    assert set(report.appeared) <= ids and set(report.appeared).isdisjoint(before)
    assert not set(report.disappeared) & ids
    assert ids == set(expected_ids(beget_sim))
