"""The signed webhook that refreshes one resource: only that resource is read from the provider
(no list call) and applied as a sync applies it; audited; bad input is a 400 naming the field;
an unknown resource (or another connection's, another tenant's) is a 404."""

from __future__ import annotations

import json
import time

import pytest
from django.test import Client

from core.models import AuditEvent
from providers.models import Resource, ResourceEvent
from providers.services.connections import webhook_secret
from providers.services.refresh import Outcome, resource_refresh
from providers.services.sync import connection_sync
from providers.tasks import resource_refresh_task
from providers.webhooks import sign
from tests.factories import ConnectionFactory

pytestmark = pytest.mark.django_db


def _post(connection, body: bytes, *, secret=None):
    timestamp = str(int(time.time()))
    secret = webhook_secret(connection) if secret is None else secret
    return Client(enforce_csrf_checks=True).post(
        f"/webhooks/connections/{connection.pk}/refresh/",
        data=body,
        content_type="application/json",
        headers={
            "X-InfraZen-Timestamp": timestamp,
            "X-InfraZen-Signature": sign(secret, timestamp, body),
        },
    )


def _body(resource_id) -> bytes:
    return json.dumps({"resource_id": resource_id}).encode()


def _list_calls(sim) -> int:
    # Every list call names a folder or a cluster; reads of one object and IAM do not.
    return sum(
        count
        for path, count in sim.stats.by_path.items()
        if path.rstrip("/").rsplit("/", 1)[-1]
        in {"instances", "disks", "snapshots", "images", "networks", "subnets", "addresses"}
        or path.endswith(("/clouds", "/folders", "/clusters", "/nodeGroups", "/buckets"))
    )


@pytest.fixture
def synced(yc_sim, yc_connection):
    connection_sync(connection_id=yc_connection.pk, trigger="manual")
    return yc_connection


def _a_vm(connection) -> Resource:
    return Resource.objects.filter(connection=connection, type="vm").order_by("pk").first()


def test_the_webhook_queues_a_refresh_of_one_resource_and_audits_it(
    synced, django_capture_on_commit_callbacks, monkeypatch
):
    vm = _a_vm(synced)
    queued = []
    monkeypatch.setattr(
        resource_refresh_task, "apply_async", lambda kwargs, **options: queued.append(kwargs)
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(synced, _body(vm.provider_id))

    assert response.status_code == 202, response.content
    assert queued == [{"resource_id": vm.pk, "trigger": "webhook"}]
    event = AuditEvent.objects.get(event_type="resource.refresh_requested")
    assert event.tenant_id == vm.tenant_id and event.actor is None and event.source == "api"
    # The same delivery again is accepted without queueing a second refresh.
    assert not AuditEvent.objects.filter(event_type="connection.sync_requested").exists()


def test_a_refresh_updates_that_resource_only_and_lists_nothing(yc_sim, synced):
    report = yc_sim.mutate(change=2)
    changed, untouched = report.changed
    before = _list_calls(yc_sim)

    result = resource_refresh_task.apply(kwargs={"resource_id": _pk(synced, changed)}).get()

    assert result["outcome"] == Outcome.UPDATED
    assert _list_calls(yc_sim) == before  # GET of one instance only
    vm = Resource.objects.get(connection=synced, provider_id=changed)
    assert vm.labels == yc_sim.inventory.instance(changed)["labels"]
    assert ResourceEvent.objects.filter(resource=vm, kind="changed").count() == 1
    other = Resource.objects.get(connection=synced, provider_id=untouched)
    assert "revision" not in other.labels  # not refreshed: the next sync will see it
    event = AuditEvent.objects.get(event_type="resource.refreshed")
    assert event.extra["outcome"] == "updated" and event.extra["trigger"] == "webhook"

    again = resource_refresh(resource_id=vm.pk)
    assert again.outcome == Outcome.UNCHANGED
    assert ResourceEvent.objects.filter(resource=vm, kind="changed").count() == 1


def test_a_resource_the_provider_no_longer_has_is_marked_deleted(yc_sim, synced):
    vm = _a_vm(synced)
    yc_sim.inventory._remove_vm(vm.provider_id)
    yc_sim.inventory._page_cache.clear()

    result = resource_refresh(resource_id=vm.pk)

    assert result.outcome == Outcome.DELETED
    vm.refresh_from_db()
    assert vm.deleted_at is not None
    assert ResourceEvent.objects.filter(resource=vm, kind="disappeared").count() == 1
    # Its disk is gone at the provider too, but only a listing may say so.
    assert Resource.objects.filter(connection=synced, deleted_at__isnull=False).count() == 1


def test_a_disk_is_refreshed_by_id_and_other_types_wait_for_the_sync(yc_sim, synced):
    disk = Resource.objects.filter(connection=synced, type="disk").first()
    assert resource_refresh(resource_id=disk.pk).outcome == Outcome.UNCHANGED
    network = Resource.objects.filter(connection=synced, type="network").first()
    assert resource_refresh(resource_id=network.pk).outcome == Outcome.UNSUPPORTED
    network.refresh_from_db()
    assert network.deleted_at is None


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"not json", "must be JSON"),
        (b"[]", "required"),
        (b'{"id": "x"}', "required"),
        (b'{"resource_id": 42}', "non-empty string"),
        (b'{"resource_id": ""}', "non-empty string"),
        (json.dumps({"resource_id": "x" * 300}).encode(), "255"),
    ],
)
def test_a_bad_body_is_a_400_naming_the_field(synced, body, words):
    response = _post(synced, body)
    assert response.status_code == 400
    assert words in response.json()["resource_id"][0]
    assert not AuditEvent.objects.filter(event_type__startswith="resource.refresh").exists()


def test_an_unknown_or_foreign_resource_is_a_404(world, synced):
    other_tenant = ConnectionFactory(tenant=world.b, name="Beta")
    foreign = Resource.objects.create(
        **{
            **{
                f: getattr(_a_vm(synced), f)
                for f in ("provider", "type", "status", "pricing_model", "content_hash")
            },
            "tenant": world.b,
            "connection": other_tenant,
            "provider_id": "fhmforeign0000000000",
            "first_seen_at": _a_vm(synced).first_seen_at,
            "last_seen_at": _a_vm(synced).last_seen_at,
        }
    )
    for provider_id in ("fhmnosuchthing000000", foreign.provider_id):
        response = _post(synced, _body(provider_id))
        assert response.status_code == 404
        assert response.json() == {"detail": "No such resource in this connection."}


def test_a_wrong_signature_is_refused_before_the_body_is_read(synced):
    response = _post(synced, b"not json", secret="not-the-secret")
    assert response.status_code == 401


def _pk(connection, provider_id) -> int:
    return Resource.objects.get(connection=connection, provider_id=provider_id).pk
