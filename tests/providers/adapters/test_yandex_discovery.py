from __future__ import annotations

from collections import Counter

import pytest

from providers.adapters.base import ResourceStatus, ResourceType
from providers.adapters.yandex import records
from providers.adapters.yandex.simulator import YandexCloudSimulator
from tests.providers.adapters.support import inventory_ids


def test_discovery_yields_exactly_the_simulated_inventory(sim, adapter):
    found = list(adapter.discover())

    assert {r.provider_id: str(r.type) for r in found} == inventory_ids(sim)
    assert len(found) == sim.expected_count()
    # Every type Yandex Cloud discovery lists (load balancers and the hosting types are other
    # providers' or not listed yet).
    yandex_types = set(ResourceType) - {
        ResourceType.LOAD_BALANCER,
        ResourceType.PROJECT,
        ResourceType.ACCOUNT,
        ResourceType.SITE,
        ResourceType.DOMAIN,
        ResourceType.DATABASE,
        ResourceType.BACKUP,
        ResourceType.CONTAINER_REGISTRY,
    }
    assert set(Counter(r.type for r in found)) == yandex_types


def test_relations_match_the_simulated_wiring(sim, adapter):
    by_id = {r.provider_id: r for r in adapter.discover()}
    checked = Counter()

    for r in by_id.values():
        if r.type == ResourceType.DISK and r.parent_provider_id:
            vm = by_id[r.parent_provider_id]
            assert vm.type == ResourceType.VM
            assert r.provider_id in vm.related_ids["disks"]
            checked["attached disk"] += 1
        if r.type == ResourceType.IP_ADDRESS and r.properties["used"]:
            vm = by_id[r.parent_provider_id]
            assert r.properties["address"] in vm.properties["external_ips"]
            checked["used address"] += 1
        if r.type == ResourceType.DATABASE_HOST:
            assert by_id[r.parent_provider_id].type == ResourceType.DATABASE_CLUSTER
            assert r.specs["vcpu"] > 0 and r.specs["memory_bytes"] > 0
            checked["database host"] += 1
        if r.type == ResourceType.K8S_NODE_GROUP:
            assert by_id[r.parent_provider_id].type == ResourceType.K8S_CLUSTER
            checked["node group"] += 1
        if r.type == ResourceType.VM and "k8s_node_group" in r.related_ids:
            assert by_id[r.related_ids["k8s_node_group"][0]].type == ResourceType.K8S_NODE_GROUP
            checked["node"] += 1
        if r.type == ResourceType.FOLDER:
            assert by_id[r.parent_provider_id].type == ResourceType.CLOUD
            checked["folder"] += 1
        if r.type not in (ResourceType.CLOUD,):
            assert r.sub_account in by_id
            checked["sub-account"] += 1

    # Every kind of relation was there to check: a simulator that stopped wiring one (or a
    # discovery that stopped reporting it) fails here instead of passing with nothing checked.
    assert set(checked) == {
        "attached disk",
        "used address",
        "database host",
        "node group",
        "node",
        "folder",
        "sub-account",
    }


def test_vm_record_carries_specs_pricing_and_int64_values(sim, adapter):
    wire = next(
        vm
        for folder in sim.inventory.folders
        for vm in sim.inventory.items(folder, "instances")
        if vm.get("schedulingPolicy", {}).get("preemptible")
    )
    vm = next(r for r in adapter.discover() if r.provider_id == wire["id"])

    assert vm.specs["vcpu"] == int(wire["resources"]["cores"])
    assert vm.specs["memory_bytes"] == int(wire["resources"]["memory"])
    assert vm.specs["core_fraction"] == int(wire["resources"]["coreFraction"])
    assert vm.pricing_model == "preemptible"
    assert vm.created_at.tzinfo is not None
    assert vm.zone == wire["zoneId"] and vm.region == "ru-central1"


def test_paging_walks_every_page(sim, make_adapter):
    small_pages = make_adapter(sim, page_size=7)
    one_page = make_adapter(sim)

    paged = {r.provider_id: r.content_hash for r in small_pages.discover()}
    whole = {r.provider_id: r.content_hash for r in one_page.discover()}

    assert paged == whole
    folder = next(iter(sim.inventory.folders))
    assert len(sim.inventory.items(folder, "disks")) > 7
    assert small_pages.api_calls > one_page.api_calls


