"""More SAMPLES / CREATE_PAYLOADS / SERVICE_CASES registrations (imported by samples.py).

Kept separate so engineers working on different apps can register without editing one file.
"""

from tests.contracts.samples import _connection, _sample_resource, sample, service_case


# --- providers: metrics ----------------------------------------------------------------------
@service_case("providers.services.metrics.resource_metrics_collect")
def _case_resource_metrics_collect(world):
    from providers.services.metrics import resource_metrics_collect

    # A VM on a provider without an adapter: the run fails at once, with no network involved.
    connection = _connection(world.a)
    _sample_resource(world, world.a, connection=connection)
    return (
        world.owner_a,
        world.a,
        lambda actor: resource_metrics_collect(actor=actor, connection_id=connection.pk),
    )


# --- cost data -------------------------------------------------------------------------------
def _focus_file(rows: int = 5, seed: int = 1):
    from tests.factories import focus_file

    return focus_file(rows, seed)


def _import_run(tenant, *, seed: int = 1):
    from tests.factories import ImportRunFactory

    return ImportRunFactory(tenant=tenant, seed=seed, source_key=f"sample-{next(_cost_seq)}")


_cost_seq = iter(range(10**9))


@sample("providers.importrun")
def _sample_import_run(world, tenant):
    return _import_run(tenant, seed=next(_cost_seq))


@sample("providers.costlineitem")
def _sample_cost_line_item(world, tenant):
    from providers.models import CostLineItem

    run = _import_run(tenant, seed=next(_cost_seq))
    return CostLineItem.objects.filter(x_import_run_id=run.pk).first()


@sample("providers.costdaily")
def _sample_cost_daily(world, tenant):
    from providers.models import CostDaily

    run = _import_run(tenant, seed=next(_cost_seq))
    return CostDaily.objects.filter(tenant=tenant, day__gte=run.period_start.date()).first()


@sample("providers.costdailysummary")
def _sample_cost_daily_summary(world, tenant):
    from providers.models import CostDailySummary

    run = _import_run(tenant, seed=next(_cost_seq))
    return CostDailySummary.objects.filter(tenant=tenant, day__gte=run.period_start.date()).first()


@service_case("providers.services.costs.cost_file_import")
def _case_cost_file_import(world):
    from providers.services.costs import cost_file_import

    return (
        world.operator_a,
        world.a,
        lambda actor: cost_file_import(
            actor=actor, tenant=world.a, file=_focus_file(), file_name="case.csv"
        ),
    )


# --- cost sources and exchange rates ---------------------------------------------------------
_source_seq = iter(range(10**9))
_servers: dict[str, object] = {}


def _running(name: str, factory):
    """One simulator per test process, started on first use (the pull and fetch cases talk to
    real HTTP servers; daemon threads, gone with the process)."""
    if name not in _servers:
        _servers[name] = factory().start()
    return _servers[name]


def _yandex_sim():
    from providers.adapters.yandex.simulator import SimulatorConfig, YandexCloudSimulator

    return _running(
        "yandex", lambda: YandexCloudSimulator(SimulatorConfig(folders=1, resources_per_folder=10))
    )


def _cost_source(tenant, **extra):
    from tests.factories import CostSourceFactory

    return CostSourceFactory(tenant=tenant, **extra)


@sample("providers.costsource")
def _sample_cost_source(world, tenant):
    return _cost_source(tenant)


@sample("providers.costsourceobject")
def _sample_cost_source_object(world, tenant):
    from django.utils import timezone

    source = _cost_source(tenant)
    return source.bucket_objects.create(
        tenant=tenant, key="yc/20260214.csv", etag="e", outcome="imported", pulled_at=timezone.now()
    )


@service_case("providers.services.cost_sources.cost_source_create")
def _case_cost_source_create(world):
    from providers.services.cost_sources import cost_source_create

    return (
        world.owner_a,
        world.a,
        lambda actor: cost_source_create(
            actor=actor,
            tenant=world.a,
            kind="yandex_billing_export",
            name="Export",
            bucket="billing-bucket",
            credentials={"access_key_id": "YCAJEkey", "secret_access_key": "YCsecret"},
            start_pull=False,
        ),
    )


@service_case("providers.services.cost_sources.cost_source_update")
def _case_cost_source_update(world):
    from providers.services.cost_sources import cost_source_update

    source = _cost_source(world.a)
    return (
        world.owner_a,
        world.a,
        lambda actor: cost_source_update(actor=actor, source=source, prefix="new/"),
    )


