"""The Beget simulator itself: its command line (as the demo and ``bench sync`` run it), its
controls, scale and the money it keeps consistent with the inventory."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from decimal import Decimal

import requests

from providers.adapters.beget.simulator import BegetSimulator, SimulatorConfig
from providers.adapters.registry import provider_spec


def test_the_command_line_serves_the_declared_scale_and_prints_its_url():
    spec = provider_spec("beget")
    args = spec.simulator.scale_args(2, 50)
    proc = subprocess.Popen(  # noqa: S603 -- our own module, fixed arguments
        [sys.executable, "-m", spec.simulator.module, "--port", "0", "--seed", "3", *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        url = re.search(r" on (http://\S+)", line).group(1)
        assert requests.get(f"{url}/_sim/health", timeout=5).json()["resources"] >= 100
        connection = spec.simulator.connection(url)
        assert connection["endpoints"] == {"*": url}
        answer = requests.post(
            f"{url}/api/user/getAccountInfo",
            data={
                "login": connection["credentials"]["login"],
                "passwd": connection["credentials"]["api_password"],
                "output_format": "json",
            },
            timeout=5,
        ).json()
        assert answer["answer"]["status"] == "success"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_sized_accounts_have_about_the_resources_asked_for():
    config = SimulatorConfig.sized(20_000)
    sim = BegetSimulator(config)
    assert 19_000 <= sim.expected_count() <= 20_001


def test_the_balance_is_paid_in_minus_every_daily_debit():
    today = dt.date(2026, 5, 1)
    sim = BegetSimulator(SimulatorConfig(today=today, account_days=30, paid_in=Decimal("5000")))
    account = sim.account
    assert account.balance == Decimal("5000") - account.charged(account.started, today)
    daily = account.plan_rate_day + account.vps_rate_day()
    assert account.days_to_block == int(account.balance // daily)
    server_id = next(iter(account.servers))
    before = account.balance
    account.remove_server(server_id)
    assert account.balance == before  # past debits stay when a server goes


def test_faults_and_top_ups_are_steered_over_http():
    with BegetSimulator() as sim:
        fault = {"kind": "envelope_error", "code": "answer:INVALID_DATA", "path": "/api/"}
        assert requests.post(f"{sim.url}/_sim/faults", json=fault, timeout=5).ok
        body = requests.post(f"{sim.url}/api/site/getList", timeout=5).json()
        assert body["answer"]["errors"][0]["error_code"] == "INVALID_DATA"
        before = sim.account.balance
        top_up = requests.post(f"{sim.url}/_sim/top-up", json={"amount": "100.50"}, timeout=5)
        assert Decimal(top_up.json()["balance"]) == before + Decimal("100.50")
        mutated = requests.post(f"{sim.url}/_sim/mutate", json={"appear": 1}, timeout=5).json()
        assert len(mutated["appeared"]) == 1