def test_int64_as_bare_numbers_parse_like_strings(make_adapter):
    with (
        YandexCloudSimulator(seed=3, int64_as_number=False) as strings,
        YandexCloudSimulator(seed=3, int64_as_number=True) as numbers,
    ):
        wire = next(iter(numbers.inventory.folders.values())).items["instances"]
        assert isinstance(next(iter(wire.values()))["resources"]["memory"], int)

        as_strings = {r.provider_id: r.content_hash for r in make_adapter(strings).discover()}
        as_numbers = {r.provider_id: r.content_hash for r in make_adapter(numbers).discover()}

    assert as_strings == as_numbers


def test_unknown_enum_values_become_unknown_and_keep_the_raw_value(make_adapter):
    with YandexCloudSimulator(seed=5, unknown_enum_every=3) as sim:
        found = list(make_adapter(sim).discover())

    odd_vms = [r for r in found if r.type == ResourceType.VM and r.raw_status == "HIBERNATED"]
    odd_disks = [r for r in found if r.type == ResourceType.DISK and r.raw_status == "MIGRATING"]
    assert odd_vms and odd_disks
    assert {r.status for r in odd_vms + odd_disks} == {ResourceStatus.UNKNOWN}


def test_omitted_proto3_defaults_read_as_defaults():
    vm = records.instance({"id": "fhm0", "resources": {"cores": "2"}, "schedulingPolicy": {}})
    disk = records.disk({"id": "fhm1", "size": 1024})
    address = records.address({"id": "e9b0", "externalIpv4Address": {"address": "1.2.3.4"}}, {})

    assert vm.specs == {"vcpu": 2, "core_fraction": 100}
    assert vm.pricing_model == "on_demand"
    assert vm.status == ResourceStatus.UNKNOWN and vm.raw_status == ""
    assert vm.labels == {} and vm.related_ids == {}
    assert disk.parent_provider_id is None and disk.properties["attached"] is False
    assert address.properties["used"] is False and address.parent_provider_id is None


@pytest.mark.parametrize("scope_kind", ["folders", "clouds", "organization", "other_org"])
def test_scope_limits_what_is_listed(make_adapter, scope_kind):
    with YandexCloudSimulator(seed=11, clouds=2, folders=4, resources_per_folder=20) as sim:
        cloud_id = next(iter(sim.inventory.clouds))
        folder_ids = [f for f, v in sim.inventory.folders.items() if v.wire["cloudId"] == cloud_id]
        scope = {
            "folders": {"folder_ids": folder_ids[:1]},
            "clouds": {"cloud_ids": [cloud_id]},
            "organization": {"organization_id": sim.config.organization_id},
            "other_org": {"organization_id": "bpfsomebodyelse00000"},
        }[scope_kind]
        found = list(make_adapter(sim, scope=scope).discover())

    folders_seen = {r.sub_account for r in found if r.type != ResourceType.CLOUD}
    if scope_kind == "folders":
        assert folders_seen == {folder_ids[0]}
        assert not any(r.type == ResourceType.CLOUD for r in found)
    elif scope_kind == "clouds":
        assert folders_seen == set(folder_ids)
    elif scope_kind == "organization":
        assert len(folders_seen) == 4
    else:
        assert found == []


def test_resync_of_unchanged_cloud_gives_identical_hashes_and_mutations_show(sim, adapter):
    before = {r.provider_id: r for r in adapter.discover()}
    again = {r.provider_id: r.content_hash for r in adapter.discover()}
    assert again == {pid: r.content_hash for pid, r in before.items()}

    report = sim.mutate(appear=3, change=2, disappear=2)
    after = {r.provider_id: r.content_hash for r in adapter.discover()}

    assert set(report.appeared) == set(after) - set(before)
    assert set(report.disappeared) == set(before) - set(after)
    changed = {pid for pid in set(before) & set(after) if before[pid].content_hash != after[pid]}
    assert set(report.changed) <= changed
    # Anything else that changed was attached to a removed VM (a data disk, a static IP).
    for pid in changed - set(report.changed):
        assert before[pid].parent_provider_id in report.disappeared
