"""Partial provider permissions, end to end against the Yandex Cloud simulator over real HTTP.

A service account with viewer roles on some services only: the services it can read are synced
in full (created, updated, deletions marked), an unreadable one is skipped with a warning in
words, its stored resources are never marked deleted, and the connection is ``degraded``, not
``auth_failed``. Granting the role brings it back to ``ok`` on the next sync.
"""

from __future__ import annotations

import datetime as dt

import pytest

from core.models import AuditEvent
from providers.models import Connection, Resource, ResourceMetric, SyncRun
from providers.services.connections import connection_verify
from providers.services.metrics import resource_metrics_collect
from providers.services.sync import connection_sync

K8S = ("k8s_cluster", "k8s_node_group")
K8S_WARNING = "cannot read Managed Kubernetes in 2 folders: permission denied — grant k8s.viewer"


def _sync(connection):
    return connection_sync(connection_id=connection.pk, trigger="manual")


def _live(connection, **filters):
    return Resource.objects.filter(connection=connection, deleted_at__isnull=True, **filters)


def _first_id(sim, folder: str, collection: str) -> str:
    return next(iter(sim.inventory.folders[folder].items[collection]))


def test_a_denied_service_degrades_the_connection_and_keeps_its_resources(yc_connection, yc_sim):
    _sync(yc_connection)
    k8s_before = set(_live(yc_connection, type__in=K8S).values_list("pk", flat=True))
    assert k8s_before  # the guard: there are clusters that a wrong sync would delete
    folder = next(iter(yc_sim.inventory.folders))
    gone_disk = _first_id(yc_sim, folder, "disks")
    gone_cluster = _first_id(yc_sim, folder, "k8s_clusters")
    yc_sim.inventory.remove(folder, "disks", gone_disk)
    yc_sim.inventory.remove(folder, "k8s_clusters", gone_cluster)  # unseen: it must stay
    appeared = yc_sim.mutate(appear=2).appeared
    yc_sim.deny_service("kubernetes")

    run = _sync(yc_connection)

    assert run.status == SyncRun.Status.SUCCEEDED
    assert not run.complete
    # The readable services are applied in full: new VMs created, a vanished disk deleted.
    assert set(appeared) <= set(_live(yc_connection).values_list("provider_id", flat=True))
    assert Resource.objects.get(provider_id=gone_disk).deleted_at is not None
    assert run.deleted == 1
    # Nothing of the unreadable type is marked deleted, not even what really went away.
    assert set(_live(yc_connection, type__in=K8S).values_list("pk", flat=True)) == k8s_before
    assert [w["message"] for w in run.warnings] == [K8S_WARNING]
    assert run.outcomes["k8s_cluster"] == run.outcomes["k8s_node_group"] == "denied"
    assert run.outcomes["vm"] == "complete"
    yc_connection.refresh_from_db()
    assert yc_connection.status == Connection.Status.DEGRADED
    assert yc_connection.last_error == K8S_WARNING
    event = AuditEvent.objects.filter(event_type="connection.synced").latest("id")
    assert event.extra["warnings"] == [K8S_WARNING]


def test_a_first_sync_with_a_denied_service_stores_everything_else(yc_connection, yc_sim):
    yc_sim.deny_service("kubernetes")

    run = _sync(yc_connection)

    assert run.status == SyncRun.Status.SUCCEEDED
    assert run.created > 0
    assert not _live(yc_connection, type__in=K8S).exists()
    assert _live(yc_connection, type="vm").exists()
    yc_connection.refresh_from_db()
    assert yc_connection.status == Connection.Status.DEGRADED


