"""Resource operation logs over real HTTP from the Yandex Cloud simulator: collected after each
successful sync, incrementally (only what is new is read and stored), repeats dropped by the
provider's operation id, linked to the inventory, ``Resource.created_by`` set from the earliest
"created" operation; shown in the portal and admin; ``created_by`` filterable in the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from core.models import AuditEvent
from providers.adapters.yandex import YandexCloudAdapter
from providers.adapters.yandex.simulator_wire import ApiError
from providers.models import Connection, Resource, ResourceOperation, SyncRun
from providers.services.connections import connection_credentials
from providers.services.operations import OVERLAP, operations_collect
from providers.services.sync import connection_sync

pytestmark = pytest.mark.django_db


def _vms(sim) -> dict[str, dict]:
    return {
        vm_id: sim.inventory.instance(vm_id)
        for vm_id in sim.inventory.vm_folder
        if sim.inventory.instance(vm_id) is not None
    }


def _ops_requests(sim) -> dict[str, int]:
    return {
        path: count for path, count in sim.stats.by_path.items() if path.endswith("/operations")
    }


def _paged_adapter(page_size: int):
    def factory(connection):
        return YandexCloudAdapter(
            connection_credentials(connection),
            scope=connection.scope,
            endpoints=connection.endpoints,
            page_size=page_size,
        )

    return factory


def _sync_and_collect(connection, **options):
    connection_sync(connection_id=connection.pk, trigger="manual")
    return operations_collect(connection_id=connection.pk, trigger="manual", **options)


def test_a_collection_stores_each_instances_creation_and_sets_created_by(yc_sim, yc_connection):
    result = _sync_and_collect(yc_connection)

    vms = _vms(yc_sim)
    assert result.ok and result.since is None
    assert result.stored == len(vms) == ResourceOperation.objects.count()
    for vm_id in vms:
        vm = Resource.objects.get(connection=yc_connection, provider_id=vm_id)
        assert vm.created_by == yc_sim.inventory.creator_of(vm_id)
        [op] = vm.operations.all()
        assert (op.action, op.actor, op.status) == ("created", vm.created_by, "done")
        assert op.at == vm.provider_created_at
    # Only VMs have an operation log here; nothing else got a creator.
    assert not Resource.objects.exclude(type="vm").exclude(created_by="").exists()
    event = AuditEvent.objects.get(event_type="connection.operations_collected")
    assert event.extra["stored"] == len(vms)


def test_a_second_collection_reads_only_new_operations_and_drops_repeats(yc_sim, yc_connection):
    # One operation a page: what a collection reads shows in the simulator's request counts.
    paged = _paged_adapter(1)
    first = _sync_and_collect(yc_connection, adapter_factory=paged)
    newest = ResourceOperation.objects.order_by("-at").first().at
    report = yc_sim.mutate(appear=1, change=2)
    before = dict(_ops_requests(yc_sim))

    second = _sync_and_collect(yc_connection, adapter_factory=paged)

    assert second.since == newest - OVERLAP
    # 1 creation + (update, start/stop) of each changed VM; repeats from the overlap dropped.
    assert second.stored == 1 + 2 * len(report.changed)
    assert ResourceOperation.objects.count() == first.stored + second.stored
    changed = report.changed[0]
    actions = set(
        ResourceOperation.objects.filter(resource_provider_id=changed).values_list(
            "action", flat=True
        )
    )
    assert actions >= {"created", "updated"} and actions & {"started", "stopped"}
    appeared = Resource.objects.get(provider_id=report.appeared[0])
    assert appeared.created_by == yc_sim.inventory.creator_of(appeared.provider_id)
    # Newest first: a changed VM is read down to its first operation older than ``since``
    # (3 pages of 3), an untouched one stops after its single old page.
    after = _ops_requests(yc_sim)
    path = f"/compute/v1/instances/{changed}/operations"
    assert after[path] - before.get(path, 0) == 3

    third = operations_collect(connection_id=yc_connection.pk, adapter_factory=paged)
    assert third.ok and third.stored == 0
    assert ResourceOperation.objects.count() == first.stored + second.stored


def test_a_long_history_is_not_read_again(yc_sim, yc_connection):
    vm_id = next(iter(_vms(yc_sim)))
    old = datetime(2024, 1, 1, tzinfo=UTC)
    for day in range(1, 8):  # a week of changes, long before the collection
        at = (old + timedelta(days=day)).strftime("%Y-%m-%dT%H:%M:%SZ")
        yc_sim.inventory._log(vm_id, "Update", at, "Update instance")
    paged = _paged_adapter(1)
    _sync_and_collect(yc_connection, adapter_factory=paged)
    path = f"/compute/v1/instances/{vm_id}/operations"
    read_first = yc_sim.stats.by_path[path]
    assert read_first == 8  # the creation and seven updates, one a page

    result = operations_collect(connection_id=yc_connection.pk, adapter_factory=paged)

    assert result.stored == 0
    assert yc_sim.stats.by_path[path] - read_first == 1  # one page reaches back before `since`


def test_the_sync_task_collects_operations_and_a_failure_is_a_warning(
    world, yc_sim, yc_connection, monkeypatch
):
    from providers.tasks import connection_sync_task

    connection_sync_task.apply(kwargs={"connection_id": yc_connection.pk, "trigger": "manual"})
    assert ResourceOperation.objects.filter(connection=yc_connection).count() == len(_vms(yc_sim))

    def broken(query, body, instance_id):
        raise ApiError(3, "operation log unavailable")

    monkeypatch.setattr(yc_sim, "_instance_operations", broken)
    yc_sim.routes = yc_sim._routes()
    yc_sim.mutate(appear=1)
    connection_sync_task.apply(kwargs={"connection_id": yc_connection.pk, "trigger": "manual"})

    run = SyncRun.objects.filter(connection=yc_connection).order_by("-started_at").first()
    assert run.status == SyncRun.Status.SUCCEEDED and run.created >= 1
    assert any("Operation log not read" in w["message"] for w in run.warnings)
    failed = AuditEvent.objects.get(event_type="connection.operations_failed")
    assert "operation log unavailable" in failed.extra["error"]


def test_an_operation_read_before_its_resource_is_linked_by_the_next_collection(
    yc_sim, yc_connection
):
    # Collected before any sync: nothing to link to yet, the provider id is kept.
    operations_collect(connection_id=yc_connection.pk)
    assert not ResourceOperation.objects.filter(resource__isnull=False).exists()

    result = _sync_and_collect(yc_connection)

    assert result.stored == 0
    assert not ResourceOperation.objects.filter(resource__isnull=True).exists()
    assert result.creators_set == len(_vms(yc_sim))
    assert not Resource.objects.filter(type="vm", created_by="").exists()


def test_created_by_is_filterable_in_the_api_and_the_creator_condition_reads_it(
    world, api_as, yc_sim, yc_connection
):
    _sync_and_collect(yc_connection)
    creator = yc_sim.inventory.creator_of(next(iter(_vms(yc_sim))))
    expected = set(
        Resource.objects.filter(created_by=creator).values_list("provider_id", flat=True)
    )

    rows = api_as(world.owner_a).get("/api/v1/resources/", {"created_by": creator}).json()

    assert expected and {r["provider_id"] for r in rows["results"]} == expected
    assert {r["created_by"] for r in rows["results"]} == {creator}
    from allocation.conditions import _creator_sql

    assert "created_by" in _creator_sql()


def test_the_portal_and_admin_show_the_operations(world, client, yc_sim, yc_connection):
    _sync_and_collect(yc_connection)
    vm = Resource.objects.filter(type="vm").first()

    client.force_login(world.owner_a, backend="django.contrib.auth.backends.ModelBackend")
    page = client.get(reverse("portal:resources_detail", kwargs={"pk": vm.pk})).content.decode()
    assert "Operations at the provider" in page and vm.created_by in page

    client.force_login(world.superuser, backend="django.contrib.auth.backends.ModelBackend")
    admin_page = client.get(f"/admin/providers/resource/{vm.pk}/change/").content.decode()
    assert "Create instance" in admin_page
    listing = client.get("/admin/providers/resourceoperation/")
    assert listing.status_code == 200 and vm.created_by in listing.content.decode()


def test_a_disabled_connection_collects_nothing(yc_connection):
    Connection.objects.filter(pk=yc_connection.pk).update(status=Connection.Status.DISABLED)
    assert operations_collect(connection_id=yc_connection.pk) is None
