"""The quick-start demo with every provider's simulator running (as `infrazen.py up` starts them):
Romashka gets a connection and the cost source of each of the four providers, and after the
syncs and pulls its inventory and costs come from all four, billed totals kept apart from
estimates (Beget's and VK Cloud's) and each adding up exactly."""

from __future__ import annotations

import io
from collections import defaultdict
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db.models import Sum

from core.models import Tenant
from providers.adapters.beget.simulator import BegetSimulator
from providers.adapters.beget.simulator import SimulatorConfig as BegetConfig
from providers.adapters.registry import provider_specs
from providers.adapters.selectel.simulator import SelectelSimulator
from providers.adapters.vk_cloud.simulator import VKCloudSimulator
from providers.adapters.yandex.simulator import SimulatorConfig, YandexCloudSimulator
from providers.demo_steps import connection_name
from providers.models import Connection, CostLineItem, CostSource, ProviderPrice, Resource
from providers.services.cost_source_pulls import cost_source_pull
from providers.services.sync import connection_sync
from providers.tasks import connection_sync_task

PROVIDERS = {"Yandex Cloud", "Selectel", "VK Cloud", "Beget"}


@pytest.fixture
def sims(settings):
    yandex = YandexCloudSimulator(SimulatorConfig(seed=11, folders=1, resources_per_folder=15))
    running = {
        "YANDEX_SIMULATOR_URL": yandex,
        "SELECTEL_SIMULATOR_URL": SelectelSimulator(projects=1, resources_per_project=10),
        "VK_CLOUD_SIMULATOR_URL": VKCloudSimulator(resources=10),
        "BEGET_SIMULATOR_URL": BegetSimulator(BegetConfig(seed=21, servers=2, account_days=10)),
    }
    for setting, sim in running.items():
        sim.start()
        setattr(settings, setting, sim.url)
    yandex.billing.days = 2
    try:
        yield running
    finally:
        for sim in running.values():
            sim.stop()


def test_every_provider_simulator_is_declared_for_the_quick_start():
    from tests.test_quickstart import load_launcher

    launcher = load_launcher()
    declared = {
        (spec.name, spec.simulator.module, spec.simulator.url_setting)
        for spec in provider_specs()
        if spec.simulator
    }
    assert {(name, module, setting) for name, module, setting, _a in launcher.SIMULATORS} == (
        declared
    )
    assert {name for name, *_rest in declared} == PROVIDERS


def test_romashka_gets_all_four_providers_with_costs_that_add_up(
    db, sims, tmp_path, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.delenv("DEMO_PASSWORD", raising=False)
    monkeypatch.setattr(connection_sync_task, "apply_async", lambda **kw: None)
    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "seed_demo", "--credentials-file", str(tmp_path / "c.json"), stdout=io.StringIO()
        )
    romashka = Tenant.objects.get(slug="romashka")

    connections = Connection.objects.filter(tenant=romashka)
    specs = {spec.key: spec for spec in provider_specs()}
    assert {specs[c.provider].name for c in connections} == PROVIDERS
    assert all(c.name == connection_name(specs[c.provider]) for c in connections)
    sources = CostSource.objects.filter(tenant=romashka).select_related("connection")
    assert {specs[s.connection.provider].name for s in sources} == PROVIDERS
    assert ProviderPrice.objects.filter(provider="vk_cloud").exists()  # the demo price list

    for connection in connections:
        run = connection_sync(connection_id=connection.pk, trigger="created")
        assert run.status == "succeeded", (connection.provider, run.error)
    for source in sources:
        result = cost_source_pull(source_id=source.pk, trigger="manual")
        assert result.status == "succeeded", (source.name, result.error)

    inventory = Resource.objects.filter(connection__tenant=romashka, deleted_at__isnull=True)
    assert {specs[p].name for p in inventory.values_list("connection__provider", flat=True)} == (
        PROVIDERS
    )

    items = CostLineItem.objects.filter(tenant=romashka)
    by_provider: dict[tuple[str, bool], Decimal] = defaultdict(Decimal)
    for row in items.values("provider_name", "x_estimated").annotate(s=Sum("billed_cost")):
        by_provider[row["provider_name"], row["x_estimated"]] += row["s"]
    assert {name for name, _e in by_provider} == PROVIDERS
    # Estimates only where the provider has no billed costs for us: Beget, VK Cloud.
    assert {name for name, estimated in by_provider if estimated} == {"Beget", "VK Cloud"}
    billed = {name for name, estimated in by_provider if not estimated}
    assert billed == {"Yandex Cloud", "Selectel"}
    assert all(total > 0 for total in by_provider.values())
    for estimated in (False, True):
        overall = items.filter(x_estimated=estimated).aggregate(s=Sum("billed_cost"))["s"]
        parts = [total for (_n, e), total in by_provider.items() if e is estimated]
        assert isinstance(overall, Decimal)
        assert sum(parts, Decimal(0)) == overall