@service_case("providers.services.cost_sources.cost_source_set_enabled")
def _case_cost_source_set_enabled(world):
    from providers.services.cost_sources import cost_source_set_enabled

    source = _cost_source(world.a)
    return (
        world.owner_a,
        world.a,
        lambda actor: cost_source_set_enabled(actor=actor, source=source, enabled=False),
    )


@service_case("providers.services.cost_sources.cost_source_delete")
def _case_cost_source_delete(world):
    from providers.services.cost_sources import cost_source_delete

    source = _cost_source(world.a)
    return world.owner_a, world.a, lambda actor: cost_source_delete(actor=actor, source=source)


@service_case("providers.services.cost_sources.cost_source_request_pull")
def _case_cost_source_request_pull(world):
    from providers.services.cost_sources import cost_source_request_pull

    source = _cost_source(world.a)
    return (
        world.owner_a,
        world.a,
        lambda actor: cost_source_request_pull(actor=actor, source=source),
    )


@service_case("providers.services.cost_source_pulls.cost_source_pull")
def _case_cost_source_pull(world):
    from providers.adapters.yandex.simulator_billing import BILLING_BUCKET
    from providers.adapters.yandex.simulator_storage import (
        DEFAULT_ACCESS_KEY_ID,
        DEFAULT_SECRET_KEY,
    )
    from providers.services.cost_source_pulls import cost_source_pull

    # A real pull over HTTP of a prefix with no files: one summary event, no file imports.
    source = _cost_source(
        world.a,
        endpoint_url=_yandex_sim().s3_url,
        bucket=BILLING_BUCKET,
        prefix="nothing-here/",
        credentials={
            "access_key_id": DEFAULT_ACCESS_KEY_ID,
            "secret_access_key": DEFAULT_SECRET_KEY,
        },
    )
    return (
        world.owner_a,
        world.a,
        lambda actor: cost_source_pull(actor=actor, source_id=source.pk, trigger="manual"),
    )


@service_case("providers.services.yandex_imports.yandex_export_import")
def _case_yandex_export_import(world):
    import datetime as dt
    import io

    from providers.adapters.yandex.simulator_billing import BillingExport
    from providers.adapters.yandex.simulator_inventory import Inventory, InventoryConfig
    from providers.services.yandex_imports import yandex_export_import

    day = dt.date(2026, 2, 14)
    export = BillingExport(
        Inventory(InventoryConfig(folders=1, resources_per_folder=10)), today=day
    )
    body = export.file(day).body
    return (
        world.owner_a,
        world.a,
        lambda actor: yandex_export_import(
            actor=actor,
            tenant=world.a,
            file=io.BytesIO(body),
            file_name="billing/20260214.csv",
            source_key="yc-case",
        ),
    )


@service_case("providers.services.rates.exchange_rate_set")
def _case_exchange_rate_set(world):
    import datetime as dt

    from providers.services.rates import exchange_rate_set
    from tests.contracts.samples import Platform

    return (
        world.operator_a,
        lambda result: Platform,  # rates are platform data: the platform chain
        lambda actor: exchange_rate_set(
            actor=actor, currency="USD", date=dt.date(2026, 2, 14), rate="92.5"
        ),
    )


@service_case("providers.services.rates.exchange_rate_clear")
def _case_exchange_rate_clear(world):
    import datetime as dt

    from providers.services.rates import exchange_rate_clear, exchange_rate_set
    from tests.contracts.samples import Platform

    day = dt.date(2026, 2, 14)
    exchange_rate_set(actor=None, currency="EUR", date=day, rate="99.5")
    return (
        world.operator_a,
        lambda result: Platform,
        lambda actor: exchange_rate_clear(actor=actor, currency="EUR", date=day),
    )


@service_case("providers.services.rates.exchange_rates_fetch")
def _case_exchange_rates_fetch(world):
    import datetime as dt

    from providers.costs.cbr_simulator import CbrSimulator
    from providers.services.rates import exchange_rates_fetch
    from tests.contracts.samples import Platform

    url = _running("cbr", CbrSimulator).rates_url
    return (
        world.superuser,
        lambda result: Platform,
        lambda actor: exchange_rates_fetch(
            actor=actor, first_day=dt.date(2026, 2, 13), last_day=dt.date(2026, 2, 16), base_url=url
        ),
    )


# --- cost sources API ------------------------------------------------------------------------
from tests.contracts.samples import CREATE_PAYLOADS  # noqa: E402  (kept append-only)


