"""Cost source services: validation, write-only credentials, tenant consistency, the endpoint
policy, scheduling (dispatcher, lease), deletion; the Yandex export file import service."""

from __future__ import annotations

import datetime as dt
import io
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Sum
from django_celery_beat.models import PeriodicTask

from core.models import AuditEvent
from providers.adapters.yandex.simulator_billing import BILLING_BUCKET, BILLING_PREFIX
from providers.adapters.yandex.simulator_storage import DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_KEY
from providers.models import CostDailySummary, CostLineItem, CostSource, ImportRun
from providers.services.cost_source_pulls import PULL_LEASE, cost_source_pull
from providers.services.cost_sources import (
    cost_source_create,
    cost_source_delete,
    cost_source_request_pull,
    cost_source_set_enabled,
    cost_source_update,
    source_credentials,
)
from providers.services.yandex_imports import yandex_export_import
from providers.tasks import cost_source_dispatch_task, cost_source_pull_task
from tests.factories import ConnectionFactory

KEYS = {"access_key_id": "YCAJEexample", "secret_access_key": "YCsecret-value-1234567890"}


def _connection(tenant, provider):
    return ConnectionFactory(tenant=tenant, provider=provider, name=f"{provider} of {tenant.slug}")


def _create(actor, tenant, **extra):
    values = {
        "kind": CostSource.Kind.YANDEX_BILLING_EXPORT,
        "name": "Export",
        "bucket": "billing-bucket",
        "prefix": "yc/",
        "credentials": KEYS,
        "start_pull": False,
    }
    return cost_source_create(actor=actor, tenant=tenant, **{**values, **extra})


def test_credentials_are_encrypted_and_never_audited(world):
    source = _create(world.owner_a, world.a)

    assert KEYS["secret_access_key"] not in source.credentials_encrypted
    assert source_credentials(source) == KEYS
    event = AuditEvent.objects.get(event_type="cost_source.created")
    assert KEYS["secret_access_key"] not in str(event.after)
    assert KEYS["access_key_id"] not in str(event.after)
    assert event.after["endpoint_url"] == "https://storage.yandexcloud.net"


def test_customers_may_use_public_stores_only(world):
    _create(world.owner_a, world.a, name="AWS", endpoint_url="https://s3.eu-west-1.amazonaws.com")

    for url in ("http://127.0.0.1:9000", "https://169.254.169.254", "https://minio.internal"):
        with pytest.raises(ValidationError) as caught:
            _create(world.owner_a, world.a, name=url, endpoint_url=url)
        assert "endpoint_url" in caught.value.message_dict
    # MSP operators may point a source at a private installation (or the simulator).
    _create(world.operator_a, world.a, name="MinIO", endpoint_url="http://127.0.0.1:9000")


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"bucket": "a"}, "bucket"),
        ({"prefix": "/abs"}, "prefix"),
        ({"pull_interval": timedelta(minutes=1)}, "pull_interval"),
        ({"credentials": {"access_key_id": "x"}}, "credentials"),
        ({"kind": "ftp"}, "kind"),
        ({"endpoint_url": "ftp://example.com"}, "endpoint_url"),
    ],
)
def test_invalid_settings_are_refused(world, extra, field):
    with pytest.raises(ValidationError) as caught:
        _create(world.operator_a, world.a, **extra)

    assert field in caught.value.message_dict
    assert not CostSource.objects.exists()


def test_connections_must_be_the_tenants_own_and_match_the_kind(world):
    foreign = _connection(world.b, "yandex_cloud")
    with pytest.raises(ValidationError) as caught:
        _create(world.operator_a, world.a, connection=foreign)
    assert "connection" in caught.value.message_dict

    selectel = _connection(world.a, "selectel")
    with pytest.raises(ValidationError) as caught:
        _create(world.operator_a, world.a, connection=selectel)
    assert "Yandex Cloud connection" in str(caught.value)

    # A FOCUS bucket may belong to any connection of the tenant.
    _create(world.operator_a, world.a, kind=CostSource.Kind.FOCUS_BUCKET, connection=selectel)


def test_people_without_manage_connections_are_refused(world):
    with pytest.raises(PermissionDenied):
        _create(world.viewer_a, world.a)
    source = _create(world.owner_a, world.a)
    with pytest.raises(PermissionDenied):
        cost_source_update(actor=world.owner_b, source=source, name="x")
    with pytest.raises(PermissionDenied):
        cost_source_pull(actor=world.owner_b, source_id=source.pk)


