"""Provider admin: write-only credentials, actions through the services, health and history."""

from __future__ import annotations

import json

import pytest
from django.contrib.messages import get_messages
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEvent
from providers.models import Connection, Resource, ResourceEvent, SyncRun
from providers.services.connections import (
    connection_credentials,
    connection_set_enabled,
    webhook_secret,
)
from tests.factories import ConnectionFactory, resource_row

pytestmark = pytest.mark.django_db

TOKEN = "y0_admin-test-secret"


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def operator(client, world):
    client.force_login(world.operator_a)
    return client


def _form(world, **extra):
    return {
        "tenant": world.a.pk,
        "provider": "yandex_cloud",
        "name": "Alpha admin",
        "oauth_token": TOKEN,
        "endpoints": json.dumps({"*": "http://127.0.0.1:9"}),
        "sync_interval": "01:00:00",
        **extra,
    }


def _act(client, action, *connections, follow=True):
    return client.post(
        reverse("admin:providers_connection_changelist"),
        {"action": action, "_selected_action": [c.pk for c in connections]},
        follow=follow,
    )


# --- add / change -------------------------------------------------------------------------------
def test_add_stores_credentials_encrypted_and_shows_the_webhook_secret_once(
    world, operator, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = operator.post(
            reverse("admin:providers_connection_add"), _form(world), follow=True
        )

    assert response.status_code == 200
    connection = Connection.objects.get(name="Alpha admin")
    assert connection_credentials(connection) == {"oauth_token": TOKEN}
    assert TOKEN not in connection.credentials_encrypted
    secret = webhook_secret(connection)
    assert [m for m in _messages(response) if secret in m]
    assert len(callbacks) == 1  # first sync queued
    event = AuditEvent.objects.get(event_type="connection.created")
    assert (event.source, event.actor) == ("admin", world.operator_a)

    page = operator.get(reverse("admin:providers_connection_change", args=[connection.pk]))
    html = page.content.decode()
    assert TOKEN not in html
    assert secret not in html
    assert connection.credentials_encrypted not in html
    assert f"/webhooks/connections/{connection.pk}/" in html


def test_add_requires_credentials_and_checks_their_shape(world, operator):
    url = reverse("admin:providers_connection_add")
    missing = operator.post(url, _form(world, oauth_token=""))
    assert missing.context["adminform"].form.errors["oauth_token"] == [
        "Enter an OAuth token or a service account authorized key."
    ]
    bad_key = operator.post(url, _form(world, oauth_token="", key_json='{"id": "k"}'))
    assert "missing service_account_id, private_key" in str(
        bad_key.context["adminform"].form.errors["key_json"]
    )
    unknown_endpoint = operator.post(
        url, _form(world, endpoints=json.dumps({"computer": "http://127.0.0.1:9"}))
    )
    assert "computer" in str(unknown_endpoint.context["adminform"].form.errors)
    assert not Connection.objects.exists()


def test_the_add_form_is_the_chosen_providers_and_validates_its_credentials(world, operator):
    url = reverse("admin:providers_connection_add")
    page = operator.get(url, {"provider": "selectel"})
    form = page.context["adminform"].form
    assert {"username", "password", "account_id", "project", "static_token"} <= set(form.fields)
    assert "oauth_token" not in form.fields
    assert {"project_ids", "regions"} <= set(form.fields)

    partial = operator.post(
        url + "?provider=selectel",
        _form(world, provider="selectel", oauth_token="", username="bot", password="pw"),
    )
    assert partial.context["adminform"].form.errors["account_id"] == [
        "The service user needs account_id."
    ]
    assert not Connection.objects.exists()

    created = operator.post(
        url + "?provider=selectel",
        _form(
            world,
            provider="selectel",
            oauth_token="",
            username="bot",
            password="pw-123456",
            account_id="123456",
            project_ids="p1, p2",
            endpoints="{}",
        ),
    )
    assert created.status_code == 302, created.context["adminform"].form.errors
    connection = Connection.objects.get(provider="selectel")
    assert connection_credentials(connection) == {
        "username": "bot",
        "password": "pw-123456",
        "account_id": "123456",
    }
    assert connection.scope == {"project_ids": ["p1", "p2"]}


def test_typed_credentials_are_not_echoed_back_on_errors(world, operator):
    response = operator.post(
        reverse("admin:providers_connection_add"), _form(world, endpoints='"not an object"')
    )
    assert response.status_code == 200
    assert "endpoints" in response.context["adminform"].form.errors
    assert TOKEN not in response.content.decode()


def test_change_with_empty_credentials_keeps_them(world, operator, yc_connection, yc_sim):
    url = reverse("admin:providers_connection_change", args=[yc_connection.pk])
    response = operator.post(
        url,
        {
            "name": "Renamed",
            "oauth_token": "",
            "folder_ids": "",
            "endpoints": json.dumps({"*": yc_sim.url}),
            "sync_interval": "02:00:00",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    yc_connection.refresh_from_db()
    assert yc_connection.name == "Renamed"
    assert connection_credentials(yc_connection) == {"oauth_token": yc_sim.oauth_token}

    operator.post(
        url,
        {
            "name": "Renamed",
            "oauth_token": TOKEN,
            "folder_ids": "b1gfolder",
            "endpoints": json.dumps({"*": yc_sim.url}),
            "sync_interval": "02:00:00",
        },
    )
    yc_connection.refresh_from_db()
    assert connection_credentials(yc_connection) == {"oauth_token": TOKEN}
    assert yc_connection.scope == {"folder_ids": ["b1gfolder"]}


# --- actions --------------------------------------------------------------------------------------
def test_verify_action_reports_success_and_failure(world, operator, yc_connection, yc_sim):
    broken = ConnectionFactory(
        tenant=world.a,
        name="Broken",
        credentials={"oauth_token": "y0_wrong"},
        endpoints={"*": yc_sim.url},
    )

    response = _act(operator, "verify_connections", yc_connection, broken)

    messages = _messages(response)
    assert any(m.startswith("Alpha production: credentials OK") for m in messages), messages
    assert any(m.startswith("Broken: verification failed") for m in messages), messages
    broken.refresh_from_db()
    assert broken.status == Connection.Status.AUTH_FAILED


def test_sync_now_queues_and_refuses_disabled(
    world, operator, yc_connection, django_capture_on_commit_callbacks
):
    from tests.contracts.samples import _connection

    disabled = _connection(world.a)
    connection_set_enabled(actor=None, connection=disabled, enabled=False)

    with django_capture_on_commit_callbacks() as callbacks:
        response = _act(operator, "sync_now", yc_connection, disabled)

    messages = _messages(response)
    assert any("Alpha production: sync queued" in m for m in messages), messages
    assert any("disabled; enable it first" in m for m in messages), messages
    assert len(callbacks) == 1
    event = AuditEvent.objects.get(event_type="connection.sync_requested")
    assert event.extra == {"trigger": "manual"}


def test_enable_and_disable_actions(world, operator, yc_connection):
    _act(operator, "disable_connections", yc_connection)
    yc_connection.refresh_from_db()
    assert yc_connection.status == Connection.Status.DISABLED

    response = _act(operator, "enable_connections", yc_connection)
    yc_connection.refresh_from_db()
    assert yc_connection.status == Connection.Status.PENDING
    assert any("enabled" in m for m in _messages(response))


def test_actions_skip_connections_the_operator_may_only_view(world, operator, yc_connection):
    from core.services.memberships import membership_create
    from tests.contracts.samples import _connection

    # operator_a manages tenant A but only views tenant B.
    membership_create(actor=None, tenant=world.b, user=world.operator_a, role="operator_readonly")
    theirs = _connection(world.b)

    response = _act(operator, "disable_connections", yc_connection, theirs)

    yc_connection.refresh_from_db()
    theirs.refresh_from_db()
    assert yc_connection.status == Connection.Status.DISABLED
    assert theirs.status != Connection.Status.DISABLED
    assert any("1 connection skipped" in m for m in _messages(response)), _messages(response)


def test_delete_goes_through_the_service(world, operator, yc_connection):
    resource_row(yc_connection, 1)
    url = reverse("admin:providers_connection_delete", args=[yc_connection.pk])

    confirm = operator.get(url)
    assert confirm.status_code == 200
    assert b"Resources: 1" in confirm.content  # counts, not a page listing every resource

    operator.post(url, {"post": "yes"})

    assert not Connection.objects.filter(pk=yc_connection.pk).exists()
    assert not Resource.objects.exists()
    assert AuditEvent.objects.filter(event_type="connection.deleted").count() == 1


# --- health and history ---------------------------------------------------------------------------
def test_changelist_shows_health_and_counts_without_n_plus_one(world, operator):
    from tests.contracts.samples import _connection

    def page_queries():
        with CaptureQueriesContext(db) as ctx:
            response = operator.get(reverse("admin:providers_connection_changelist"))
        assert response.status_code == 200
        return len(ctx.captured_queries), response

    first = _connection(world.a)
    resource_row(first, 1)
    resource_row(first, 2, deleted_at=timezone.now())
    few, response = page_queries()
    row = next(c for c in response.context["cl"].result_list if c.pk == first.pk)
    assert (row.live_count, row.deleted_count) == (1, 1)
    assert "never synced" in response.content.decode()

    for n in range(5):
        resource_row(_connection(world.a), 10 + n)
    assert page_queries()[0] == few


def test_change_page_lists_recent_sync_runs_newest_first(world, operator, yc_connection):
    now = timezone.now()
    for minutes in range(12):
        SyncRun.objects.create(
            tenant=world.a,
            connection=yc_connection,
            kind="discovery",
            trigger="schedule",
            status="succeeded",
            started_at=now - timezone.timedelta(minutes=minutes),
            seen=minutes,
        )
    html = operator.get(
        reverse("admin:providers_connection_change", args=[yc_connection.pk])
    ).content.decode()
    assert html.count("/admin/providers/syncrun/") >= 10
    assert html.index(f"{now:%Y-%m-%d %H:%M:%S}") < html.index(
        f"{now - timezone.timedelta(minutes=9):%Y-%m-%d %H:%M:%S}"
    )
    assert f"{now - timezone.timedelta(minutes=11):%Y-%m-%d %H:%M:%S}" not in html


def test_running_sync_shows_progress(world, operator, yc_connection):
    SyncRun.objects.create(
        tenant=world.a,
        connection=yc_connection,
        kind="discovery",
        trigger="manual",
        started_at=timezone.now(),
        progress={"seen": 1500, "created": 1200, "updated": 3, "api_calls": 17},
    )
    html = operator.get(reverse("admin:providers_syncrun_changelist")).content.decode()
    assert "1500 seen, 1200 new, 3 changed, 17 API calls" in html


# --- resources ------------------------------------------------------------------------------------
def test_resource_admin_is_read_only_with_timeline_and_filters(world, operator, yc_connection):
    live = resource_row(yc_connection, 1, name="web-1")
    resource_row(yc_connection, 2, name="gone-1", deleted_at=timezone.now())
    ResourceEvent.objects.create(
        tenant=world.a,
        resource=live,
        kind="changed",
        changes={"status": ["stopped", "running"]},
        at=timezone.now(),
    )

    listing = operator.get(
        reverse("admin:providers_resource_changelist"),
        {"deleted": "no", "connection": yc_connection.pk},
    )
    assert [r.name for r in listing.context["cl"].result_list] == ["web-1"]

    page = operator.get(reverse("admin:providers_resource_change", args=[live.pk]))
    html = page.content.decode()
    assert 'name="_save"' not in html
    assert "Changed" in html
    assert "stopped" in html

    # "All events" link from the timeline: the event list filtered to this resource.
    events = operator.get(
        reverse("admin:providers_resourceevent_changelist"), {"resource": live.pk}
    )
    assert [e.resource_id for e in events.context["cl"].result_list] == [live.pk]


def test_connection_filter_lists_only_visible_connections(world, client, yc_connection):
    from tests.contracts.samples import _connection

    theirs = _connection(world.b)
    client.force_login(world.operator_b)
    for model in ("resource", "syncrun", "resourceevent", "resourcemetricdaily"):
        response = client.get(reverse(f"admin:providers_{model}_changelist"))
        displays = {
            str(choice["display"])
            for spec in response.context["cl"].filter_specs
            for choice in spec.choices(response.context["cl"])
        }
        assert yc_connection.name not in displays, model
        if model in ("resource", "syncrun"):
            assert theirs.name in displays, model


def test_every_provider_admin_page_renders(world, operator, yc_connection):
    from providers.models import ResourceMetricDaily

    resource = resource_row(yc_connection, 1)
    rows = {
        "connection": yc_connection,
        "resource": resource,
        "resourceevent": ResourceEvent.objects.create(
            tenant=world.a, resource=resource, kind="appeared", at=timezone.now()
        ),
        "syncrun": SyncRun.objects.create(
            tenant=world.a,
            connection=yc_connection,
            kind="discovery",
            trigger="manual",
            started_at=timezone.now(),
        ),
        "resourcemetricdaily": ResourceMetricDaily.objects.create(
            tenant=world.a,
            resource=resource,
            metric="cpu_utilization",
            day=timezone.now().date(),
            avg=0.5,
            min=0.1,
            max=0.9,
            samples=24,
        ),
    }
    for model, row in rows.items():
        assert operator.get(reverse(f"admin:providers_{model}_changelist")).status_code == 200
        page = operator.get(reverse(f"admin:providers_{model}_change", args=[row.pk]))
        assert page.status_code == 200, model