@pytest.mark.parametrize("status", [404, 501])
def test_a_service_missing_from_the_installation_degrades_likewise(yc_connection, yc_sim, status):
    _sync(yc_connection)
    postgres = set(
        _live(yc_connection, type="database_cluster").values_list("provider_id", flat=True)
    )
    yc_sim.remove_service("managed-postgresql", status=status)

    run = _sync(yc_connection)

    assert run.status == SyncRun.Status.SUCCEEDED
    assert run.deleted == 0
    assert postgres <= set(_live(yc_connection).values_list("provider_id", flat=True))
    [warning] = run.warnings
    assert warning["outcome"] == "absent"
    assert warning["message"] == (
        "cannot read Managed Service for PostgreSQL in 2 folders: "
        "not available in this installation or region"
    )
    yc_connection.refresh_from_db()
    assert yc_connection.status == Connection.Status.DEGRADED
    assert "Managed Service for PostgreSQL" in yc_connection.last_error


def test_granting_the_role_brings_the_connection_back_and_applies_the_type(yc_connection, yc_sim):
    _sync(yc_connection)
    folder = next(iter(yc_sim.inventory.folders))
    gone_cluster = _first_id(yc_sim, folder, "k8s_clusters")
    yc_sim.inventory.remove(folder, "k8s_clusters", gone_cluster)
    yc_sim.deny_service("kubernetes")
    _sync(yc_connection)
    assert Resource.objects.get(provider_id=gone_cluster).deleted_at is None

    yc_sim.grant_service("kubernetes")
    run = _sync(yc_connection)

    assert run.complete and run.warnings == []
    assert Resource.objects.get(provider_id=gone_cluster).deleted_at is not None
    assert run.deleted == 1
    yc_connection.refresh_from_db()
    assert yc_connection.status == Connection.Status.OK
    assert yc_connection.last_error == ""
    assert yc_connection.last_full_sync_at is not None


def test_a_denied_folder_keeps_its_resources_and_the_other_folder_syncs(yc_connection, yc_sim):
    _sync(yc_connection)
    denied, readable = list(yc_sim.inventory.folders)
    kept = set(_live(yc_connection, sub_account=denied).values_list("pk", flat=True))
    gone = _first_id(yc_sim, readable, "disks")
    yc_sim.inventory.remove(readable, "disks", gone)
    yc_sim.denied_folders.add(denied)

    run = _sync(yc_connection)

    assert set(_live(yc_connection, sub_account=denied).values_list("pk", flat=True)) == kept
    assert Resource.objects.get(provider_id=gone).deleted_at is not None
    assert run.deleted == 1
    assert all(denied in w["scopes"] for w in run.warnings)
    assert any(
        w["message"].startswith(f"cannot read Compute Cloud in folder {denied}")
        for w in run.warnings
    )
    yc_connection.refresh_from_db()
    assert yc_connection.status == Connection.Status.DEGRADED


def test_an_iam_refusal_is_still_an_auth_failure(yc_connection, yc_sim):
    _sync(yc_connection)
    yc_sim.iam.oauth_tokens.clear()  # the OAuth token was revoked
    yc_sim.expire_tokens()

    run = _sync(yc_connection)

    assert run.status == SyncRun.Status.FAILED
    assert run.deleted == 0
    yc_connection.refresh_from_db()
    assert yc_connection.status == Connection.Status.AUTH_FAILED


# --- metrics --------------------------------------------------------------------------------
END = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
LOOKBACK = dt.timedelta(hours=6)


def _collect(connection):
    return resource_metrics_collect(connection_id=connection.pk, lookback=LOOKBACK, end=END)


def _samples(connection, folder):
    return set(
        ResourceMetric.objects.filter(
            resource__connection=connection, resource__sub_account=folder
        ).values_list("resource_id", "metric", "ts", "value")
    )