def test_update_replaces_credentials_and_forgets_objects_when_the_location_changes(world):
    source = _create(world.owner_a, world.a)
    source.bucket_objects.create(
        tenant=world.a, key="yc/20260101.csv", etag="e", outcome="imported", pulled_at=dt_now()
    )

    cost_source_update(actor=world.owner_a, source=source, name="Renamed")
    assert source.bucket_objects.count() == 1

    new_keys = {"access_key_id": "YCAJEnew", "secret_access_key": "YCnew-secret-0987654321"}
    source = cost_source_update(
        actor=world.owner_a, source=source, prefix="new/", credentials=new_keys
    )

    assert source_credentials(source) == new_keys
    assert source.bucket_objects.count() == 0
    event = AuditEvent.objects.filter(event_type="cost_source.updated").latest("id")
    assert event.extra == {"access_keys_replaced": True, "objects_forgotten": 1}
    assert event.changed_fields == ["prefix"]
    with pytest.raises(ValidationError):
        cost_source_update(actor=world.owner_a, source=source, tenant=world.b)


def dt_now():
    from django.utils import timezone

    return timezone.now()


def test_dispatcher_claims_each_due_source_once(world, monkeypatch):
    due = _create(world.owner_a, world.a, name="Due")
    later = _create(world.owner_a, world.a, name="Later")
    CostSource.objects.filter(pk=later.pk).update(next_pull_at=dt_now() + timedelta(hours=1))
    disabled = _create(world.owner_a, world.a, name="Off")
    cost_source_set_enabled(actor=world.owner_a, source=disabled, enabled=False)
    queued = []
    monkeypatch.setattr(cost_source_pull_task, "apply_async", lambda **kw: queued.append(kw))

    assert cost_source_dispatch_task.apply().get() == [due.pk]
    assert cost_source_dispatch_task.apply().get() == []
    assert queued == [{"kwargs": {"source_id": due.pk, "trigger": "schedule"}}]
    due.refresh_from_db()
    assert due.next_pull_at > dt_now() + timedelta(minutes=59)


def test_schedules_exist_after_migrate(db):
    tasks = dict(PeriodicTask.objects.values_list("task", "enabled"))
    assert tasks["providers.cost_source_dispatch"]
    assert PeriodicTask.objects.get(task="providers.exchange_rates_fetch").crontab.hour == "13"


def test_a_pull_never_overlaps_another_and_disabled_sources_are_not_pulled(world):
    source = _create(world.owner_a, world.a)
    token = PULL_LEASE.claim(source.pk)
    assert token is not None

    assert cost_source_pull(source_id=source.pk) is None
    assert not AuditEvent.objects.filter(event_type="cost_source.pulled").exists()

    CostSource.objects.filter(pk=source.pk).update(lease_until=None)
    cost_source_set_enabled(actor=world.owner_a, source=source, enabled=False)
    assert cost_source_pull(source_id=source.pk) is None
    with pytest.raises(ValidationError):
        cost_source_request_pull(actor=world.owner_a, source=source)


def test_request_pull_queues_a_task_after_commit(
    world, monkeypatch, django_capture_on_commit_callbacks
):
    source = _create(world.owner_a, world.a)
    queued = []
    monkeypatch.setattr(cost_source_pull_task, "apply_async", lambda **kw: queued.append(kw))

    with django_capture_on_commit_callbacks(execute=True):
        cost_source_request_pull(actor=world.owner_a, source=source)

    assert queued == [{"kwargs": {"source_id": source.pk, "trigger": "manual"}}]


# --- with the simulator ---------------------------------------------------------------------
@pytest.fixture
def pulled(world, yc_sim):
    yc_sim.billing.today = dt.date(2026, 2, 14)
    yc_sim.billing.days = 3
    source = _create(
        world.operator_a,
        world.a,
        endpoint_url=yc_sim.s3_url,
        bucket=BILLING_BUCKET,
        prefix=BILLING_PREFIX,
        credentials={
            "access_key_id": DEFAULT_ACCESS_KEY_ID,
            "secret_access_key": DEFAULT_SECRET_KEY,
        },
    )
    result = cost_source_pull_task.apply(kwargs={"source_id": source.pk}).get()
    assert result["imported"] == 3
    return source


def test_the_pull_task_runs_as_the_system(pulled):
    event = AuditEvent.objects.filter(event_type="cost_source.pulled").latest("id")
    assert (event.actor_id, event.source) == (None, "task")
    assert event.extra["trigger"] == "schedule" and event.extra["imported"] == 3
    pulled.refresh_from_db()
    assert pulled.status == CostSource.Status.OK and pulled.last_pull_at is not None


def test_deleting_a_source_keeps_its_costs_unless_purged(world, pulled):
    total = CostLineItem.objects.filter(tenant=world.a).count()
    other = _create(world.operator_a, world.a, name="Second", bucket="other-bucket")
    cost_source_delete(actor=world.owner_a, source=other)
    assert CostLineItem.objects.filter(tenant=world.a).count() == total

    cost_source_delete(actor=world.owner_a, source=pulled, purge_costs=True)

    assert not CostLineItem.objects.filter(tenant=world.a).exists()
    assert not CostDailySummary.objects.filter(tenant=world.a).exists()
    event = AuditEvent.objects.filter(event_type="cost_source.deleted").latest("id")
    assert event.extra == {"purged_line_items": total}


