"""A deterministic month of Yandex Cloud costs, mapped by the product itself, for conformance runs.

The FinOps Foundation validator must see what a customer would export: the simulator's inventory
discovered by a real sync, its detailed billing export pulled over S3 by a real cost source, both
through the services (no shortcuts into the tables). ``load_yandex_month`` does that for one tenant;
the ``focus_yandex_sample`` command runs it in a scratch database and writes the export, which CI
hands to ``focus-validate``, and a test does the same on the test database.

The simulator is seeded and its calendar pinned, so the month's rows and totals are the same on
every run and machine. Its days are MSK days and the export's month is UTC (ChargePeriodStart):
MSK day D starts at (D-1) 21:00 UTC, so the UTC month holds the MSK days from its 2nd to the 1st
of the next month. The pull covers those, plus "today", the day after (its file is still being
written, hence partial, and it starts after the month).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

from providers.costs.export import parse_period

DEFAULT_PERIOD = "2026-01"
DEFAULT_SEED = 7
CONNECTION_NAME = "Yandex Cloud (conformance simulator)"
SOURCE_NAME = "Yandex Cloud billing export (conformance simulator)"


@dataclass(frozen=True)
class LoadedMonth:
    resources: int
    files: int
    # currency -> the simulator's own sum of cost + credit over the pulled days
    expected_totals: dict[str, Decimal]


@contextmanager
def simulator(period: str = DEFAULT_PERIOD, *, seed: int = DEFAULT_SEED, folders: int = 2,
              resources_per_folder: int = 30) -> Iterator:  # fmt: skip
    """A running Yandex Cloud simulator whose billing export holds the UTC month ``period``."""
    from providers.adapters.yandex.simulator import SimulatorConfig, YandexCloudSimulator

    start, end = parse_period(period)
    first_msk_day = start.date() + dt.timedelta(days=1)
    today = end.date() + dt.timedelta(days=1)
    config = SimulatorConfig(seed=seed, folders=folders, resources_per_folder=resources_per_folder)
    with YandexCloudSimulator(config) as sim:
        sim.billing.today = today
        sim.billing.days = (today - first_msk_day).days + 1
        yield sim


def load_yandex_month(sim, tenant) -> LoadedMonth:
    """Sync the simulator's inventory into ``tenant`` and pull its billing export, as an MSP
    operator would set it up (a connection, then a billing-export cost source tied to it)."""
    from providers.adapters.yandex.simulator_billing import BILLING_BUCKET, BILLING_PREFIX
    from providers.adapters.yandex.simulator_storage import (
        DEFAULT_ACCESS_KEY_ID,
        DEFAULT_SECRET_KEY,
    )
    from providers.models import CostSource, SyncRun
    from providers.services.connections import connection_create
    from providers.services.cost_source_pulls import cost_source_pull
    from providers.services.cost_sources import cost_source_create
    from providers.services.sync import connection_sync

    connection = connection_create(
        actor=None,
        tenant=tenant,
        provider="yandex_cloud",
        name=CONNECTION_NAME,
        credentials={"oauth_token": sim.oauth_token},
        endpoints={"*": sim.url},
        start_sync=False,
    )
    run = connection_sync(connection_id=connection.pk, trigger=SyncRun.Trigger.MANUAL)
    if run is None or run.status != SyncRun.Status.SUCCEEDED:
        raise RuntimeError(f"the simulator sync failed: {getattr(run, 'error', 'not run')}")
    source = cost_source_create(
        actor=None,
        tenant=tenant,
        kind=CostSource.Kind.YANDEX_BILLING_EXPORT,
        name=SOURCE_NAME,
        connection=connection,
        endpoint_url=sim.s3_url,
        bucket=BILLING_BUCKET,
        prefix=BILLING_PREFIX,
        credentials={
            "access_key_id": DEFAULT_ACCESS_KEY_ID,
            "secret_access_key": DEFAULT_SECRET_KEY,
        },
        start_pull=False,
    )
    pulled = cost_source_pull(source_id=source.pk, trigger="manual")
    if pulled is None or pulled.status != "succeeded":
        raise RuntimeError(f"the billing export pull failed: {getattr(pulled, 'error', None)}")
    return LoadedMonth(
        resources=run.seen,
        files=pulled.imported,
        expected_totals=sim.billing.expected_totals(),
    )
