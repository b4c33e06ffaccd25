from django.db import connection
from django_celery_beat.models import PeriodicTask

from core.models import AuditEvent
from core.tasks import audit_chain_verify_task


def test_platform_schedules_exist_after_migrate(db):
    task = PeriodicTask.objects.get(name="platform: verify audit chains")
    assert task.task == "core.audit_chain_verify"
    assert task.enabled


def test_verify_task_reports_a_broken_chain_on_the_platform_chain(world):
    event = AuditEvent.objects.filter(tenant=world.a).first()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("UPDATE core_auditevent SET event_type = 'x' WHERE id = %s", [event.pk])
        cursor.execute("SET LOCAL session_replication_role = origin")

    result = audit_chain_verify_task.apply().get()

    assert result["broken"][0]["tenant_id"] == world.a.pk
    alarm = AuditEvent.objects.get(event_type="audit.chain_broken")
    assert alarm.tenant_id is None
    assert alarm.source == "task"


def test_request_id_header_is_kept_only_when_plain(world, client):
    ok = client.get("/portal/login/", HTTP_X_REQUEST_ID="abc-123-def")
    assert ok["X-Request-ID"] == "abc-123-def"
    forged = client.get("/portal/login/", HTTP_X_REQUEST_ID="x\nInjected: 1")
    assert forged["X-Request-ID"] != "x\nInjected: 1"
    assert len(forged["X-Request-ID"]) == 32