# --- a Yandex export file, imported directly -------------------------------------------------
def test_a_yandex_export_file_can_be_imported_directly(world, yc_sim):
    day = dt.date(2026, 2, 14)
    yc_sim.billing.today = day
    body = yc_sim.billing.file(day).body

    run = yandex_export_import(
        actor=world.owner_a,
        tenant=world.a,
        file=io.BytesIO(body),
        file_name="upload/20260214.csv",
        source_key="yc-upload",
    )

    assert run.status == ImportRun.Status.SUCCEEDED, run.error
    assert run.period_start == dt.datetime(2026, 2, 13, 21, tzinfo=dt.UTC)
    total = CostLineItem.objects.filter(tenant=world.a).aggregate(s=Sum("billed_cost"))["s"]
    assert total == yc_sim.billing.file(day).totals["RUB"]
    again = yandex_export_import(
        actor=world.owner_a,
        tenant=world.a,
        file=io.BytesIO(body),
        file_name="upload/20260214.csv",
        source_key="yc-upload",
    )
    assert again.status == ImportRun.Status.SKIPPED
    with pytest.raises(ValidationError):
        yandex_export_import(
            actor=world.owner_a,
            tenant=world.a,
            file=io.BytesIO(body),
            file_name="x.csv",
            source_key="k",
        )


def test_a_file_that_is_not_an_export_fails_with_its_reasons(world):
    run = yandex_export_import(
        actor=world.owner_a,
        tenant=world.a,
        file=io.BytesIO(b"date,cost\n2026-02-14,1\n"),
        file_name="20260214.csv",
        source_key="yc-upload",
    )

    assert run.status == ImportRun.Status.FAILED
    assert "not a Yandex Cloud billing export" in run.error
    assert run.errors["missing_column"]["count"] == 11


# --- the demo -------------------------------------------------------------------------------
def test_seed_demo_gives_each_demo_connection_a_billing_export_with_real_costs(
    db, yc_sim, tmp_path, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from django.core.management import call_command

    from providers.demo_steps import CONNECTION_NAME, COST_SOURCE_NAME
    from providers.tasks import connection_sync_task

    monkeypatch.delenv("DEMO_PASSWORD", raising=False)
    monkeypatch.setattr(connection_sync_task, "apply_async", lambda **kw: None)
    yc_sim.billing.days = 2
    settings.YANDEX_SIMULATOR_URL = yc_sim.url

    def seed():
        with django_capture_on_commit_callbacks(execute=True):
            call_command(
                "seed_demo", "--credentials-file", str(tmp_path / "c.json"), stdout=io.StringIO()
            )

    seed()

    sources = CostSource.objects.filter(name=COST_SOURCE_NAME).select_related("connection")
    assert sources.count() == 2
    for source in sources:
        assert source.connection.name == CONNECTION_NAME
        assert source.connection.tenant_id == source.tenant_id
        assert source.endpoint_url == yc_sim.s3_url
        assert source.next_pull_at <= dt_now()  # the dispatcher's next tick pulls it
    first = sources.first()
    result = cost_source_pull(source_id=first.pk)
    assert (result.imported, result.status) == (2, "succeeded")
    # (Romashka's demo also imports a support-plan fee, the shared-cost example: not billing.)
    from allocation.demo_steps import SUPPORT_SOURCE

    billed = CostLineItem.objects.filter(tenant=first.tenant).exclude(x_source_key=SUPPORT_SOURCE)
    total = billed.aggregate(s=Sum("billed_cost"))["s"]
    assert total == yc_sim.billing.expected_totals()["RUB"]

    events = AuditEvent.objects.count()
    seed()  # idempotent
    assert AuditEvent.objects.count() == events

    settings.YANDEX_SIMULATOR_URL = "http://127.0.0.1:9"  # the next `up` runs it on another port
    seed()
    assert {s.endpoint_url for s in sources.all()} == {"http://127.0.0.1:9/s3"}
    assert not first.bucket_objects.exists()  # a new location: everything is looked at again


def test_a_truncated_gzip_export_loads_nothing(world, yc_sim):
    import gzip

    day = dt.date(2026, 2, 14)
    yc_sim.billing.today = day
    packed = gzip.compress(yc_sim.billing.file(day).body)

    run = yandex_export_import(
        actor=world.owner_a,
        tenant=world.a,
        file=io.BytesIO(packed[: len(packed) // 2]),
        file_name="20260214.csv.gz",
        source_key="yc-upload",
        policy="skip_rows",
    )

    assert run.status == ImportRun.Status.FAILED and "unreadable" in run.error
    assert not CostLineItem.objects.filter(tenant=world.a).exists()
