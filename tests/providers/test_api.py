"""Provider API: connections (write-only credentials, verify/sync/enable/disable), the resource
registry's filters, history and metrics. Verify runs over real HTTP against the simulator."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from core.models import AuditEvent
from providers.metrics_store import samples_write
from providers.models import Connection, Resource, ResourceEvent, ResourceMetricDaily, SyncRun
from providers.services.connections import (
    connection_credentials,
    connection_set_enabled,
    webhook_secret,
)
from tests.factories import ConnectionFactory, resource_row

pytestmark = pytest.mark.django_db

TOKEN = "y0_api-test-secret-token"


def _results(response):
    assert response.status_code == 200, response.content
    return response.json()["results"]


def _payload(world, **extra):
    return {
        "tenant": world.a.pk,
        "provider": "yandex_cloud",
        "name": "Alpha staging",
        "credentials": {"oauth_token": TOKEN},
        "endpoints": {"*": "http://127.0.0.1:9"},
        **extra,
    }


# --- connections: create, credentials write-only ---------------------------------------------
def test_create_returns_the_webhook_secret_once_and_never_the_credentials(
    world, api_as, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = api_as(world.operator_a).post(
            "/api/v1/connections/", _payload(world, sync_interval=900), format="json"
        )

    assert response.status_code == 201, response.content
    body = response.json()
    connection = Connection.objects.get(pk=body["id"])
    assert body["webhook_secret"] == webhook_secret(connection)
    assert body["has_credentials"] is True
    assert body["sync_interval"] == 900
    assert body["webhook_url"] == f"/webhooks/connections/{connection.pk}/"
    assert "credentials" not in body
    assert TOKEN not in response.content.decode()
    assert connection_credentials(connection) == {"oauth_token": TOKEN}
    assert len(callbacks) == 1  # the first sync is queued on commit
    event = AuditEvent.objects.get(event_type="connection.created", target_id=str(connection.pk))
    assert event.source == "api"
    assert TOKEN not in json.dumps([event.before, event.after, event.extra])


def test_credentials_and_secret_never_appear_after_creation(world, api_as, yc_connection, yc_sim):
    secret = webhook_secret(yc_connection)
    client = api_as(world.owner_a)
    url = f"/api/v1/connections/{yc_connection.pk}/"
    responses = [
        client.get("/api/v1/connections/"),
        client.get(url),
        client.patch(url, {"name": "Renamed", "credentials": {"oauth_token": TOKEN}}),
        client.post(url + "verify/"),
        client.post(url + "disable/"),
        client.post(url + "enable/"),
        client.get("/api/v1/sync-runs/"),
        client.get("/api/v1/resources/"),
        client.get("/api/v1/audit-events/"),
    ]
    for response in responses:
        text = response.content.decode()
        assert response.status_code in (200, 202), (response.request["PATH_INFO"], text)
        for needle in (TOKEN, yc_sim.oauth_token, secret, yc_connection.credentials_encrypted):
            assert needle not in text, response.request["PATH_INFO"]
        assert '"credentials"' not in text
        assert '"webhook_secret"' not in text


def test_patch_without_credentials_keeps_them_and_with_credentials_replaces(
    world, api_as, yc_connection, yc_sim
):
    client = api_as(world.owner_a)
    url = f"/api/v1/connections/{yc_connection.pk}/"

    kept = client.patch(url, {"sync_interval": 7200, "scope": {"folder_ids": ["f1"]}})
    assert kept.status_code == 200, kept.content
    assert kept.json()["sync_interval"] == 7200
    yc_connection.refresh_from_db()
    assert connection_credentials(yc_connection) == {"oauth_token": yc_sim.oauth_token}
    assert yc_connection.sync_interval == dt.timedelta(hours=2)

    replaced = client.patch(url, {"credentials": {"oauth_token": TOKEN}})
    assert replaced.status_code == 200
    yc_connection.refresh_from_db()
    assert connection_credentials(yc_connection) == {"oauth_token": TOKEN}
    event = AuditEvent.objects.filter(event_type="connection.updated").latest("seq")
    assert TOKEN not in json.dumps([event.before, event.after, event.extra])


def test_put_and_moving_tenants_are_not_offered(world, api_as, yc_connection):
    client = api_as(world.operator_a)
    url = f"/api/v1/connections/{yc_connection.pk}/"
    assert client.put(url, _payload(world)).status_code == 405
    client.patch(url, {"tenant": world.b.pk, "provider": "selectel"})
    yc_connection.refresh_from_db()
    assert (yc_connection.tenant_id, yc_connection.provider) == (world.a.pk, "yandex_cloud")


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("scope", {"folder_id": "b1g"}, "Unknown scope option"),
        ("scope", {"folder_ids": "b1g"}, "list of ids"),
        ("endpoints", {"compute": "ftp://x"}, "http(s) URL"),
        ("endpoints", {"nope": "http://x"}, "Unknown Yandex Cloud endpoint"),
        ("credentials", {"oauth_token": {"nested": 1}}, "no nested objects"),
        ("credentials", {}, "required"),
        ("sync_interval", 60, "greater than or equal to 300"),
        ("sync_interval", 10**12, "less than or equal to"),
    ],
)
def test_bad_settings_are_refused_with_the_field(world, api_as, field, value, fragment):
    response = api_as(world.operator_a).post(
        "/api/v1/connections/", _payload(world, **{field: value}), format="json"
    )
    assert response.status_code == 400
    assert fragment in " ".join(response.json()[field])
    assert not Connection.objects.exists()


def test_viewers_and_read_only_tokens_cannot_act(world, api_as, yc_connection):
    url = f"/api/v1/connections/{yc_connection.pk}/"
    viewer = api_as(world.viewer_a)
    assert viewer.get(url).status_code == 200
    for action in ("verify/", "sync/", "disable/"):
        assert viewer.post(url + action).status_code == 404  # not in the viewer's manage scope
    assert viewer.post("/api/v1/connections/", _payload(world), format="json").status_code == 400


def test_read_only_token_cannot_sync(world, yc_connection, api_client):
    from core.services.tokens import api_token_create

    issued = api_token_create(actor=world.owner_a, tenant=world.a, name="ro", scope="read")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.raw}")
    response = api_client.post(f"/api/v1/connections/{yc_connection.pk}/sync/")
    assert response.status_code == 403
    assert "read-only" in response.json()["detail"]


# --- verify / sync / enable / disable ---------------------------------------------------------
def test_verify_against_the_simulator(world, api_as, yc_connection):
    response = api_as(world.owner_a).post(f"/api/v1/connections/{yc_connection.pk}/verify/")

    assert response.status_code == 200
    assert response.json()["ok"] is True
    assert response.json()["message"]
    assert AuditEvent.objects.filter(event_type="connection.verified").count() == 1


def test_verify_with_a_bad_token_marks_auth_failed(world, api_as, yc_sim):
    connection = ConnectionFactory(
        actor=world.operator_a,
        tenant=world.a,
        name="Wrong token",
        credentials={"oauth_token": "y0_not-a-valid-token"},
        endpoints={"*": yc_sim.url},
    )

    response = api_as(world.owner_a).post(f"/api/v1/connections/{connection.pk}/verify/")

    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is False
    assert body["status"] == Connection.Status.AUTH_FAILED
    assert "y0_not-a-valid-token" not in body["message"]
    connection.refresh_from_db()
    assert connection.status == Connection.Status.AUTH_FAILED
    assert connection.last_error == body["message"]


def test_sync_action_queues_a_sync(
    world, api_as, yc_connection, monkeypatch, django_capture_on_commit_callbacks
):
    from providers.tasks import connection_sync_task

    queued = []
    monkeypatch.setattr(connection_sync_task, "apply_async", lambda **kw: queued.append(kw))

    with django_capture_on_commit_callbacks(execute=True):
        response = api_as(world.owner_a).post(f"/api/v1/connections/{yc_connection.pk}/sync/")

    assert response.status_code == 202
    assert queued == [{"kwargs": {"connection_id": yc_connection.pk, "trigger": "manual"}}]
    event = AuditEvent.objects.get(event_type="connection.sync_requested")
    assert event.actor == world.owner_a
    assert event.extra == {"trigger": "manual"}


def test_disable_then_sync_is_refused_then_enable(
    world, api_as, yc_connection, django_capture_on_commit_callbacks
):
    client = api_as(world.owner_a)
    url = f"/api/v1/connections/{yc_connection.pk}/"

    disabled = client.post(url + "disable/")
    assert disabled.status_code == 200
    assert disabled.json()["status"] == "disabled"
    assert disabled.json()["next_sync_at"] is None

    with django_capture_on_commit_callbacks() as callbacks:
        refused = client.post(url + "sync/")
    assert refused.status_code == 400
    assert "disabled" in refused.json()["non_field_errors"][0]
    assert callbacks == []

    with django_capture_on_commit_callbacks() as callbacks:
        enabled = client.post(url + "enable/")
    assert enabled.json()["status"] == "pending"
    assert len(callbacks) == 1  # enabling starts a sync at once


def test_delete_goes_through_the_service(world, api_as, yc_connection):
    resource_row(yc_connection, 1)

    response = api_as(world.owner_a).delete(f"/api/v1/connections/{yc_connection.pk}/")

    assert response.status_code == 204
    assert not Connection.objects.filter(pk=yc_connection.pk).exists()
    assert not Resource.objects.exists()
    event = AuditEvent.objects.get(event_type="connection.deleted")
    assert event.extra == {"resources": 1}


# --- resources: filters -----------------------------------------------------------------------
@pytest.fixture
def registry(yc_connection):
    c = yc_connection
    now = timezone.now()
    return {
        "web": resource_row(c, 1, name="web-1", labels={"env": "prod", "team": "web"}, region="ru"),
        "db": resource_row(c, 2, name="db-1", type="disk", labels={"env": "stage"}, zone="ru-a"),
        "gone": resource_row(
            c, 3, name="old", labels={"env": "prod"}, deleted_at=now, status="unknown"
        ),
        "bare": resource_row(c, 4, name="bare", provider_id="fhm-special"),
    }


def _names(client, **params):
    return {r["name"] for r in _results(client.get("/api/v1/resources/", params))}


def test_label_filters(world, api_as, registry):
    client = api_as(world.viewer_a)
    assert _names(client, label="env:prod") == {"web-1", "old"}
    assert _names(client, label=["env:prod", "team:web"]) == {"web-1"}
    assert _names(client, label_key="env") == {"web-1", "db-1", "old"}
    assert _names(client, label_key=["env", "team"]) == {"web-1"}
    bad = client.get("/api/v1/resources/", {"label": "no-colon"})
    assert bad.status_code == 400
    assert "key:value" in bad.json()["label"][0]


def test_label_filters_use_jsonb_operators(world, registry):
    from providers.filtersets import ResourceFilterSet

    class Request:
        user = world.viewer_a

    filterset = ResourceFilterSet(
        {"label": "env:prod", "label_key": "team"},
        Resource.objects.all(),
        request=Request(),
    )
    sql = str(filterset.qs.query)
    assert "@>" in sql  # containment: served by the GIN index on labels
    assert "?&" in sql


def test_deleted_search_type_and_seen_filters(world, api_as, registry, yc_connection):
    client = api_as(world.viewer_a)
    assert _names(client) == {"web-1", "db-1", "old", "bare"}  # deleted ones included by default
    assert _names(client, deleted="false") == {"web-1", "db-1", "bare"}
    assert _names(client, deleted="true") == {"old"}
    assert _names(client, q="special") == {"bare"}
    assert _names(client, q="WEB") == {"web-1"}
    assert _names(client, type=["disk", "vm"], status="running") == {"web-1", "db-1", "bare"}
    assert _names(client, zone="ru-a") == {"db-1"}
    assert _names(client, connection=yc_connection.pk, region="ru") == {"web-1"}

    # A complete listing after last_seen_at moves the effective last seen of live resources only.
    later = timezone.now() + dt.timedelta(hours=1)
    Connection.objects.filter(pk=yc_connection.pk).update(last_full_sync_at=later)
    assert _names(client, seen_after=later.isoformat()) == {"web-1", "db-1", "bare"}
    assert _names(client, seen_before=later.isoformat()) == {"old"}
    detail = client.get(f"/api/v1/resources/{registry['web'].pk}/").json()
    assert dt.datetime.fromisoformat(detail["effective_last_seen_at"]) == later


def test_parent_filter(world, api_as, registry):
    child = resource_row(registry["web"].connection, 9, name="disk-of-web", parent=registry["web"])
    client = api_as(world.viewer_a)
    assert _names(client, parent=registry["web"].pk) == {child.name}


def test_resources_of_another_tenant_are_invisible(world, api_as, registry):
    client = api_as(world.owner_b)
    assert _results(client.get("/api/v1/resources/")) == []
    assert client.get(f"/api/v1/resources/{registry['web'].pk}/").status_code == 404


# --- events, sync runs ------------------------------------------------------------------------
def test_event_and_sync_run_filters(world, api_as, registry, yc_connection):
    now = timezone.now()
    run = SyncRun.objects.create(
        tenant=world.a,
        connection=yc_connection,
        kind="discovery",
        trigger="webhook",
        status="succeeded",
        started_at=now,
    )
    for kind, resource in [("appeared", registry["web"]), ("disappeared", registry["gone"])]:
        ResourceEvent.objects.create(
            tenant=world.a, resource=resource, kind=kind, at=now, sync_run=run
        )
    client = api_as(world.viewer_a)

    events = _results(
        client.get("/api/v1/resource-events/", {"connection": yc_connection.pk, "kind": "appeared"})
    )
    assert [e["resource"] for e in events] == [registry["web"].pk]
    old = (now - dt.timedelta(days=1)).isoformat()
    assert _results(client.get("/api/v1/resource-events/", {"at_before": old})) == []

    runs = _results(client.get("/api/v1/sync-runs/", {"trigger": "webhook", "status": "succeeded"}))
    assert [r["id"] for r in runs] == [run.pk]
    assert _results(client.get("/api/v1/sync-runs/", {"status": "failed"})) == []
    # A run that did not list completely (it marked nothing deleted) is found by ``complete``.
    assert _results(client.get("/api/v1/sync-runs/", {"complete": "true"})) == []
    assert [r["id"] for r in _results(client.get("/api/v1/sync-runs/", {"complete": "false"}))] == [
        run.pk
    ]


# --- metrics ------------------------------------------------------------------------------------
@pytest.fixture
def samples(registry):
    web = registry["web"]
    base = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    rows = [
        (web.tenant_id, web.pk, metric, base + dt.timedelta(minutes=5 * i), float(i))
        for i in range(6)
        for metric in ("cpu_utilization", "memory_utilization")
    ]
    samples_write(rows)
    return web, base


def test_raw_metrics_need_a_bounded_window(world, api_as, samples):
    web, base = samples
    client = api_as(world.viewer_a)
    url = f"/api/v1/resources/{web.pk}/metrics/"

    unbounded = client.get(url)
    assert unbounded.status_code == 400
    assert "bounded window" in unbounded.json()["after"][0]
    assert "before" in unbounded.json()

    too_long = client.get(
        url, {"after": base.isoformat(), "before": (base + dt.timedelta(days=40)).isoformat()}
    )
    assert too_long.status_code == 400
    assert "resource-metrics-daily" in too_long.json()["before"][0]

    reversed_ = client.get(url, {"after": base.isoformat(), "before": base.isoformat()})
    assert reversed_.status_code == 400


def test_raw_metrics_in_time_order_with_a_cursor(world, api_as, samples):
    web, base = samples
    client = api_as(world.viewer_a)
    params = {
        "after": base.isoformat(),
        "before": (base + dt.timedelta(minutes=20)).isoformat(),
        "metric": "cpu_utilization",
        "page_size": 2,
    }
    first = client.get(f"/api/v1/resources/{web.pk}/metrics/", params)
    assert first.status_code == 200, first.content
    page = first.json()
    assert [s["value"] for s in page["results"]] == [0.0, 1.0]
    second = client.get(page["next"]).json()
    assert [s["value"] for s in second["results"]] == [2.0, 3.0]
    assert second["next"] is None  # 20 minutes: samples 0..3 only


def test_raw_metrics_of_another_tenants_resource_are_404(world, api_as, samples):
    web, base = samples
    params = {"after": base.isoformat(), "before": (base + dt.timedelta(days=1)).isoformat()}
    response = api_as(world.owner_b).get(f"/api/v1/resources/{web.pk}/metrics/", params)
    assert response.status_code == 404


def test_daily_metrics_filters(world, api_as, registry):
    day = dt.date(2026, 3, 1)
    for offset in range(3):
        ResourceMetricDaily.objects.create(
            tenant=world.a,
            resource=registry["web"],
            metric="cpu_utilization",
            day=day + dt.timedelta(days=offset),
            avg=0.5,
            min=0.1,
            max=0.9,
            samples=288,
        )
    rows = _results(
        api_as(world.viewer_a).get(
            "/api/v1/resource-metrics-daily/",
            {
                "resource": registry["web"].pk,
                "metric": "cpu_utilization",
                "day_after": "2026-03-02",
                "day_before": "2026-03-03",
            },
        )
    )
    assert [r["day"] for r in rows] == ["2026-03-02"]


def test_openapi_schema_documents_the_provider_api(world, api_as):
    client = api_as(world.owner_a)
    schema = client.get("/api/schema/", {"format": "json"}).json()
    paths = schema["paths"]
    assert "/api/v1/connections/{id}/verify/" in paths
    assert "/api/v1/resources/{id}/metrics/" in paths
    webhook = paths["/webhooks/connections/{id}/"]["post"]
    assert "HMAC-SHA256" in webhook["description"]


def test_disabled_connection_keeps_history_visible(world, api_as, yc_connection):
    connection_set_enabled(actor=world.owner_a, connection=yc_connection, enabled=False)
    body = api_as(world.viewer_a).get(f"/api/v1/connections/{yc_connection.pk}/").json()
    assert body["status"] == "disabled"
    assert body["has_credentials"] is True


def test_customers_cannot_point_connections_at_other_endpoints(world, api_as):
    response = api_as(world.owner_a).post(
        "/api/v1/connections/",
        {
            "tenant": world.a.pk,
            "provider": "yandex_cloud",
            "name": "Internal probe",
            "credentials": {"oauth_token": "y0_x"},
            "endpoints": {"*": "http://169.254.169.254"},
        },
        format="json",
    )
    assert response.status_code == 400
    assert "operators" in str(response.json()["endpoints"])
    assert not Connection.objects.filter(name="Internal probe").exists()
