"""The portal's resource inventory: the tenant's resources with the API's filters, sorting and
paging, and a detail page with specs, labels, relations, history and daily CPU."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from providers.models import Connection, ResourceEvent, ResourceMetricDaily
from tests.factories import ConnectionFactory, resource_row

URL = reverse("portal:resources")


def _detail(resource) -> str:
    return reverse("portal:resources_detail", kwargs={"pk": resource.pk})


def _connection(tenant, name="Production"):
    return ConnectionFactory(tenant=tenant, name=name, credentials={"oauth_token": "y0_token"})


def _names(response) -> list[str]:
    return [r.name for r in response.context["page"].object_list]


@pytest.fixture
def inventory(world):
    prod = _connection(world.a)
    return {
        "prod": prod,
        "web": resource_row(
            prod, 1, name="web-1", labels={"env": "prod", "team": "web"}, zone="ru-central1-a"
        ),
        "db": resource_row(
            prod, 2, name="db-1", labels={"env": "staging"}, type="disk", zone="ru-central1-b"
        ),
        "ip": resource_row(
            prod, 3, name="ip-1", type="ip_address", status="stopped", labels={"team": "x"}
        ),
        "old": resource_row(prod, 4, name="old-vm", deleted_at=timezone.now()),
        "beta": resource_row(_connection(world.b, "Beta cloud"), 5, name="beta-secret-vm"),
    }


def test_the_list_shows_this_tenants_live_resources(login, world, inventory):
    response = login(world.owner_a).get(URL, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    assert sorted(_names(response)) == ["db-1", "ip-1", "web-1"]
    html = response.content.decode()
    assert "beta-secret-vm" not in html and "Beta cloud" not in html
    assert _detail(inventory["web"]) in html
    assert "3 resources" in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"label_key": "env"}, ["db-1", "web-1"]),
        ({"label_key": "env", "label_value": "prod"}, ["web-1"]),
        ({"label_key": "team", "label_value": "web"}, ["web-1"]),
        ({"label": "env:staging"}, ["db-1"]),  # the API's form works too
        ({"deleted": "true"}, ["old-vm"]),
        ({"deleted": "all"}, ["db-1", "ip-1", "old-vm", "web-1"]),
        ({"type": "disk"}, ["db-1"]),
        ({"status": "stopped"}, ["ip-1"]),
        ({"zone": "ru-central1-a"}, ["web-1"]),
        ({"q": "DB-"}, ["db-1"]),
        ({"q": "id-3"}, ["ip-1"]),  # provider ids are searched too
    ],
)
def test_filters(login, world, inventory, query, expected):
    response = login(world.owner_a).get(URL, query)
    assert sorted(_names(response)) == expected


def test_the_connection_filter_offers_and_accepts_only_this_tenants_connections(
    login, world, inventory, two_tenant_user
):
    other = _connection(world.a, "Staging")
    resource_row(other, 7, name="staging-vm")
    client = login(two_tenant_user)  # sees both tenants; Alpha is the current one
    client.post(reverse("portal:tenant_switch"), {"tenant": world.a.pk})

    response = client.get(URL, {"connection": other.pk}, HTTP_ACCEPT_LANGUAGE="en")
    assert _names(response) == ["staging-vm"]
    html = response.content.decode()
    assert "Staging" in html and "Beta cloud" not in html

    foreign = inventory["beta"].connection_id
    response = client.get(URL, {"connection": foreign}, HTTP_ACCEPT_LANGUAGE="en")
    assert "beta-secret-vm" not in response.content.decode()
    assert "connection" in response.context["filterset"].errors


def test_sorting_and_paging(login, world, monkeypatch):
    from providers.portal import resources as views

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    prod = _connection(world.a)
    for n, name in enumerate(["b", "d", "a", "c", "e"]):
        resource_row(prod, n, name=name)
    client = login(world.owner_a)

    assert _names(client.get(URL, {"sort": "name"})) == ["a", "b"]
    assert _names(client.get(URL, {"sort": "name", "page": 2})) == ["c", "d"]
    response = client.get(URL, {"sort": "-name", "page": 3})
    assert _names(response) == ["a"]
    assert "sort=name" in response.content.decode()  # the header link flips the order
    assert _names(client.get(URL, {"sort": "nonsense"}))  # an unknown sort falls back


def test_last_seen_is_effective_for_live_resources(login, world):
    prod = _connection(world.a)
    now = timezone.now()
    resource_row(prod, 1, name="unchanged", last_seen_at=now - timedelta(days=10))
    resource_row(
        prod, 2, name="gone", last_seen_at=now - timedelta(days=2), deleted_at=now - timedelta(1)
    )
    Connection.objects.filter(pk=prod.pk).update(last_full_sync_at=now - timedelta(hours=1))

    response = login(world.owner_a).get(URL, {"sort": "-last_seen", "deleted": "all"})

    # The unchanged one was seen by the last complete listing (no row rewrite needed); a deleted
    # one keeps the time it was last seen.
    assert _names(response) == ["unchanged", "gone"]
    seen = [r.seen_at for r in response.context["page"].object_list]
    assert seen == [now - timedelta(hours=1), now - timedelta(days=2)]


def test_the_list_does_not_query_per_row(login, world):
    prod = _connection(world.a)
    client = login(world.owner_a)
    resource_row(prod, 0)
    client.get(URL)

    def queries() -> int:
        with CaptureQueriesContext(db_connection) as captured:
            client.get(URL)
        return len(captured)

    one = queries()
    for n in range(1, 8):
        resource_row(prod, n, labels={"env": "prod"})
    assert queries() == one


def test_the_detail_page(login, world):
    prod = _connection(world.a)
    vm = resource_row(
        prod,
        1,
        name="web-1",
        specs={"vcpu": 2, "core_fraction": 20, "memory_bytes": 4 * 1024**3},
        labels={"env": "prod"},
        properties={"platform_id": "standard-v3", "internal_ips": ["10.0.0.5", "10.0.0.6"]},
        related_ids={"subnets": ["e9bsubnet"]},
        pricing_model="preemptible",
    )
    disk = resource_row(
        prod, 2, name="web-1-boot", type="disk", parent=vm, specs={"storage_bytes": 20 * 1024**3}
    )
    ResourceEvent.objects.create(
        tenant=world.a, resource=vm, kind="appeared", at=timezone.now() - timedelta(days=2)
    )
    ResourceEvent.objects.create(
        tenant=world.a,
        resource=vm,
        kind="changed",
        at=timezone.now() - timedelta(days=1),
        changes={
            "labels": [{"env": "staging"}, {"env": "prod"}],
            "specs": [
                {"vcpu": 2, "memory_bytes": 2 * 1024**3},
                {"vcpu": 2, "memory_bytes": 4 * 1024**3},
            ],
            "status": ["stopped", "running"],
        },
    )
    today = timezone.localdate()
    for n in range(3):
        ResourceMetricDaily.objects.create(
            tenant=world.a,
            resource=vm,
            metric="cpu_utilization_of_guaranteed",
            day=today - timedelta(days=n),
            avg=10.0 + n,
            min=1.0,
            max=50.0,
            samples=24,
        )
    ResourceMetricDaily.objects.create(  # older than 30 days: not shown
        tenant=world.a,
        resource=vm,
        metric="cpu_utilization_of_guaranteed",
        day=today - timedelta(days=45),
        avg=99.0,
        min=99.0,
        max=99.0,
        samples=24,
    )

    response = login(world.owner_a).get(_detail(vm), HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Virtual machine" in html and "Running" in html and "Preemptible" in html
    assert "<dt>vCPU</dt><dd>2</dd>" in html
    assert "<dt>Core fraction</dt><dd>20%</dd>" in html
    assert "<dt>Memory</dt><dd>4.0\xa0GB</dd>" in html
    assert "label_key=env&amp;label_value=prod" in html
    assert "10.0.0.5, 10.0.0.6" in html and "standard-v3" in html
    assert _detail(disk) in html and "e9bsubnet" in html
    rows = response.context["events"].object_list[0].rows
    assert ("Labels: env", "staging", "prod") in rows
    assert ("Specs: Memory", "2.0\xa0GB", "4.0\xa0GB") in rows
    assert ("Status", "stopped", "running") in rows
    assert "Appeared" in html
    panel = response.context["metrics"][0]
    assert [p.avg for p in panel["points"]] == [12.0, 11.0, 10.0]
    assert round(panel["average"], 1) == 11.0
    assert "<polyline" in html and "30-day average 11.0%, peak 50.0%" in html

    child = login(world.owner_a).get(_detail(disk), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert _detail(vm) in child and "20.0\xa0GB" in child


def test_another_tenants_resource_is_404(login, world, inventory):
    response = login(world.owner_a).get(_detail(inventory["beta"]))
    assert response.status_code == 404


def test_the_pages_in_russian(login, world, inventory):
    client = login(world.owner_a)

    html = client.get(URL, HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Ресурсы" in html
    assert "Виртуальная машина" in html
    assert "Применить" in html  # "Filter"

    detail = client.get(_detail(inventory["web"]), HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "История" in detail
    assert "Модель оплаты" in detail