def test_a_monitoring_403_in_one_folder_keeps_its_samples_and_degrades(yc_connection, yc_sim):
    _sync(yc_connection)
    _collect(yc_connection)
    denied, readable = list(yc_sim.inventory.folders)
    kept = _samples(yc_connection, denied)
    assert kept and _samples(yc_connection, readable)
    ResourceMetric.objects.filter(resource__sub_account=readable).delete()
    yc_sim.denied_folders.add(denied)

    run = _collect(yc_connection)

    assert run.status == SyncRun.Status.SUCCEEDED
    assert _samples(yc_connection, denied) == kept  # neither replaced nor doubled
    assert _samples(yc_connection, readable)  # the readable folder was collected again
    assert [w["message"] for w in run.warnings] == [
        f"cannot read Monitoring in folder {denied}: permission denied — grant monitoring.viewer"
    ]
    yc_connection.refresh_from_db()
    assert yc_connection.status == Connection.Status.DEGRADED
    assert "monitoring.viewer" in yc_connection.last_error

    yc_sim.denied_folders.clear()
    _collect(yc_connection)
    yc_connection.refresh_from_db()
    assert yc_connection.status == Connection.Status.OK


def test_a_clean_metrics_run_does_not_hide_an_unreadable_inventory_service(yc_connection, yc_sim):
    yc_sim.deny_service("kubernetes")
    _sync(yc_connection)

    _collect(yc_connection)

    yc_connection.refresh_from_db()
    assert yc_connection.status == Connection.Status.DEGRADED
    assert yc_connection.last_error == K8S_WARNING


# --- verify ---------------------------------------------------------------------------------
def test_verify_tells_which_services_are_readable(yc_connection, yc_sim, world):
    yc_sim.deny_service("kubernetes")
    yc_sim.remove_service("managed-clickhouse")

    ok, message = connection_verify(actor=world.operator_a, connection=yc_connection)

    assert ok
    assert "readable: Compute Cloud" in message
    assert "Managed Kubernetes (permission denied — grant k8s.viewer)" in message
    assert "Managed Service for ClickHouse (not available" in message
    event = AuditEvent.objects.filter(event_type="connection.verified").latest("id")
    assert event.extra["services"]["kubernetes"] == "denied"
    assert event.extra["services"]["compute"] == "complete"


def test_verify_denied_the_scope_is_not_an_authentication_failure(yc_connection, yc_sim, world):
    yc_sim.deny_service("resource_manager")

    ok, message = connection_verify(actor=world.operator_a, connection=yc_connection)

    assert not ok
    assert "403" in message
    yc_connection.refresh_from_db()
    assert yc_connection.status != Connection.Status.AUTH_FAILED


# --- where people see it --------------------------------------------------------------------
@pytest.fixture
def degraded(yc_connection, yc_sim):
    yc_sim.deny_service("kubernetes")
    run = _sync(yc_connection)
    return yc_connection, run


def test_the_portal_shows_the_warning_on_the_connection_and_its_run(client, world, degraded):
    from django.urls import reverse

    client.force_login(world.owner_a, backend="django.contrib.auth.backends.ModelBackend")

    html = client.get(reverse("portal:connections")).content.decode()

    assert "Degraded" in html
    assert html.count(K8S_WARNING) == 2  # the connection's callout and its sync's row
    assert "Authentication failed" not in html


def test_the_api_returns_the_run_warnings_and_outcomes(api_as, world, degraded):
    connection, run = degraded
    client = api_as(world.owner_a)

    body = client.get(f"/api/v1/sync-runs/{run.pk}/").json()
    listed = client.get(f"/api/v1/connections/{connection.pk}/").json()

    assert [w["message"] for w in body["warnings"]] == [K8S_WARNING]
    assert body["warnings"][0]["outcome"] == "denied"
    assert body["outcomes"]["k8s_cluster"] == "denied"
    assert listed["status"] == "degraded" and listed["last_error"] == K8S_WARNING


def test_the_admin_shows_the_warning_on_the_sync_run(client, world, degraded):
    from django.urls import reverse

    _, run = degraded
    client.force_login(world.operator_a)

    detail = client.get(reverse("admin:providers_syncrun_change", args=[run.pk]))
    listing = client.get(reverse("admin:providers_syncrun_changelist"))

    assert K8S_WARNING in detail.content.decode()
    assert K8S_WARNING in listing.content.decode()