def _cost_source_payload(world):
    from tests.factories import ConnectionFactory

    # B's own Yandex Cloud connection: an export belongs to one (the relation the matrix swaps).
    connection = ConnectionFactory(tenant=world.b, name=f"Beta cloud {next(_source_seq)}")
    return {
        "tenant": world.b.pk,
        "kind": "yandex_billing_export",
        "name": f"Beta export {next(_source_seq)}",
        "connection": connection.pk,
        "bucket": "beta-billing",
        "prefix": "yc/",
        "credentials": {"access_key_id": "YCAJEcontract", "secret_access_key": "YCcontract"},
        "policy": "skip_rows",
        "pull_interval": 1800,
    }


CREATE_PAYLOADS["costsource"] = _cost_source_payload


# --- uploads, VAT rules, key rotation --------------------------------------------------------
@service_case("providers.services.uploads.cost_upload_enqueue")
def _case_cost_upload_enqueue(world):
    from providers.services.uploads import cost_upload_enqueue

    return (
        world.operator_a,
        world.a,
        lambda actor: cost_upload_enqueue(
            actor=actor, tenant=world.a, file=_focus_file(), file_name="queued.csv"
        ),
    )


def _vat_rule(**fields):
    import datetime as dt

    from providers.services.vat import vat_rule_create

    values = {
        "provider_name": f"Provider {next(_source_seq)}",
        "currency": "RUB",
        "valid_from": dt.date(2026, 1, 1),
        "rate": "0.2200",
        "included_in_price": True,
    }
    return vat_rule_create(actor=None, **{**values, **fields})


@service_case("providers.services.vat.vat_rule_create")
def _case_vat_rule_create(world):
    import datetime as dt

    from providers.services.vat import vat_rule_create
    from tests.contracts.samples import Platform

    return (
        world.superuser,
        lambda result: Platform,  # VAT rules are platform data: the platform chain
        lambda actor: vat_rule_create(
            actor=actor, provider_name="AWS", currency="USD", valid_from=dt.date(2026, 1, 1), rate=0
        ),
    )


@service_case("providers.services.vat.vat_rule_update")
def _case_vat_rule_update(world):
    from providers.services.vat import vat_rule_update
    from tests.contracts.samples import Platform

    rule = _vat_rule()
    return (
        world.superuser,
        lambda result: Platform,
        lambda actor: vat_rule_update(actor=actor, rule=rule, rate="0.2000"),
    )


@service_case("providers.services.vat.vat_rule_delete")
def _case_vat_rule_delete(world):
    from providers.services.vat import vat_rule_delete
    from tests.contracts.samples import Platform

    rule = _vat_rule()
    return (
        world.superuser,
        lambda result: Platform,
        lambda actor: vat_rule_delete(actor=actor, rule=rule),
    )


def _provider_price(**fields):
    import datetime as dt

    from providers.services.prices import provider_price_create

    values = {
        "provider": "vk_cloud",
        "resource_type": "vm",
        "metric": "vcpu_hour",
        "variant": f"flavor-{next(_source_seq)}",
        "valid_from": dt.date(2026, 1, 1),
        "price": "1.10",
    }
    return provider_price_create(actor=None, **{**values, **fields})


@service_case("providers.services.prices.provider_price_create")
def _case_provider_price_create(world):
    import datetime as dt

    from providers.services.prices import provider_price_create
    from tests.contracts.samples import Platform

    return (
        world.superuser,
        lambda result: Platform,  # price lists are platform data: the platform chain
        lambda actor: provider_price_create(
            actor=actor,
            provider="vk_cloud",
            resource_type="disk",
            metric="storage_gib_hour",
            valid_from=dt.date(2026, 1, 1),
            price="0.02",
        ),
    )


@service_case("providers.services.prices.provider_price_update")
def _case_provider_price_update(world):
    from providers.services.prices import provider_price_update
    from tests.contracts.samples import Platform

    entry = _provider_price()
    return (
        world.superuser,
        lambda result: Platform,
        lambda actor: provider_price_update(actor=actor, entry=entry, price="1.20"),
    )


@service_case("providers.services.prices.provider_price_delete")
def _case_provider_price_delete(world):
    from providers.services.prices import provider_price_delete
    from tests.contracts.samples import Platform

    entry = _provider_price()
    return (
        world.superuser,
        lambda result: Platform,
        lambda actor: provider_price_delete(actor=actor, entry=entry),
    )


@service_case("providers.services.encryption.encryption_keys_rotate")
def _case_encryption_keys_rotate(world):
    from providers.services.encryption import encryption_keys_rotate
    from tests.contracts.samples import Platform

    _connection(world.a)
    return (
        world.superuser,
        lambda result: Platform,
        lambda actor: encryption_keys_rotate(actor=actor, batch_size=10),
    )


# --- provider cost APIs and files ------------------------------------------------------------
CONTRACT_FILE_KIND = "contract_vk_detail"


