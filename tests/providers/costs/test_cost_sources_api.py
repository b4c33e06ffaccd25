"""Cost sources API: write-only keys, the services' rules as 400s, pull/enable/disable, the bucket
objects list, deletion with and without the costs, and single-file uploads of a Yandex export.
The end-to-end pull runs over real HTTP against the Yandex Cloud simulator's Object Storage."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from core.models import AuditEvent
from providers.adapters.yandex.simulator_billing import (
    BILLING_BUCKET,
    BILLING_PREFIX,
    BillingExport,
)
from providers.adapters.yandex.simulator_inventory import Inventory, InventoryConfig
from providers.adapters.yandex.simulator_storage import DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_KEY
from providers.models import CostLineItem, CostSource, CostSourceObject, ImportRun
from providers.services.cost_sources import (
    cost_source_set_enabled,
    source_credentials,
)
from providers.tasks import cost_source_pull_task
from tests.factories import ConnectionFactory, CostSourceFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/cost-sources/"
KEYS = {
    "access_key_id": "YCAJEapi-test-key-id",
    "secret_access_key": "YCapi-test-secret-0123456789",
}
DAY = dt.date(2026, 2, 14)


def _results(response):
    assert response.status_code == 200, response.content
    return response.json()["results"]


def _payload(world, **extra):
    return {
        "tenant": world.a.pk,
        "kind": "yandex_billing_export",
        "name": "Alpha export",
        "bucket": "alpha-billing",
        "prefix": "yc/",
        "credentials": KEYS,
        **extra,
    }


def _source(world, tenant=None, **extra):
    values = {"name": "Alpha export", "bucket": "alpha-billing", "credentials": KEYS, **extra}
    return CostSourceFactory(tenant=tenant or world.a, **values)


def _yandex_connection(tenant, name="Cloud"):
    return ConnectionFactory(tenant=tenant, name=name, credentials={"oauth_token": "y0_api"})


def _export_file(day=DAY) -> bytes:
    export = BillingExport(
        Inventory(InventoryConfig(folders=1, resources_per_folder=10)), today=day
    )
    return export.file(day).body


def _object(source, key, *, minutes_ago, outcome="imported"):
    return CostSourceObject.objects.create(
        tenant=source.tenant,
        source=source,
        key=key,
        etag=f"etag-{key}",
        outcome=outcome,
        size=100,
        pulled_at=timezone.now() - dt.timedelta(minutes=minutes_ago),
    )


# --- create, write-only keys ------------------------------------------------------------------
def test_create_keeps_the_keys_write_only_and_queues_the_first_pull(
    world, api_as, django_capture_on_commit_callbacks
):
    connection = _yandex_connection(world.a)
    with django_capture_on_commit_callbacks() as callbacks:
        response = api_as(world.owner_a).post(
            URL,
            _payload(world, connection=connection.pk, pull_interval=1800, policy="skip_rows"),
            format="json",
        )

    assert response.status_code == 201, response.content
    body = response.json()
    source = CostSource.objects.get(pk=body["id"])
    assert body["has_credentials"] is True
    assert "credentials" not in body
    assert KEYS["secret_access_key"] not in response.content.decode()
    assert KEYS["access_key_id"] not in response.content.decode()
    assert (body["pull_interval"], body["policy"], body["connection"]) == (
        1800,
        "skip_rows",
        connection.pk,
    )
    assert body["endpoint_url"] == "https://storage.yandexcloud.net"
    assert body["status"] == "pending"
    assert body["source_key"] == f"yc-billing:{source.pk}"
    assert source_credentials(source) == KEYS
    assert len(callbacks) == 1  # the first pull, queued on commit (not run here)
    event = AuditEvent.objects.get(event_type="cost_source.created")
    assert (event.source, event.actor) == ("api", world.owner_a)
    assert KEYS["secret_access_key"] not in json.dumps([event.before, event.after, event.extra])


def test_keys_never_appear_in_any_answer(world, api_as, django_capture_on_commit_callbacks):
    source = _source(world)
    _object(source, "yc/20260214.csv", minutes_ago=1)
    client = api_as(world.owner_a)
    detail = f"{URL}{source.pk}/"
    new_keys = {"access_key_id": "YCAJEreplaced-id", "secret_access_key": "YCreplaced-secret-xyz"}
    with django_capture_on_commit_callbacks():
        responses = [
            client.get(URL),
            client.get(detail),
            client.patch(detail, {"name": "Renamed", "credentials": new_keys}, format="json"),
            client.post(detail + "pull/"),
            client.post(detail + "disable/"),
            client.post(detail + "enable/"),
            client.get(detail + "objects/"),
            client.get("/api/v1/audit-events/"),
        ]
    source.refresh_from_db()
    for response in responses:
        text = response.content.decode()
        assert response.status_code in (200, 202), (response.request["PATH_INFO"], text)
        for needle in (*KEYS.values(), *new_keys.values(), source.credentials_encrypted):
            assert needle not in text, response.request["PATH_INFO"]
        assert '"credentials"' not in text
    assert source_credentials(source) == new_keys


def test_patch_without_keys_keeps_them_and_a_half_pair_is_refused(world, api_as):
    source = _source(world)
    client = api_as(world.owner_a)
    url = f"{URL}{source.pk}/"

    kept = client.patch(url, {"prefix": "new/", "pull_interval": 7200}, format="json")
    assert kept.status_code == 200, kept.content
    assert (kept.json()["prefix"], kept.json()["pull_interval"]) == ("new/", 7200)
    source.refresh_from_db()
    assert source_credentials(source) == KEYS
    assert source.pull_interval == dt.timedelta(hours=2)

    half = client.patch(url, {"credentials": {"access_key_id": "only-the-id"}}, format="json")
    assert half.status_code == 400
    assert "secret_access_key" in half.json()["credentials"]
    source.refresh_from_db()
    assert source_credentials(source) == KEYS


def test_tenant_and_kind_never_change_and_put_is_not_offered(world, api_as):
    source = _source(world)
    client = api_as(world.operator_a)
    url = f"{URL}{source.pk}/"

    assert client.put(url, _payload(world), format="json").status_code == 405
    client.patch(url, {"tenant": world.b.pk, "kind": "focus_bucket"}, format="json")

    source.refresh_from_db()
    assert (source.tenant_id, source.kind) == (world.a.pk, "yandex_billing_export")


# --- the services' rules surface as 400s naming the field ---------------------------------------
def test_private_endpoints_are_for_operators_only(world, api_as):
    private = _payload(world, endpoint_url="http://127.0.0.1:9000")

    refused = api_as(world.owner_a).post(URL, private, format="json")
    assert refused.status_code == 400
    assert "Only MSP operators" in refused.json()["endpoint_url"][0]
    assert not CostSource.objects.exists()

    allowed = api_as(world.operator_a).post(URL, private, format="json")
    assert allowed.status_code == 201, allowed.content


@pytest.mark.parametrize(
    ("extra", "field", "fragment"),
    [
        ({"bucket": "a"}, "bucket", "Not a bucket name"),
        ({"prefix": "/abs"}, "prefix", "do not start with"),
        ({"pull_interval": 60}, "pull_interval", "greater than or equal to 300"),
        ({"endpoint_url": "ftp://example.com"}, "endpoint_url", "http(s) URL"),
        ({"kind": "ftp"}, "kind", "not a valid choice"),
        ({"credentials": {"access_key_id": "x"}}, "credentials", "required"),
    ],
)
def test_bad_settings_are_refused_with_the_field(world, api_as, extra, field, fragment):
    response = api_as(world.operator_a).post(URL, _payload(world, **extra), format="json")

    assert response.status_code == 400
    assert fragment in json.dumps(response.json()[field])
    assert not CostSource.objects.exists()


def test_connections_must_be_the_tenants_own_yandex_connection(world, api_as):
    from tests.contracts.samples import _connection

    client = api_as(world.operator_a)
    foreign = _yandex_connection(world.b)
    selectel = _connection(world.a)

    other_tenant = client.post(URL, _payload(world, connection=foreign.pk), format="json")
    assert other_tenant.status_code == 400
    assert "connection" in other_tenant.json()

    wrong_provider = client.post(URL, _payload(world, connection=selectel.pk), format="json")
    assert wrong_provider.status_code == 400
    assert "Yandex Cloud connection" in wrong_provider.json()["connection"][0]

    focus = _payload(world, kind="focus_bucket", connection=selectel.pk, focus_replace="file")
    assert client.post(URL, focus, format="json").status_code == 201


def test_names_are_unique_per_tenant(world, api_as):
    _source(world, name="Export")
    client = api_as(world.operator_a)

    taken = client.post(URL, _payload(world, name="Export"), format="json")

    assert taken.status_code == 400
    assert "already has" in taken.json()["name"][0]
    assert client.post(URL, _payload(world, name="Export 2"), format="json").status_code == 201


# --- who may do what --------------------------------------------------------------------------
def test_other_tenants_sources_are_404(world, api_as):
    source = _source(world)
    _object(source, "yc/20260214.csv", minutes_ago=1)
    client = api_as(world.owner_b)
    url = f"{URL}{source.pk}/"

    assert _results(client.get(URL)) == []
    assert client.get(url).status_code == 404
    assert client.patch(url, {"name": "x"}, format="json").status_code == 404
    assert client.delete(url).status_code == 404
    for action in ("pull/", "enable/", "disable/", "upload/"):
        assert client.post(url + action).status_code == 404, action
    assert client.get(url + "objects/").status_code == 404
    assert CostSource.objects.filter(pk=source.pk, name="Alpha export").exists()


def test_viewers_see_sources_but_cannot_act(world, api_as):
    source = _source(world)
    viewer = api_as(world.viewer_a)
    url = f"{URL}{source.pk}/"

    assert viewer.get(url).json()["has_credentials"] is True
    assert viewer.get(url + "objects/").status_code == 200
    for action in ("pull/", "disable/"):
        assert viewer.post(url + action).status_code == 404  # not in the viewer's manage scope
    created = viewer.post(URL, _payload(world, name="Mine"), format="json")
    assert created.status_code == 400
    assert "tenant" in created.json()


def test_read_only_tokens_cannot_create_or_pull(world, api_client):
    from core.services.tokens import api_token_create

    source = _source(world)
    issued = api_token_create(actor=world.owner_a, tenant=world.a, name="ro", scope="read")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.raw}")

    assert api_client.get(URL).status_code == 200
    for response in (
        api_client.post(URL, _payload(world, name="Token"), format="json"),
        api_client.post(f"{URL}{source.pk}/pull/"),
        api_client.delete(f"{URL}{source.pk}/"),
    ):
        assert response.status_code == 403
        assert "read-only" in response.json()["detail"]
    assert CostSource.objects.count() == 1


# --- pull, enable, disable ---------------------------------------------------------------------
def test_pull_answers_202_and_queues_after_the_commit(
    world, api_as, monkeypatch, django_capture_on_commit_callbacks
):
    source = _source(world)
    queued = []
    monkeypatch.setattr(cost_source_pull_task, "apply_async", lambda **kw: queued.append(kw))

    with django_capture_on_commit_callbacks() as callbacks:
        response = api_as(world.owner_a).post(f"{URL}{source.pk}/pull/")
        assert queued == []  # nothing is sent before the commit

    assert response.status_code == 202
    assert response.json() == {"detail": "Pull queued."}
    assert len(callbacks) == 1
    callbacks[0]()
    assert queued == [{"kwargs": {"source_id": source.pk, "trigger": "manual"}}]
    event = AuditEvent.objects.get(event_type="cost_source.pull_requested")
    assert (event.actor, event.source, event.extra) == (world.owner_a, "api", {"trigger": "manual"})


def test_disabled_sources_refuse_pulls_until_enabled(
    world, api_as, django_capture_on_commit_callbacks
):
    source = _source(world)
    client = api_as(world.owner_a)
    url = f"{URL}{source.pk}/"

    disabled = client.post(url + "disable/")
    assert disabled.status_code == 200
    assert (disabled.json()["status"], disabled.json()["next_pull_at"]) == ("disabled", None)

    with django_capture_on_commit_callbacks() as callbacks:
        refused = client.post(url + "pull/")
    assert refused.status_code == 400
    assert "disabled" in refused.json()["non_field_errors"][0]
    assert callbacks == []

    enabled = client.post(url + "enable/")
    assert enabled.json()["status"] == "pending"
    assert enabled.json()["next_pull_at"] is not None  # due now: the dispatcher pulls it


def test_a_pull_over_http_fills_objects_and_import_runs(
    world, api_as, yc_sim, monkeypatch, django_capture_on_commit_callbacks
):
    yc_sim.billing.today, yc_sim.billing.days = DAY, 3
    client = api_as(world.operator_a)  # operators may point a source at the simulator
    created = client.post(
        URL,
        _payload(
            world,
            endpoint_url=yc_sim.s3_url,
            bucket=BILLING_BUCKET,
            prefix=BILLING_PREFIX,
            credentials={
                "access_key_id": DEFAULT_ACCESS_KEY_ID,
                "secret_access_key": DEFAULT_SECRET_KEY,
            },
        ),
        format="json",
    )
    assert created.status_code == 201, created.content
    url = f"{URL}{created.json()['id']}/"
    # Run the queued task in-process: the pull itself talks HTTP to the simulator.
    monkeypatch.setattr(
        cost_source_pull_task, "apply_async", lambda **kw: cost_source_pull_task.apply(**kw)
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url + "pull/").status_code == 202

    source = client.get(url).json()
    assert (source["status"], source["last_error"]) == ("ok", "")
    assert source["last_pull_at"] is not None
    objects = _results(client.get(url + "objects/"))
    assert len(objects) == 3
    assert {o["outcome"] for o in objects} == {"imported"}
    assert all(o["key"].startswith(BILLING_PREFIX) for o in objects)
    runs = _results(client.get("/api/v1/import-runs/", {"source_key": source["source_key"]}))
    assert {r["id"] for r in runs} == {o["import_run"] for o in objects}
    assert CostLineItem.objects.filter(tenant=world.a, x_source_key=source["source_key"]).exists()


# --- bucket objects ---------------------------------------------------------------------------
def test_objects_newest_first_with_filters_and_pages(world, api_as):
    source = _source(world)
    other = _source(world, name="Other")
    _object(other, "yc/other.csv", minutes_ago=0)
    for n in range(5):
        _object(source, f"yc/2026021{n}.csv", minutes_ago=10 - n)
    _object(source, "yc/broken.csv", minutes_ago=30, outcome="rejected")
    client = api_as(world.viewer_a)
    url = f"{URL}{source.pk}/objects/"

    listed = _results(client.get(url))
    assert [o["key"] for o in listed] == [
        *(f"yc/2026021{n}.csv" for n in range(4, -1, -1)),
        "yc/broken.csv",
    ]
    assert [o["key"] for o in _results(client.get(url, {"outcome": "rejected"}))] == [
        "yc/broken.csv"
    ]
    assert len(_results(client.get(url, {"key_prefix": "yc/2026"}))) == 5
    page = client.get(url, {"page_size": 2, "ordering": "key"}).json()
    assert page["count"] == 6
    assert [o["key"] for o in page["results"]] == ["yc/20260210.csv", "yc/20260211.csv"]
    assert page["next"]


# --- list filters -----------------------------------------------------------------------------
def test_list_filters(world, api_as):
    connection = _yandex_connection(world.a)
    export = _source(world, connection=connection)
    focus = _source(world, name="FOCUS", kind="focus_bucket")
    cost_source_set_enabled(actor=None, source=focus, enabled=False)
    client = api_as(world.viewer_a)

    def ids(**params):
        return {s["id"] for s in _results(client.get(URL, params))}

    assert ids() == {export.pk, focus.pk}
    assert ids(kind="focus_bucket") == {focus.pk}
    assert ids(status="disabled") == {focus.pk}
    assert ids(connection=connection.pk) == {export.pk}
    assert ids(tenant=world.a.pk, q="foc") == {focus.pk}
    assert client.get(URL, {"kind": "nope"}).status_code == 400


# --- delete -----------------------------------------------------------------------------------
def _upload(client, source, body: bytes, **extra):
    content = base64.b64encode(body).decode()
    return client.post(
        f"{URL}{source.pk}/upload/",
        {"content": content, "file_name": "billing/20260214.csv", **extra},
        format="json",
    )


def test_delete_keeps_the_costs_unless_purged(world, api_as):
    client = api_as(world.owner_a)
    kept, purged = _source(world, name="Kept"), _source(world, name="Purged")
    for source in (kept, purged):
        assert _upload(client, source, _export_file()).status_code == 201

    assert client.delete(f"{URL}{kept.pk}/").status_code == 204
    assert client.delete(f"{URL}{purged.pk}/?purge_costs=maybe").status_code == 400
    assert client.delete(f"{URL}{purged.pk}/?purge_costs=true").status_code == 204

    assert not CostSource.objects.exists()
    assert CostLineItem.objects.filter(x_source_key=kept.source_key).exists()
    assert not CostLineItem.objects.filter(x_source_key=purged.source_key).exists()
    events = AuditEvent.objects.filter(event_type="cost_source.deleted").order_by("seq")
    assert [e.extra["purged_line_items"] > 0 for e in events] == [False, True]


# --- single-file upload of a Yandex export ----------------------------------------------------
def test_upload_imports_one_day_into_the_source(world, api_as):
    connection = _yandex_connection(world.a)
    source = _source(world, connection=connection, policy="skip_rows")
    client = api_as(world.owner_a)
    body = _export_file()

    response = _upload(client, source, body)

    assert response.status_code == 201, response.content
    run = ImportRun.objects.get(pk=response.json()["id"])
    assert response["Location"] == f"/api/v1/import-runs/{run.pk}/"
    assert (run.status, run.source, run.source_key) == (
        "succeeded",
        "yandex_billing",
        source.source_key,
    )
    assert (run.connection_id, run.policy) == (connection.pk, "skip_rows")
    assert run.rows_loaded > 0

    multipart = client.post(
        f"{URL}{source.pk}/upload/",
        {
            "file": SimpleUploadedFile("20260214.csv", body, "text/csv"),
            "file_name": "billing/20260214.csv",
        },
        format="multipart",
    )
    assert multipart.status_code == 201
    assert multipart.json()["status"] == "skipped"  # the same bytes are already loaded

    forced = _upload(client, source, body, force=True)
    assert forced.json()["status"] == "succeeded"


def test_upload_refusals(world, api_as):
    source = _source(world)
    client = api_as(world.owner_a)
    url = f"{URL}{source.pk}/upload/"

    assert "content" in client.post(url, {"content": "%%%"}, format="json").json()
    assert "file" in client.post(url, {}, format="json").json()
    undated = client.post(
        url, {"content": base64.b64encode(_export_file()).decode(), "file_name": "x.csv"}
    )
    assert undated.status_code == 400
    assert "day" in undated.json()

    not_an_export = _upload(client, source, b"a,b\n1,2\n")
    assert not_an_export.status_code == 400
    assert not_an_export.json()["import_run"]["status"] == "failed"
    assert "not a Yandex Cloud billing export" in not_an_export.json()["detail"]

    focus = _source(world, name="FOCUS", kind="focus_bucket")
    refused = _upload(client, focus, _export_file())
    assert refused.status_code == 400
    assert "import-runs" in refused.json()["non_field_errors"][0]
