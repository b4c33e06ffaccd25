"""Fixtures for adapter tests: a live simulator per test and adapters wired to it.

Nothing here touches the database; every adapter call is real HTTP to a local simulator. Sleeps
are recorded instead of slept, so retry waits can be asserted without slowing the suite.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from providers.adapters.http import HttpClient
from providers.adapters.yandex import YandexCloudAdapter
from providers.adapters.yandex.simulator import SimulatorConfig, YandexCloudSimulator


@pytest.fixture
def sim() -> Iterator[YandexCloudSimulator]:
    with YandexCloudSimulator(SimulatorConfig(seed=7, folders=2, resources_per_folder=40)) as s:
        yield s


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_adapter(sleeps):
    def build(simulator: YandexCloudSimulator, credentials=None, **options) -> YandexCloudAdapter:
        http = HttpClient(
            provider="Yandex Cloud",
            sleep=sleeps.append,
            rng=random.Random(0),
            timeout=options.pop("timeout", (2.0, 5.0)),
            max_attempts=options.pop("max_attempts", 5),
        )
        return YandexCloudAdapter(
            credentials or {"oauth_token": simulator.oauth_token},
            endpoints=simulator.endpoints,
            http=http,
            **options,
        )

    return build


@pytest.fixture
def adapter(sim, make_adapter) -> YandexCloudAdapter:
    return make_adapter(sim)


# --- Beget ---------------------------------------------------------------------------------------


@pytest.fixture
def beget_sim():
    from providers.adapters.beget.simulator import BegetSimulator, SimulatorConfig

    with BegetSimulator(SimulatorConfig(seed=7, servers=5)) as s:
        yield s


@pytest.fixture
def make_beget(sleeps):
    from providers.adapters.beget.adapter import BegetAdapter

    def build(simulator, credentials=None, **options):
        http_options = {
            "sleep": sleeps.append,
            "rng": random.Random(0),
            "timeout": options.pop("timeout", (2.0, 5.0)),
            "max_attempts": options.pop("max_attempts", 5),
        }
        return BegetAdapter(
            credentials or simulator.credentials,
            endpoints={"*": simulator.url},
            http_options=http_options,
            **options,
        )

    return build


@pytest.fixture
def beget(beget_sim, make_beget):
    return make_beget(beget_sim)
