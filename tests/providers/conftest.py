"""Provider fixtures shared by service, API and task tests: a live Yandex Cloud simulator and a
connection of tenant A pointed at it."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from providers.adapters.http import HttpClient
from providers.adapters.yandex import YandexCloudAdapter
from providers.adapters.yandex.simulator import SimulatorConfig, YandexCloudSimulator
from tests.factories import ConnectionFactory


@pytest.fixture
def yc_sim() -> Iterator[YandexCloudSimulator]:
    with YandexCloudSimulator(SimulatorConfig(seed=11, folders=2, resources_per_folder=30)) as s:
        yield s


@pytest.fixture
def yc_connection(world, yc_sim):
    # An MSP operator: only operators may point a connection at another endpoint (the simulator).
    return ConnectionFactory(
        actor=world.operator_a,
        tenant=world.a,
        name="Alpha production",
        credentials={"oauth_token": yc_sim.oauth_token},
        endpoints={"*": yc_sim.url},
    )


@pytest.fixture
def fast_adapter(yc_sim):
    """Adapter factory with recorded (not slept) retry waits, for fault tests."""
    sleeps: list[float] = []

    def factory(connection):
        from providers.services.connections import connection_credentials

        http = HttpClient(
            provider="Yandex Cloud", sleep=sleeps.append, rng=random.Random(0), max_attempts=4
        )
        return YandexCloudAdapter(
            connection_credentials(connection),
            scope=connection.scope,
            endpoints=connection.endpoints,
            http=http,
        )

    factory.sleeps = sleeps
    return factory
