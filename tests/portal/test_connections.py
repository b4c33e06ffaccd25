"""The portal's Connections page: health, recent syncs and counts for the current tenant; sync,
verify, enable/disable and the add/edit forms (through the audited services) for people who
manage connections; credentials never rendered."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core.crypto import decrypt_json
from core.models import AuditEvent
from providers.adapters.yandex.simulator import SimulatorConfig, YandexCloudSimulator
from providers.models import Connection, SyncRun
from providers.tasks import connection_sync_task
from tests.factories import ConnectionFactory, resource_row

URL = reverse("portal:connections")
ADD = reverse("portal:connections_add")
TOKEN = "y0_AgAAAA-secret-oauth-token-value"


def _action(name: str, connection) -> str:
    return reverse(f"portal:connections_{name}", kwargs={"pk": connection.pk})


def _yandex(tenant, name="Production", **extra):
    return ConnectionFactory(tenant=tenant, name=name, credentials={"oauth_token": TOKEN}, **extra)


def _run(connection, **fields):
    values = {
        "tenant_id": connection.tenant_id,
        "connection": connection,
        "kind": SyncRun.Kind.DISCOVERY,
        "trigger": SyncRun.Trigger.SCHEDULE,
        "started_at": timezone.now() - timedelta(minutes=5),
    }
    return SyncRun.objects.create(**{**values, **fields})


def _private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture
def queued(monkeypatch):
    calls: list[dict] = []
    monkeypatch.setattr(
        connection_sync_task, "apply_async", lambda kwargs, **kw: calls.append(kwargs)
    )
    return calls


@pytest.fixture
def sim():
    with YandexCloudSimulator(SimulatorConfig(seed=3, folders=1, resources_per_folder=3)) as s:
        yield s


# --- the page ---------------------------------------------------------------------------------


def test_the_page_shows_health_counts_and_recent_syncs_of_this_tenant_only(login, world):
    prod = _yandex(world.a, "Alpha production", scope={"folder_ids": ["b1gfolder"]})
    Connection.objects.filter(pk=prod.pk).update(
        status=Connection.Status.AUTH_FAILED, last_error="The OAuth token was refused (401)."
    )
    for n in range(3):
        resource_row(prod, n)
    resource_row(prod, 9, deleted_at=timezone.now())
    _run(
        prod,
        status=SyncRun.Status.SUCCEEDED,
        complete=True,
        created=3,
        updated=1,
        unchanged=7,
        deleted=1,
        duration_ms=1500,
        api_calls=12,
    )
    _yandex(world.b, "Beta secret account")

    response = login(world.owner_a).get(URL, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Alpha production" in html
    assert "Beta secret account" not in html
    assert "Authentication failed" in html
    assert "The OAuth token was refused (401)." in html
    assert "3 live" in html and "1 deleted" in html
    assert f"?connection={prod.pk}&amp;deleted=true" in html
    assert "Folders: b1gfolder" in html
    assert "1.5 s" in html
    row = response.context["connections"][0].recent[0]
    assert (row.created, row.updated, row.unchanged, row.deleted, row.api_calls) == (3, 1, 7, 1, 12)
    assert "data-live-refresh" not in html  # nothing runs
    assert TOKEN not in html


def test_a_running_sync_shows_its_progress_and_the_page_refreshes_itself(login, world):
    prod = _yandex(world.a)
    _run(
        prod,
        started_at=timezone.now() - timedelta(seconds=30),
        progress={"seen": 1200, "created": 1100, "updated": 3, "api_calls": 17},
    )

    html = login(world.owner_a).get(URL, HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "1200 seen so far: 1100 new, 3 changed" in html
    assert 'data-live-refresh="10"' in html
    assert "Syncing" in html


def test_a_run_left_running_by_a_dead_worker_reads_interrupted_and_stops_the_refresh(login, world):
    prod = _yandex(world.a)
    _run(prod, started_at=timezone.now() - timedelta(hours=3))

    html = login(world.owner_a).get(URL, HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "Interrupted" in html
    assert "data-live-refresh" not in html


def test_counts_and_runs_cost_the_same_queries_for_one_or_many_connections(login, world):
    client = login(world.owner_a)

    def queries() -> int:
        with CaptureQueriesContext(db_connection) as captured:
            assert client.get(URL).status_code == 200
        return len(captured)

    first = _yandex(world.a, "One")
    resource_row(first, 1)
    _run(first, status=SyncRun.Status.SUCCEEDED)
    queries()  # the first request of a session does one-off work (session, language)
    one = queries()
    for n in range(4):
        extra = _yandex(world.a, f"Extra {n}")
        resource_row(extra, 1)
        _run(extra, status=SyncRun.Status.SUCCEEDED)
        _run(extra, status=SyncRun.Status.FAILED, error="boom")

    assert queries() == one


def test_an_empty_tenant_is_invited_to_add_a_connection(login, world):
    html = login(world.owner_a).get(URL, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "No connections yet" in html
    assert ADD in html


# --- who may act -------------------------------------------------------------------------------


def test_viewers_see_no_actions_and_every_write_is_403(login, world, queued):
    prod = _yandex(world.a)
    client = login(world.viewer_a)
    events = AuditEvent.objects.count()

    html = client.get(URL, HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "Production" in html
    for text in ("Sync now", "Verify credentials", "Disable", "Add connection", "/edit/"):
        assert text not in html
    assert client.get(ADD).status_code == 403
    assert client.post(ADD, {"name": "x", "oauth_token": "y0_x"}).status_code == 403
    assert client.get(_action("edit", prod)).status_code == 403
    for name, data in [
        ("sync", {}),
        ("verify", {}),
        ("enable", {"enabled": "0"}),
        ("edit", {"name": "Renamed", "sync_interval": "3600"}),
    ]:
        assert client.post(_action(name, prod), data).status_code == 403, name
    assert AuditEvent.objects.count() == events
    assert queued == []
    assert Connection.objects.get(pk=prod.pk).status == Connection.Status.PENDING


def test_sync_now_goes_through_the_service_and_shows_as_queued(
    login, world, queued, django_capture_on_commit_callbacks
):
    prod = _yandex(world.a)
    _run(prod, status=SyncRun.Status.SUCCEEDED, started_at=timezone.now() - timedelta(hours=1))
    client = login(world.owner_a)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_action("sync", prod))

    assert response.status_code == 302
    assert response.url.endswith(f"#conn-{prod.pk}")
    assert queued == [{"connection_id": prod.pk, "trigger": "manual"}]
    event = AuditEvent.objects.get(event_type="connection.sync_requested")
    assert event.source == "portal" and event.actor_id == world.owner_a.pk
    html = client.get(URL, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "sync queued" in html  # the message
    assert "Sync queued" in html  # the badge, until a run starts
    assert "data-live-refresh" in html


def test_sync_now_of_a_disabled_connection_explains_why_not(login, world, queued):
    prod = _yandex(world.a)
    Connection.objects.filter(pk=prod.pk).update(status=Connection.Status.DISABLED)

    response = login(world.owner_a).post(_action("sync", prod), follow=True)

    assert "disabled; enable it first" in response.content.decode()
    assert not AuditEvent.objects.filter(event_type="connection.sync_requested").exists()


def test_disable_and_enable_are_audited(login, world, queued, django_capture_on_commit_callbacks):
    prod = _yandex(world.a)
    client = login(world.owner_a)

    client.post(_action("enable", prod), {"enabled": "0"})
    assert Connection.objects.get(pk=prod.pk).status == Connection.Status.DISABLED
    html = client.get(URL, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Syncs are paused" in html and ">Enable<" in html and "Sync now" not in html

    with django_capture_on_commit_callbacks(execute=True):
        client.post(_action("enable", prod), {"enabled": "1"})
    assert Connection.objects.get(pk=prod.pk).status == Connection.Status.PENDING
    assert list(
        AuditEvent.objects.filter(target_id=str(prod.pk))
        .filter(event_type__in=["connection.disabled", "connection.enabled"])
        .order_by("seq")
        .values_list("event_type", flat=True)
    ) == ["connection.disabled", "connection.enabled"]
    assert queued == [{"connection_id": prod.pk, "trigger": "manual"}]


def test_verify_says_whether_the_credentials_work(login, world, sim):
    # Simulator endpoints need an MSP operator (customers cannot set endpoint overrides).
    good = ConnectionFactory(
        actor=world.operator_a,
        tenant=world.a,
        name="Good",
        credentials={"oauth_token": sim.oauth_token},
        endpoints={"*": sim.url},
    )
    bad = ConnectionFactory(
        actor=world.operator_a,
        tenant=world.a,
        name="Bad",
        credentials={"oauth_token": "y0_wrong-token"},
        endpoints={"*": sim.url},
    )
    client = login(world.owner_a)

    ok = client.post(_action("verify", good), follow=True, HTTP_ACCEPT_LANGUAGE="en")
    failed = client.post(_action("verify", bad), follow=True, HTTP_ACCEPT_LANGUAGE="en")

    assert "Good: the credentials work." in ok.content.decode()
    html = failed.content.decode()
    assert "Bad: verification failed." in html
    assert "y0_wrong-token" not in html and sim.oauth_token not in html
    assert Connection.objects.get(pk=bad.pk).status == Connection.Status.AUTH_FAILED
    assert AuditEvent.objects.filter(event_type="connection.verified").count() == 2


# --- add and edit --------------------------------------------------------------------------------


def test_add_with_an_oauth_token(login, world, queued, django_capture_on_commit_callbacks):
    client = login(world.owner_a)
    form = client.get(ADD, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "endpoint" not in form.lower()  # overrides are for MSP operators, in the admin

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            ADD,
            {
                "name": "Production",
                "oauth_token": TOKEN,
                "cloud_ids": "b1gcloud1, b1gcloud2\nb1gcloud1",
                "folder_ids": "",
                "organization_id": "",
                "sync_interval": "10800",
                "endpoints": '{"*": "http://169.254.169.254/"}',  # ignored: not a portal field
            },
        )

    assert response.status_code == 302
    created = Connection.objects.get(tenant=world.a, name="Production")
    assert created.provider == "yandex_cloud"
    assert decrypt_json(created.credentials_encrypted) == {"oauth_token": TOKEN}
    assert created.scope == {"cloud_ids": ["b1gcloud1", "b1gcloud2"]}
    assert created.endpoints == {}
    assert created.sync_interval == timedelta(hours=3)
    assert queued == [{"connection_id": created.pk, "trigger": "created"}]
    event = AuditEvent.objects.get(event_type="connection.created", target_id=str(created.pk))
    assert TOKEN not in json.dumps([event.before, event.after, event.extra])
    page = client.get(URL, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Production is connected" in page
    assert TOKEN not in page


def test_add_with_an_uploaded_authorized_key_file(login, world, queued):
    pem = _private_key_pem()
    key = {
        "id": "ajekey",
        "service_account_id": "ajesa",
        "created_at": "2026-01-01T00:00:00Z",
        "key_algorithm": "RSA_2048",
        "public_key": "-----BEGIN PUBLIC KEY-----\n…",
        "private_key": "PLEASE DO NOT REMOVE THIS LINE! Yandex.Cloud SA Key ID <ajekey>\n" + pem,
    }
    upload = SimpleUploadedFile("authorized_key.json", json.dumps(key).encode(), "application/json")

    response = login(world.owner_a).post(
        ADD, {"name": "Key based", "key_file": upload, "sync_interval": "3600"}
    )

    assert response.status_code == 302
    stored = decrypt_json(Connection.objects.get(name="Key based").credentials_encrypted)
    assert stored == {k: key[k] for k in ("id", "service_account_id", "private_key")}


def _valid_key_json() -> str:
    return json.dumps({"id": "k", "service_account_id": "sa", "private_key": _private_key_pem()})


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({}, "oauth_token", "Enter an OAuth token or a service account authorized key."),
        ({"key_json": '{"id": "k", "private_key": "-----BEGIN'}, "key_json", "not valid JSON"),
        ({"key_json": '["a list"]'}, "key_json", "must be a JSON object"),
        ({"key_json": '{"id": "k"}'}, "key_json", "missing service_account_id, private_key"),
        (
            {"key_json": '{"id": "k", "service_account_id": "s", "private_key": "SECRETPEM"}'},
            "key_json",
            "private key cannot be read",
        ),
        ({"oauth_token": TOKEN, "key_json": "KEY"}, "key_json", "not both"),
    ],
    ids=["empty", "bad-json", "not-object", "missing-fields", "bad-pem", "both"],
)
def test_add_form_errors_are_shown_by_the_field_and_nothing_is_written(
    login, world, queued, fields, field, message
):
    client = login(world.owner_a)
    events = AuditEvent.objects.count()
    data = {"name": "Production", "sync_interval": "3600", **fields}

    response = client.post(ADD, data, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 400
    form = response.context["form"]
    assert any(message in error for error in form.errors[field]), form.errors
    html = response.content.decode()
    assert message in html
    for secret in (TOKEN, "SECRETPEM", '"private_key": "-----BEGIN'):
        assert secret not in html
    assert not Connection.objects.exists()
    assert AuditEvent.objects.count() == events
    assert queued == []


def test_typed_secrets_are_not_rendered_back_when_the_form_is_shown_again(login, world):
    response = login(world.owner_a).post(
        ADD,
        {"name": "", "oauth_token": TOKEN, "sync_interval": "3600"},
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert response.status_code == 400
    html = response.content.decode()
    assert TOKEN not in html
    assert "enter them once more" in html


def test_a_duplicate_name_is_a_name_error(login, world, queued):
    _yandex(world.a, "Production")
    _yandex(world.b, "Other")  # another tenant's names do not count

    client = login(world.owner_a)
    taken = client.post(ADD, {"name": "Production", "oauth_token": "y0_x", "sync_interval": "3600"})
    free = client.post(ADD, {"name": "Other", "oauth_token": "y0_x", "sync_interval": "3600"})

    assert taken.status_code == 400
    assert "already has a connection with this name" in taken.context["form"].errors["name"][0]
    assert free.status_code == 302


def test_service_validation_errors_land_next_to_their_fields(login, world, monkeypatch):
    from providers.portal import connections as views

    def refuse(**kwargs):
        raise ValidationError(
            {"credentials": "The key was revoked.", "sync_interval": "Too often.", "x": "Other."}
        )

    monkeypatch.setattr(views, "connection_create", refuse)

    response = login(world.owner_a).post(
        ADD, {"name": "P", "key_json": _valid_key_json(), "sync_interval": "900"}
    )

    assert response.status_code == 400
    errors = response.context["form"].errors
    assert errors["key_json"] == ["The key was revoked."]
    assert errors["sync_interval"] == ["Too often."]
    assert errors["__all__"] == ["Other."]


def test_edit_keeps_the_stored_credentials_when_left_empty(login, world):
    prod = _yandex(world.a, scope={"folder_ids": ["f1", "f2"]})
    stored = prod.credentials_encrypted
    client = login(world.owner_a)

    form = client.get(_action("edit", prod), HTTP_ACCEPT_LANGUAGE="en")
    html = form.content.decode()
    assert form.status_code == 200
    assert 'value="f1, f2"' in html
    assert TOKEN not in html

    response = client.post(
        _action("edit", prod),
        {
            "name": "Production (RU)",
            "folder_ids": "f1",
            "sync_interval": "21600",
            "oauth_token": "",
        },
    )

    assert response.status_code == 302
    prod.refresh_from_db()
    assert prod.name == "Production (RU)"
    assert prod.scope == {"folder_ids": ["f1"]}
    assert prod.sync_interval == timedelta(hours=6)
    assert prod.credentials_encrypted == stored
    event = AuditEvent.objects.get(event_type="connection.updated")
    assert set(event.changed_fields) == {"name", "scope", "sync_interval"}


def test_edit_replaces_credentials_and_retries_a_refused_connection(login, world):
    prod = _yandex(world.a)
    Connection.objects.filter(pk=prod.pk).update(status=Connection.Status.AUTH_FAILED)

    response = login(world.owner_a).post(
        _action("edit", prod),
        {"name": prod.name, "oauth_token": "y0_new-token", "sync_interval": "3600"},
    )

    assert response.status_code == 302
    prod.refresh_from_db()
    assert decrypt_json(prod.credentials_encrypted) == {"oauth_token": "y0_new-token"}
    assert prod.status == Connection.Status.PENDING
    event = AuditEvent.objects.get(event_type="connection.updated")
    assert "y0_new-token" not in json.dumps([event.before, event.after, event.extra])


def test_an_operator_set_interval_survives_an_edit(login, world):
    prod = _yandex(world.a, sync_interval=timedelta(minutes=10))

    html = login(world.owner_a).get(_action("edit", prod), HTTP_ACCEPT_LANGUAGE="en")
    assert '<option value="600" selected>Every 10 minutes</option>' in html.content.decode()


def test_the_page_in_russian(login, world):
    prod = _yandex(world.a)
    _run(prod, status=SyncRun.Status.SUCCEEDED, created=2, duration_ms=800)

    html = login(world.owner_a).get(URL, HTTP_ACCEPT_LANGUAGE="ru").content.decode()

    assert "Подключения" in html
    assert "Синхронизировать" in html  # "Sync now"
    assert "Проверить доступ" in html  # "Verify credentials"
    assert "Ещё не синхронизировано" in html  # "Not synced yet"
    add = login(world.owner_a).get(ADD, HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Ключ сервисного аккаунта" in add


# --- other providers: the form is generated from each provider's declaration ------------------
def test_the_add_page_offers_every_provider_and_switches_the_form(login, world):
    client = login(world.owner_a)

    yandex = client.get(ADD).content.decode()
    selectel = client.get(ADD, {"provider": "selectel"})

    for name in ("Selectel", "VK Cloud", "Beget"):
        assert "?provider=" in yandex and name in yandex
    fields = selectel.context["form"].fields
    assert {"username", "password", "account_id", "static_token", "project_ids"} <= set(fields)
    assert "oauth_token" not in fields
    assert 'name="provider" value="selectel"' in selectel.content.decode()
    stale = client.get(ADD, {"provider": "aws"})
    assert stale.context["form"].provider == "yandex_cloud"


def test_add_a_selectel_service_user_with_errors_by_the_field(login, world, queued):
    client = login(world.owner_a)
    base = {"provider": "selectel", "name": "Selectel prod", "sync_interval": "3600"}

    partial = client.post(ADD, {**base, "username": "finops-bot", "password": "s3cret-pass"})
    assert partial.status_code == 400
    assert partial.context["form"].errors["account_id"] == ["The service user needs account_id."]
    assert "s3cret-pass" not in partial.content.decode()
    both = client.post(
        ADD, {**base, "username": "bot", "password": "p", "account_id": "1", "static_token": "t"}
    )
    assert "not both" in str(both.context["form"].errors["static_token"])
    assert not Connection.objects.filter(provider="selectel").exists()

    created = client.post(
        ADD,
        {
            **base,
            "username": "finops-bot",
            "password": "s3cret-pass",
            "account_id": "123456",
            "project_ids": "p1 p2",
        },
    )

    assert created.status_code == 302, created.context["form"].errors
    connection = Connection.objects.get(provider="selectel")
    assert decrypt_json(connection.credentials_encrypted) == {
        "username": "finops-bot",
        "password": "s3cret-pass",
        "account_id": "123456",
    }
    assert connection.scope == {"project_ids": ["p1", "p2"]}


def test_edit_a_beget_connection_keeps_or_replaces_its_credentials(login, world):
    beget = ConnectionFactory(tenant=world.a, provider="beget", name="Hosting")
    client = login(world.owner_a)
    edit = _action("edit", beget)

    page = client.get(edit).content.decode()
    assert "sample-secret" not in page
    kept = client.post(edit, {"name": "Hosting", "sync_interval": "3600", "login": ""})
    assert kept.status_code == 302
    beget.refresh_from_db()
    assert decrypt_json(beget.credentials_encrypted) == {
        "login": "acme",
        "api_password": "sample-secret",
    }

    vps = client.post(
        edit,
        {
            "name": "Hosting",
            "sync_interval": "3600",
            "login": "acme",
            "api_password": "new-api-pass",
            "vps_token": "vps-bearer-token",
        },
    )
    assert vps.status_code == 302
    beget.refresh_from_db()
    assert decrypt_json(beget.credentials_encrypted) == {
        "login": "acme",
        "api_password": "new-api-pass",
        "vps_token": "vps-bearer-token",
    }
