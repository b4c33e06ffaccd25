"""``manage.py sync`` and ``manage.py rotate_encryption_keys``."""

from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.test import override_settings

from core.crypto import decrypt_json, reset_key_cache
from core.models import AuditEvent
from providers.models import Connection, SyncRun
from providers.services.connections import webhook_secret
from providers.services.sync import SYNC_LEASE
from tests.factories import ConnectionFactory


def run_command(name: str, *args) -> str:
    out = io.StringIO()
    call_command(name, *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


# --- sync -----------------------------------------------------------------------------------
def test_sync_by_id_runs_in_the_foreground_with_progress_and_a_summary(yc_connection, yc_sim):
    output = run_command("sync", str(yc_connection.pk))

    run = SyncRun.objects.get(connection=yc_connection)
    assert run.status == SyncRun.Status.SUCCEEDED
    assert run.trigger == SyncRun.Trigger.MANUAL
    assert run.created == yc_sim.expected_count()
    assert f"{run.created} created" in output  # the progress line
    assert "API calls" in output
    assert f"seen {run.seen}: created {run.created}" in output  # the summary
    assert "Sync succeeded." in output
    event = AuditEvent.objects.get(event_type="connection.synced")
    assert event.source == "cli"


def test_sync_names_the_services_it_could_not_read(yc_connection, yc_sim):
    yc_sim.deny_service("kubernetes")

    output = run_command("sync", str(yc_connection.pk))

    assert "partial listing (unread types kept)" in output
    assert "not read: cannot read Managed Kubernetes" in output
    assert "grant k8s.viewer" in output
    assert "Sync succeeded." in output


def test_sync_by_name_and_tenant(world, yc_connection, yc_sim):
    ConnectionFactory(
        tenant=world.b,
        name=yc_connection.name,  # the same name in another tenant
        credentials={"oauth_token": yc_sim.oauth_token},
        endpoints={"*": yc_sim.url},
    )

    with pytest.raises(CommandError, match="add --tenant"):
        run_command("sync", yc_connection.name)
    run_command("sync", yc_connection.name, "--tenant", world.a.slug)

    assert SyncRun.objects.get().connection_id == yc_connection.pk


def test_sync_of_an_unknown_connection_fails(db):
    with pytest.raises(CommandError, match="No connection"):
        run_command("sync", "does-not-exist")


def test_sync_exits_non_zero_when_the_connection_is_busy(yc_connection):
    token = SYNC_LEASE.claim(yc_connection.pk)
    try:
        with pytest.raises(CommandError, match="busy"):
            run_command("sync", str(yc_connection.pk))
    finally:
        SYNC_LEASE.release(yc_connection.pk, token)
    assert not SyncRun.objects.exists()


def test_sync_exits_non_zero_with_the_reason_when_the_run_fails(yc_connection, yc_sim):
    yc_sim.inject("malformed", times=100, path="/compute/")

    with pytest.raises(CommandError, match=r"sync failed: .*not valid JSON"):
        run_command("sync", str(yc_connection.pk))

    run = SyncRun.objects.get()
    assert run.status == SyncRun.Status.FAILED
    assert not run.complete


def test_sync_shows_progress_for_every_batch(yc_connection, yc_sim, monkeypatch):
    monkeypatch.setattr("providers.services.sync.BATCH_SIZE", 10)

    output = run_command("sync", str(yc_connection.pk))

    lines = [line for line in output.splitlines() if line.strip().endswith("/s")]
    assert len(lines) == -(-yc_sim.expected_count() // 10)  # one per batch of 10
    assert f"{yc_sim.expected_count()} seen" in lines[-1]


class ListingThenFailure:
    """A child listed before its parent, one per batch; optionally failing after the listing."""

    api_calls = 0

    def __init__(self, *, fail: bool):
        self.fail = fail

    def discover(self):
        from providers.adapters.base import ProviderUnavailable, ResourceRecord

        yield ResourceRecord(provider_id="disk-1", type="disk", parent_provider_id="vm-1")
        yield ResourceRecord(provider_id="vm-1", type="vm")
        if self.fail:
            raise ProviderUnavailable("listing broke off")


def test_re_running_a_sync_that_failed_before_linking_completes_the_links(
    yc_connection, monkeypatch
):
    from providers.models import Resource

    monkeypatch.setattr("providers.services.sync.BATCH_SIZE", 1)
    monkeypatch.setattr(
        "providers.services.sync.adapter_for", lambda c: ListingThenFailure(fail=True)
    )
    with pytest.raises(CommandError, match="listing broke off"):
        run_command("sync", str(yc_connection.pk))
    disk = Resource.objects.get(provider_id="disk-1")
    assert disk.parent is None  # its parent was not known yet when it was written

    monkeypatch.setattr(
        "providers.services.sync.adapter_for", lambda c: ListingThenFailure(fail=False)
    )
    run_command("sync", str(yc_connection.pk))  # nothing new or changed this time

    run = SyncRun.objects.latest("started_at")
    assert (run.created, run.updated, run.unchanged) == (0, 0, 2)
    disk.refresh_from_db()
    assert disk.parent.provider_id == "vm-1"


# --- rotate_encryption_keys -----------------------------------------------------------------
OLD_KEY = "dGVzdC1rZXktdGVzdC1rZXktdGVzdC1rZXktMDAwMDA="  # the test settings' key
NEW_KEY = Fernet.generate_key().decode()


@pytest.fixture
def keys():
    """Switch FIELD_ENCRYPTION_KEYS for a block; the crypto module caches its MultiFernet."""

    def use(*configured):
        override = override_settings(FIELD_ENCRYPTION_KEYS=list(configured))
        override.enable()
        reset_key_cache()
        overrides.append(override)

    overrides = []
    yield use
    for override in reversed(overrides):
        override.disable()
    reset_key_cache()


def _connection(world, name, **credentials):
    return ConnectionFactory(
        tenant=world.a, name=name, credentials=credentials or {"oauth_token": f"y0_{name}"}
    )


def test_rotation_re_encrypts_every_secret_with_the_first_key(world, keys):
    old = [_connection(world, f"c{i}") for i in range(5)]
    secrets = {c.pk: webhook_secret(c) for c in old}
    keys(NEW_KEY, OLD_KEY)

    output = run_command("rotate_encryption_keys", "--batch-size", "2")

    assert "5 rows, 10 secrets re-encrypted in 3 batch(es)" in output
    keys(NEW_KEY)  # the old key is gone: everything must still be readable
    for connection in Connection.objects.all():
        assert decrypt_json(connection.credentials_encrypted) == {
            "oauth_token": f"y0_{connection.name}"
        }
        assert webhook_secret(connection) == secrets[connection.pk]
    event = AuditEvent.objects.get(event_type="crypto.keys_rotated")
    assert event.tenant_id is None
    assert event.extra["values"] == 10
    assert "y0_" not in str(event.extra)


def test_rows_no_key_can_read_are_listed_left_untouched_and_fail_the_command(world, keys):
    readable = _connection(world, "fine")
    broken = _connection(world, "broken")
    foreign = Fernet(Fernet.generate_key()).encrypt(b'{"oauth_token": "x"}').decode()
    Connection.objects.filter(pk=broken.pk).update(credentials_encrypted=foreign)
    keys(NEW_KEY, OLD_KEY)

    with pytest.raises(CommandError) as failure:
        run_command("rotate_encryption_keys")

    assert f"id {broken.pk}" in str(failure.value)
    assert "credentials_encrypted" in str(failure.value)
    broken.refresh_from_db()
    assert broken.credentials_encrypted == foreign  # untouched, webhook secret included
    assert Connection.objects.get(pk=broken.pk).webhook_secret_encrypted == (
        broken.webhook_secret_encrypted
    )
    keys(NEW_KEY)
    assert decrypt_json(Connection.objects.get(pk=readable.pk).credentials_encrypted)


def test_dry_run_reads_everything_and_writes_nothing(world, keys):
    connection = _connection(world, "one")
    keys(NEW_KEY, OLD_KEY)

    output = run_command("rotate_encryption_keys", "--dry-run")

    assert "1 rows, 2 secrets readable" in output
    assert Connection.objects.get().credentials_encrypted == connection.credentials_encrypted
    assert not AuditEvent.objects.filter(event_type="crypto.keys_rotated").exists()


# --- seed_demo: demo connections ------------------------------------------------------------
def test_seed_demo_connects_each_demo_client_to_the_simulator(
    db, yc_sim, tmp_path, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from providers.demo_steps import CONNECTION_NAME, demo_sync_status
    from providers.services.sync import connection_sync
    from providers.tasks import connection_sync_task

    monkeypatch.delenv("DEMO_PASSWORD", raising=False)
    queued = []
    monkeypatch.setattr(connection_sync_task, "apply_async", lambda **kw: queued.append(kw))
    settings.YANDEX_SIMULATOR_URL = yc_sim.url

    def seed():
        with django_capture_on_commit_callbacks(execute=True):
            run_command("seed_demo", "--credentials-file", str(tmp_path / "creds.json"))

    seed()

    demo = Connection.objects.filter(name=CONNECTION_NAME).select_related("tenant")
    assert sorted(c.tenant.slug for c in demo) == ["romashka", "vector"]
    assert all(c.endpoints == {"*": yc_sim.url} for c in demo)
    assert [q["kwargs"]["trigger"] for q in queued] == ["created", "created"]  # synced at once
    assert [row["run"] for row in demo_sync_status()] == [None, None]
    for connection in demo:
        connection_sync(connection_id=connection.pk, trigger="created")
    assert all(row["run"]["seen"] == yc_sim.expected_count() for row in demo_sync_status())

    events = AuditEvent.objects.count()
    seed()  # idempotent: nothing new
    assert AuditEvent.objects.count() == events
    assert len(queued) == 2

    settings.YANDEX_SIMULATOR_URL = "http://127.0.0.1:9"  # the next `up` runs it on another port
    seed()
    assert {tuple(c.endpoints.values()) for c in demo.all()} == {("http://127.0.0.1:9",)}
    assert [q["kwargs"]["trigger"] for q in queued[2:]] == ["manual", "manual"]
