"""Cost sources admin: write-only keys (never rendered, kept when left empty), writes and actions
through the services with a message per source, the newest bucket objects inline, and the
read-only bucket objects admin."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEvent
from providers.models import CostSource, CostSourceObject
from providers.services.cost_sources import (
    cost_source_set_enabled,
    source_credentials,
)
from tests.factories import CostSourceFactory

pytestmark = pytest.mark.django_db

KEY_ID, SECRET = "YCAJEadmin-key-id", "YCadmin-secret-value-0123"
KEYS = {"access_key_id": KEY_ID, "secret_access_key": SECRET}
CHANGELIST = "admin:providers_costsource_changelist"


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def operator(client, world):
    client.force_login(world.operator_a)
    return client


def _source(tenant, name="Alpha export", **extra):
    return CostSourceFactory(
        tenant=tenant, name=name, bucket="alpha-billing", credentials=KEYS, **extra
    )


def _form(world, **extra):
    return {
        "tenant": world.a.pk,
        "kind": "yandex_billing_export",
        "name": "Alpha admin export",
        "connection": "",
        "endpoint_url": "https://storage.yandexcloud.net",
        "bucket": "alpha-billing",
        "prefix": "yc/",
        "region": "ru-central1",
        "access_key_id": KEY_ID,
        "secret_access_key": SECRET,
        "policy": "reject_file",
        "focus_replace": "months",
        "start_date": "",
        "pull_interval": "01:00:00",
        **extra,
    }


def _change_form(source, **extra):
    # The bucket objects inline is view-only, but its management form is part of the page.
    prefix = "bucket_objects"
    initial = min(source.bucket_objects.count(), 20)
    return {
        "name": source.name,
        "connection": "",
        "endpoint_url": source.endpoint_url,
        "bucket": source.bucket,
        "prefix": source.prefix,
        "region": source.region,
        "access_key_id": "",
        "secret_access_key": "",
        "policy": source.policy,
        "focus_replace": source.focus_replace,
        "start_date": "",
        "pull_interval": "01:00:00",
        f"{prefix}-TOTAL_FORMS": str(initial),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
        **extra,
    }


def _act(client, action, *sources):
    return client.post(
        reverse(CHANGELIST),
        {"action": action, "_selected_action": [s.pk for s in sources]},
        follow=True,
    )


def _object(source, key, *, minutes_ago):
    return CostSourceObject.objects.create(
        tenant=source.tenant,
        source=source,
        key=key,
        etag=f"etag-{key}",
        outcome="imported",
        pulled_at=timezone.now() - dt.timedelta(minutes=minutes_ago),
    )


# --- add / change: write-only keys ------------------------------------------------------------
def test_add_stores_the_keys_encrypted_and_never_renders_them(
    world, operator, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = operator.post(reverse("admin:providers_costsource_add"), _form(world))

    assert response.status_code == 302, response.context["adminform"].form.errors
    source = CostSource.objects.get(name="Alpha admin export")
    assert source_credentials(source) == KEYS
    assert SECRET not in source.credentials_encrypted
    assert len(callbacks) == 1  # the first pull, queued on commit
    event = AuditEvent.objects.get(event_type="cost_source.created")
    assert (event.source, event.actor) == ("admin", world.operator_a)

    page = operator.get(reverse("admin:providers_costsource_change", args=[source.pk]))
    html = page.content.decode()
    for needle in (KEY_ID, SECRET, source.credentials_encrypted):
        assert needle not in html
    assert "stored (write-only)" in html
    assert f"yc-billing:{source.pk}" in html
    runs = reverse("admin:providers_importrun_changelist")
    for query in (f"source_key=yc-billing:{source.pk}", f"source_key__startswith=x:{source.pk}:"):
        assert operator.get(f"{runs}?{query}").status_code == 200  # the page's links work


def test_add_needs_both_keys_and_never_echoes_typed_ones(world, operator):
    url = reverse("admin:providers_costsource_add")

    missing = operator.post(url, _form(world, secret_access_key=""))
    assert "secret_access_key" in missing.context["adminform"].form.errors
    bad_bucket = operator.post(url, _form(world, bucket="a"))
    assert "bucket" in bad_bucket.context["adminform"].form.errors
    for response in (missing, bad_bucket):
        assert KEY_ID not in response.content.decode()
        assert SECRET not in response.content.decode()
    assert not CostSource.objects.exists()


def test_change_with_empty_keys_keeps_them_and_both_replace_them(world, operator):
    source = _source(world.a)
    url = reverse("admin:providers_costsource_change", args=[source.pk])

    kept = operator.post(url, _change_form(source, name="Renamed", prefix="new/"))
    assert kept.status_code == 302, kept.context["adminform"].form.errors
    source.refresh_from_db()
    assert (source.name, source.prefix) == ("Renamed", "new/")
    assert source_credentials(source) == KEYS

    half = operator.post(url, _change_form(source, access_key_id="only-id"))
    assert "secret_access_key" in half.context["adminform"].form.errors

    new_keys = {"access_key_id": "YCAJEnew", "secret_access_key": "YCnew-secret"}
    replaced = operator.post(url, _change_form(source, **new_keys))
    assert replaced.status_code == 302
    source.refresh_from_db()
    assert source_credentials(source) == new_keys
    event = AuditEvent.objects.filter(event_type="cost_source.updated").latest("seq")
    assert event.extra["access_keys_replaced"] is True
    assert "YCnew-secret" not in str([event.before, event.after, event.extra])


def test_tenant_and_kind_are_read_only_on_change(world, operator):
    source = _source(world.a)
    url = reverse("admin:providers_costsource_change", args=[source.pk])

    operator.post(url, _change_form(source, tenant=world.b.pk, kind="focus_bucket"))

    source.refresh_from_db()
    assert (source.tenant_id, source.kind) == (world.a.pk, "yandex_billing_export")


def test_service_refusals_are_reported(world, operator):
    from tests.contracts.samples import _connection

    # A Yandex export on a Selectel connection passes the form but not the service.
    selectel = _connection(world.a)
    response = operator.post(
        reverse("admin:providers_costsource_add"),
        _form(world, connection=selectel.pk),
        follow=True,
    )

    assert any("Yandex Cloud connection" in m for m in _messages(response)), _messages(response)
    assert not CostSource.objects.exists()


# --- actions ----------------------------------------------------------------------------------
def test_pull_now_queues_and_refuses_disabled_sources(
    world, operator, django_capture_on_commit_callbacks
):
    active, disabled = _source(world.a), _source(world.a, name="Paused")
    cost_source_set_enabled(actor=None, source=disabled, enabled=False)

    with django_capture_on_commit_callbacks() as callbacks:
        response = _act(operator, "pull_now", active, disabled)

    messages = _messages(response)
    assert any(m.startswith("Alpha export: pull queued") for m in messages), messages
    assert any(m.startswith("Paused: This cost source is disabled") for m in messages), messages
    assert len(callbacks) == 1
    event = AuditEvent.objects.get(event_type="cost_source.pull_requested")
    assert (event.source, event.extra) == ("admin", {"trigger": "manual"})


def test_enable_and_disable_actions(world, operator):
    source = _source(world.a)

    disabled = _act(operator, "disable_sources", source)
    source.refresh_from_db()
    assert source.status == CostSource.Status.DISABLED
    assert any(m.startswith("Alpha export: disabled") for m in _messages(disabled))

    enabled = _act(operator, "enable_sources", source)
    source.refresh_from_db()
    assert source.status == CostSource.Status.PENDING
    assert source.next_pull_at is not None
    assert any(m.startswith("Alpha export: enabled") for m in _messages(enabled))


def test_actions_skip_sources_the_operator_may_only_view(world, operator):
    from core.services.memberships import membership_create

    # operator_a manages tenant A but only views tenant B.
    membership_create(actor=None, tenant=world.b, user=world.operator_a, role="operator_readonly")
    ours, theirs = _source(world.a), _source(world.b, name="Beta export")

    response = _act(operator, "disable_sources", ours, theirs)

    ours.refresh_from_db()
    theirs.refresh_from_db()
    assert ours.status == CostSource.Status.DISABLED
    assert theirs.status != CostSource.Status.DISABLED
    assert any("1 cost source skipped" in m for m in _messages(response))


# --- bucket objects ---------------------------------------------------------------------------
def test_change_page_shows_the_newest_objects_only(world, operator):
    source = _source(world.a)
    for n in range(25):
        _object(source, f"yc/obj-{n:02d}.csv", minutes_ago=100 - n)

    page = operator.get(reverse("admin:providers_costsource_change", args=[source.pk]))

    formset = next(f for f in page.context["inline_admin_formsets"])
    keys = [form.original.key for form in formset]
    assert keys == [f"yc/obj-{n:02d}.csv" for n in range(24, 4, -1)]  # 20, newest first
    assert not formset.has_add_permission and not formset.has_change_permission
    # A save with the view-only inline on the page changes the source, never the objects.
    saved = operator.post(
        reverse("admin:providers_costsource_change", args=[source.pk]),
        _change_form(source, name="Renamed"),
    )
    assert saved.status_code == 302, saved.context["adminform"].form.errors
    assert CostSourceObject.objects.filter(source=source).count() == 25


def test_bucket_objects_admin_is_read_only_and_scoped(world, operator):
    ours = _object(_source(world.a), "yc/ours.csv", minutes_ago=1)
    theirs = _object(_source(world.b, name="Beta export"), "yc/theirs.csv", minutes_ago=1)

    listed = operator.get(reverse("admin:providers_costsourceobject_changelist"))
    assert [o.pk for o in listed.context["cl"].result_list] == [ours.pk]
    filter_choices = [
        choice["display"]
        for spec in listed.context["cl"].filter_specs
        for choice in spec.choices(listed.context["cl"])
    ]
    assert "Alpha export" in filter_choices
    assert "Beta export" not in filter_choices
    assert operator.get(reverse("admin:providers_costsourceobject_add")).status_code == 403
    change = operator.get(reverse("admin:providers_costsourceobject_change", args=[ours.pk]))
    assert change.status_code == 200
    assert b'name="key"' not in change.content  # read-only
    theirs_page = operator.get(reverse("admin:providers_costsourceobject_change", args=[theirs.pk]))
    assert theirs_page.status_code in (302, 404)


def test_delete_goes_through_the_service(world, operator):
    source = _source(world.a)
    _object(source, "yc/a.csv", minutes_ago=1)
    url = reverse("admin:providers_costsource_delete", args=[source.pk])

    confirm = operator.get(url)
    assert confirm.status_code == 200
    response = operator.post(url, {"post": "yes"})

    assert response.status_code == 302
    assert not CostSource.objects.filter(pk=source.pk).exists()
    event = AuditEvent.objects.get(event_type="cost_source.deleted")
    assert (event.source, event.extra) == ("admin", {"purged_line_items": 0})
