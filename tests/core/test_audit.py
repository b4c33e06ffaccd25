import itertools

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from core.audit import GENESIS_HASH, verify_chains
from core.models import AuditEvent
from core.services.tenants import tenant_update


def _tamper(sql: str, params: list) -> None:
    # Simulates someone with database-owner rights rewriting history behind the trigger.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")  # skips ordinary triggers
        cursor.execute(sql, params)
        cursor.execute("SET LOCAL session_replication_role = origin")


def test_chain_links_each_event_to_the_previous_one(world):
    events = list(AuditEvent.objects.filter(tenant=world.a).order_by("seq"))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].prev_hash == GENESIS_HASH
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(events))


def test_intact_chains_verify(world, capsys):
    call_command("audit_verify")
    assert "All audit chains intact" in capsys.readouterr().out


def test_modified_event_is_detected_with_its_position(world):
    tenant_update(actor=world.owner_a, tenant=world.a, name="Alpha renamed")
    target = AuditEvent.objects.get(tenant=world.a, event_type="tenant.updated")
    _tamper("UPDATE core_auditevent SET actor_repr = 'someone-else' WHERE id = %s", [target.pk])

    with pytest.raises(CommandError, match="1 audit chain"):
        call_command("audit_verify")
    report = next(verify_chains([world.a.pk]))
    assert report.first_break.seq == target.seq
    assert "modified row" in report.first_break.reason


def test_deleted_event_is_detected_as_a_gap(world):
    first = AuditEvent.objects.filter(tenant=world.a).order_by("seq").first()
    _tamper("DELETE FROM core_auditevent WHERE id = %s", [first.pk])
    report = next(verify_chains([world.a.pk]))
    assert report.first_break is not None
    assert report.first_break.seq == first.seq + 1


@pytest.mark.parametrize(
    "statement", ["UPDATE core_auditevent SET actor_repr = 'x'", "DELETE FROM core_auditevent"]
)
def test_database_refuses_update_and_delete(world, statement):
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
    assert AuditEvent.objects.filter(tenant=world.a).exists()


def test_secrets_never_reach_the_log(world):
    from core.audit import record_event

    with transaction.atomic():
        event = record_event(
            event_type="test.secret", tenant=world.a, after={"password": "hunter2", "name": "x"}
        )
    event.refresh_from_db()
    assert event.after == {"password": "[redacted]", "name": "x"}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_record_event_outside_a_transaction_is_refused():
    from core.audit import record_event

    with pytest.raises(RuntimeError, match="inside the service's transaction"):
        record_event(event_type="test.loose")
    assert not AuditEvent.objects.filter(event_type="test.loose").exists()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_appends_never_fork_a_chain():
    import threading

    from core.audit import record_event
    from tests.factories import TenantFactory

    tenant = TenantFactory()
    errors = []

    def append(n):
        try:
            for _ in range(n):
                with transaction.atomic():
                    record_event(event_type="test.concurrent", tenant=tenant)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=append, args=(10,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    report = next(verify_chains([tenant.pk]))
    assert report.events == 40
    assert report.first_break is None
