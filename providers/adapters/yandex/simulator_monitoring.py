"""``/monitoring/v2/data/read`` for the simulator: per-vCPU ``cpu_utilization`` of VMs.

Values are a pure function of (seed, VM, vCPU, timestamp), so two reads of the same window agree
and a test can recompute them. Like the real metric, each vCPU reads between 0 and the VM's core
fraction; stopped VMs report nothing.
"""

from __future__ import annotations

import math
import re
import zlib
from datetime import datetime
from typing import Any

from providers.adapters.yandex.simulator_inventory import Inventory
from providers.adapters.yandex.simulator_wire import ApiError

MAX_POINTS_PER_SERIES = 10_000
_QUERY = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*\{(.*)\}\s*$", re.DOTALL)
_LABEL = re.compile(r'(\w+)\s*=\s*"([^"]*)"')


def cpu_value(seed: int, vm_id: str, cpu: int, stamp_ms: int, core_fraction: int) -> float:
    """Percent of one vCPU in [0, core_fraction]. A fifth of VMs idle near 2% of their share."""
    profile = zlib.crc32(f"{seed}:{vm_id}".encode())
    base = 0.02 if profile % 5 == 0 else 0.1 + (profile % 1000) / 1250
    noise = zlib.crc32(f"{vm_id}:{cpu}:{stamp_ms}".encode()) / 0xFFFFFFFF - 0.5
    share = min(1.0, max(0.0, base + noise * 0.2))
    return round(core_fraction * share, 3)


def _millis(value: Any, name: str) -> int:
    try:
        return int(datetime.fromisoformat(str(value)).timestamp() * 1000)
    except ValueError:
        raise ApiError(3, f"{name}: invalid RFC 3339 timestamp") from None


def read(inventory: Inventory, folder_id: str, body: Any, seed: int) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        raise ApiError(3, "query: required")
    match = _QUERY.match(body["query"])
    if not match:
        raise ApiError(3, "query: cannot parse the selector")
    name, selectors = match.group(1), dict(_LABEL.findall(match.group(2)))
    start, end = _millis(body.get("fromTime"), "fromTime"), _millis(body.get("toTime"), "toTime")
    if end <= start:
        raise ApiError(3, "toTime must be after fromTime")
    step = _step(body.get("downsampling") or {}, start, end)
    first = math.ceil(start / step) * step
    stamps = list(range(first, end, step))
    if len(stamps) > MAX_POINTS_PER_SERIES:
        raise ApiError(3, f"too many points per series ({len(stamps)} > {MAX_POINTS_PER_SERIES})")
    if name != "cpu_utilization" or selectors.get("service", "compute") != "compute":
        return {"metrics": []}
    wanted = selectors.get("resource_id", "*")
    if wanted == "*":
        vm_ids = [vm["id"] for vm in inventory.items(folder_id, "instances")]
    else:
        vm_ids = wanted.split("|")
    metrics = []
    for vm_id in vm_ids:
        vm = inventory.instance(vm_id)
        if not vm or vm.get("folderId") != folder_id or vm.get("status") != "RUNNING":
            continue
        resources = vm.get("resources", {})
        fraction = int(resources.get("coreFraction", 100))
        for cpu in range(int(resources.get("cores", 1))):
            metrics.append(
                {
                    "name": "cpu_utilization",
                    "type": "DGAUGE",
                    "labels": {
                        "service": "compute",
                        "resource_id": vm_id,
                        "resource_type": "vm",
                        "cpu_name": str(cpu),
                    },
                    "timeseries": {
                        "timestamps": stamps,
                        "doubleValues": [cpu_value(seed, vm_id, cpu, t, fraction) for t in stamps],
                    },
                }
            )
    return {"metrics": metrics}


def _step(downsampling: dict[str, Any], start: int, end: int) -> int:
    chosen = [k for k in ("gridInterval", "maxPoints", "disabled") if k in downsampling]
    if len(chosen) > 1:
        raise ApiError(3, "downsampling: set exactly one of gridInterval, maxPoints, disabled")
    try:
        if "gridInterval" in downsampling:
            step = int(downsampling["gridInterval"])
        elif "maxPoints" in downsampling:
            points = int(downsampling["maxPoints"])
            if points <= 10:
                raise ApiError(3, "downsampling.maxPoints must be greater than 10")
            step = math.ceil((end - start) / points)
        else:
            step = 60_000  # raw data: the compute agent writes about once a minute
    except ValueError:
        raise ApiError(3, "downsampling: invalid number") from None
    if step < 1000:
        raise ApiError(3, "downsampling.gridInterval must be at least 1000 ms")
    return step
