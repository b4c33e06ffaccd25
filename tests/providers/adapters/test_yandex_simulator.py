"""The simulator itself: wire format, determinism, consistency, control surface and CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests

import providers
from providers.adapters.yandex.simulator import YandexCloudSimulator, throughput_check
from providers.adapters.yandex.simulator_inventory import Inventory, InventoryConfig


def _bearer(sim) -> dict[str, str]:
    token = requests.post(
        sim.tokens_url, json={"yandexPassportOauthToken": sim.oauth_token}, timeout=5
    ).json()["iamToken"]
    return {"Authorization": f"Bearer {token}"}


def test_same_seed_same_cloud_other_seed_other_cloud():
    def snapshot(seed):
        return [
            (i.type, i.id, i.data) for i in Inventory(InventoryConfig(seed=seed)).iter_resources()
        ]

    assert snapshot(4) == snapshot(4)
    assert snapshot(4) != snapshot(5)


def test_mutations_are_deterministic_too():
    a, b = Inventory(InventoryConfig(seed=9)), Inventory(InventoryConfig(seed=9))

    assert a.mutate(appear=2, change=2, disappear=2) == b.mutate(appear=2, change=2, disappear=2)


def test_inventory_is_internally_consistent():
    inventory = Inventory(InventoryConfig(seed=12, folders=3, resources_per_folder=120))
    items = list(inventory.iter_resources())
    by_id = {i.id: i for i in items}
    vm_ips = {}
    for item in items:
        if item.type == "vm":
            nic = item.data["networkInterfaces"][0]
            assert by_id[item.data["bootDisk"]["diskId"]].data["instanceIds"] == [item.id]
            assert by_id[nic["subnetId"]].data["zoneId"] == item.data["zoneId"]
            nat = nic["primaryV4Address"].get("oneToOneNat")
            if nat:
                vm_ips[nat["address"]] = item.id
        if item.type == "disk":
            for vm_id in item.data.get("instanceIds", ()):
                assert by_id[vm_id].type == "vm"
        if item.type == "database_host":
            assert by_id[item.cluster_id].type == "database_cluster"
            assert item.data["clusterId"] == item.cluster_id
        if item.type == "k8s_node_group":
            assert by_id[item.cluster_id].type == "k8s_cluster"
    used = [i for i in items if i.type == "ip_address" and i.data.get("used")]
    assert used and {i.data["externalIpv4Address"]["address"] for i in used} == set(vm_ips)


def test_disappearing_vm_takes_its_boot_disk_and_frees_its_ip():
    inventory = Inventory(InventoryConfig(seed=21, resources_per_folder=200))

    report = inventory.mutate(disappear=10)

    ids = {i.id for i in inventory.iter_resources()}
    assert not ids & set(report.disappeared)
    for item in inventory.iter_resources():
        if item.type == "disk":
            assert all(vm in ids for vm in item.data.get("instanceIds", ()))
        if item.type == "ip_address" and item.data.get("used"):
            assert any(
                vm.data["networkInterfaces"][0]["primaryV4Address"]
                .get("oneToOneNat", {})
                .get("address")
                == item.data["externalIpv4Address"]["address"]
                for vm in inventory.iter_resources()
                if vm.type == "vm"
            )


@pytest.mark.parametrize(
    ("path", "params", "status", "code"),
    [
        ("/compute/v1/instances", {"pageSize": 1001}, 400, 3),
        ("/compute/v1/instances", {}, 400, 3),
        ("/compute/v1/instances", {"folderId": "b1gnosuchfolder00000"}, 404, 5),
        ("/compute/v1/instances", {"pageToken": "garbage!"}, 400, 3),
        ("/resource-manager/v1/folders", {}, 400, 3),
        ("/compute/v1/nothing", {}, 404, 5),
    ],
)
def test_errors_use_the_google_rpc_status_envelope(sim, path, params, status, code):
    if path.startswith("/compute/v1/instances") and "folderId" not in params and params:
        params["folderId"] = next(iter(sim.inventory.folders))

    answer = requests.get(sim.url + path, params=params, headers=_bearer(sim), timeout=5)

    assert answer.status_code == status
    body = answer.json()
    assert body["code"] == code and body["message"]
    assert body["details"][0]["@type"] == "type.googleapis.com/google.rpc.RequestInfo"


def test_missing_or_bad_bearer_token_is_401_code_16(sim):
    folder = next(iter(sim.inventory.folders))
    for headers in ({}, {"Authorization": "Bearer t1.nope"}):
        answer = requests.get(
            sim.url + "/compute/v1/disks", params={"folderId": folder}, headers=headers, timeout=5
        )
        assert answer.status_code == 401 and answer.json()["code"] == 16


def test_pages_follow_next_page_token_to_the_end(sim):
    folder = next(iter(sim.inventory.folders))
    headers, params, seen = _bearer(sim), {"folderId": folder, "pageSize": 3}, []
    while True:
        body = requests.get(
            sim.url + "/compute/v1/disks", params=params, headers=headers, timeout=5
        ).json()
        assert len(body.get("disks", [])) <= 3
        seen += [d["id"] for d in body.get("disks", [])]
        if not body.get("nextPageToken"):
            break
        params["pageToken"] = body["nextPageToken"]

    assert seen == [d["id"] for d in sim.inventory.items(folder, "disks")]


def test_control_endpoints_steer_a_running_simulator(sim):
    rule = requests.post(
        sim.url + "/_sim/faults", json={"kind": "rate_limit", "retry_after": 7}, timeout=5
    ).json()
    throttled = requests.get(sim.url + "/resource-manager/v1/clouds", timeout=5)
    report = requests.post(sim.url + "/_sim/mutate", json={"appear": 2}, timeout=5).json()
    key = requests.post(sim.url + "/_sim/service-account-keys", json={}, timeout=5).json()
    stats = requests.get(sim.url + "/_sim/stats", timeout=5).json()
    bad = requests.post(sim.url + "/_sim/faults", json={"kind": "gremlins"}, timeout=5)

    assert rule["kind"] == "rate_limit"
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "7"
    assert throttled.json()["code"] == 8
    assert len(report["appeared"]) >= 2
    assert {"id", "service_account_id", "private_key"} <= set(key)
    assert stats["faults"] == {"rate_limit": 1}
    assert bad.status_code == 400


def test_command_line_serves_until_stopped():
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "providers.adapters.yandex.simulator",
            "--port",
            "0",
            "--folders",
            "3",
            "--resources-per-folder",
            "30",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(providers.__file__).resolve().parents[1],
    )
    try:
        banner = process.stdout.readline()
        url = banner.split(" on ")[1].split()[0]
        health = requests.get(url + "/_sim/health", timeout=5).json()
    finally:
        process.terminate()
        process.wait(timeout=10)

    assert health["ok"] is True and health["resources"] > 90


def test_throughput_check_discovers_everything_quickly():
    result = throughput_check(resources=3000, folders=3)

    assert result["resources"] == result["expected"] >= 3000
    # Generous floor for slow CI machines; on a laptop this is ~20,000/s.
    assert result["resources_per_s"] > 2000
    print(json.dumps(result))


def test_start_and_stop_are_idempotent():
    sim = YandexCloudSimulator()
    sim.start()
    port = sim.port
    sim.start()
    assert sim.port == port
    sim.stop()
    sim.stop()
    with pytest.raises(RuntimeError):
        _ = sim.port