def _contract_file_format():
    """A tiny provider file format for VK Cloud (registered once per test process)."""
    import csv
    import datetime as dt
    import io
    from decimal import Decimal

    from providers.adapters.base import CostRecord
    from providers.adapters.registry import cost_file_formats, register_cost_file_format
    from providers.adapters.spec import CostFileFormat

    def parse(stream, file_name):
        for day, amount in csv.reader(io.TextIOWrapper(stream, encoding="utf-8")):
            start = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)
            yield CostRecord(
                charge_period_start=start,
                charge_period_end=start + dt.timedelta(days=1),
                billed_cost=Decimal(amount),
                billing_currency="RUB",
            )

    if CONTRACT_FILE_KIND not in cost_file_formats():
        register_cost_file_format(
            "vk_cloud", CostFileFormat(CONTRACT_FILE_KIND, "Contract", (".csv",), parse)
        )


@service_case("providers.services.cost_api.provider_file_import")
def _case_provider_file_import(world):
    import io

    from providers.services.cost_sources import cost_source_create
    from tests.factories import ConnectionFactory

    _contract_file_format()
    source = cost_source_create(
        actor=None,
        tenant=world.a,
        kind="provider_file",
        name=f"VK files {next(_source_seq)}",
        file_kind=CONTRACT_FILE_KIND,
        connection=ConnectionFactory(tenant=world.a, provider="vk_cloud"),
    )
    return (
        world.owner_a,
        world.a,
        lambda actor: provider_file_import_call(actor, source, io.BytesIO(b"2026-02-14,12.50\n")),
    )


def provider_file_import_call(actor, source, stream):
    from providers.services.cost_api import provider_file_import

    return provider_file_import(actor=actor, source=source, file=stream, file_name="detail.csv")


# --- prepaid balances ------------------------------------------------------------------------
@sample("providers.balancesnapshot")
def _sample_balance_snapshot(world, tenant):
    from decimal import Decimal

    from django.utils import timezone

    from providers.models import BalanceSnapshot

    now = timezone.now()
    return BalanceSnapshot.objects.create(
        tenant=tenant,
        connection=_connection(tenant),
        kind="main",
        currency="RUB",
        amount=Decimal("1234.50"),
        as_of=now,
        collected_at=now,
    )


@service_case("providers.services.balances.connection_balances_collect")
def _case_connection_balances_collect(world):
    from providers.services.balances import connection_balances_collect
    from tests.factories import ConnectionFactory

    sim = _yandex_sim()
    connection = ConnectionFactory(
        actor=world.operator_a,
        tenant=world.a,
        credentials={"oauth_token": sim.oauth_token},
        endpoints={"*": sim.url},
    )
    return (
        world.owner_a,
        world.a,
        lambda actor: connection_balances_collect(actor=actor, connection_id=connection.pk),
    )


# --- resource operation logs (oplogs8) -------------------------------------------------------
@sample("providers.resourceoperation")
def _sample_resource_operation(world, tenant):
    from django.utils import timezone

    from providers.models import ResourceOperation

    resource = _sample_resource(world, tenant)
    now = timezone.now()
    return ResourceOperation.objects.create(
        tenant=tenant,
        connection=resource.connection,
        resource=resource,
        resource_provider_id=resource.provider_id,
        provider_operation_id=f"op-{resource.pk}",
        action="created",
        raw_action="Create instance",
        actor="ajeuser0sample",
        at=now,
        status="done",
        collected_at=now,
    )


@service_case("providers.services.operations.operations_collect")
def _case_operations_collect(world):
    from providers.services.operations import operations_collect
    from tests.factories import ConnectionFactory

    sim = _yandex_sim()
    connection = ConnectionFactory(
        actor=world.operator_a,
        tenant=world.a,
        credentials={"oauth_token": sim.oauth_token},
        endpoints={"*": sim.url},
    )
    return (
        world.owner_a,
        world.a,
        lambda actor: operations_collect(actor=actor, connection_id=connection.pk),
    )


@service_case("providers.services.refresh.resource_refresh")
def _case_resource_refresh(world):
    from providers.services.refresh import resource_refresh

    resource = _sample_resource(world, world.a)
    return (
        world.owner_a,
        world.a,
        lambda actor: resource_refresh(actor=actor, resource_id=resource.pk),
    )


@service_case("providers.services.refresh.resource_request_refresh")
def _case_resource_request_refresh(world):
    from providers.services.refresh import resource_request_refresh

    resource = _sample_resource(world, world.a)
    return (
        world.owner_a,
        world.a,
        lambda actor: resource_request_refresh(actor=actor, resource=resource),
    )
