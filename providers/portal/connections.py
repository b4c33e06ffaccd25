"""The portal's Connections page: the tenant's cloud connections with their health, last syncs and
resource counts; for people who manage connections, "sync now", "verify credentials",
enable/disable and the add/edit forms.

Reads go through ``for_user`` querysets narrowed to the current tenant; every write goes through
``providers.services.connections`` (capability check, validation, audit event). API endpoint
overrides are not offered here: the services accept them from MSP operators only, who use the
admin.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from core.capabilities import Capability
from core.crypto import DecryptionError
from core.portal.tenancy import portal_can, portal_view
from providers.adapters.registry import UnsupportedProvider, provider_spec, provider_specs
from providers.models import Connection, SyncRun
from providers.portal.connection_forms import ConnectionForm, default_provider, interval_label
from providers.selectors import connection_with_resource_counts
from providers.services.connections import (
    connection_create,
    connection_request_sync,
    connection_set_enabled,
    connection_update,
    connection_verify,
)
from providers.services.sync import LEASE_TTL

RECENT_RUNS = 5
REFRESH_SECONDS = 10
# A "sync now" is shown as queued until a run starts, for at most this long (a worker may be down:
# the page must not refresh itself forever).
QUEUED_FOR = dt.timedelta(minutes=3)
# A run still marked running after this long without a live lease is shown as interrupted (its
# worker died); the next sync starts a new run.
STALE_AFTER = LEASE_TTL + dt.timedelta(minutes=5)
SESSION_REQUESTED = "portal_sync_requested"

# The portal's words for connection states: (label, badge style, what it means for the customer).
STATUS = {
    Connection.Status.PENDING: (
        gettext_lazy("Not synced yet"),
        "badge-soft",
        gettext_lazy("The first sync is queued; resources appear as soon as it finishes."),
    ),
    Connection.Status.OK: (gettext_lazy("OK"), "badge-ok", ""),
    Connection.Status.DEGRADED: (
        gettext_lazy("Degraded"),
        "badge-warn",
        gettext_lazy(
            "Some services cannot be read with these credentials; their resources are kept as "
            "last seen. Grant the roles named above (or verify to check), and the next sync "
            "reads them."
        ),
    ),
    Connection.Status.AUTH_FAILED: (
        gettext_lazy("Authentication failed"),
        "badge-danger",
        gettext_lazy(
            "The cloud refused the credentials: replace them (Edit) and verify. Scheduled syncs "
            "keep failing until then."
        ),
    ),
    Connection.Status.ERROR: (
        gettext_lazy("Error"),
        "badge-danger",
        gettext_lazy("The last sync failed; the next scheduled sync tries again."),
    ),
    Connection.Status.DISABLED: (
        gettext_lazy("Disabled"),
        "badge-muted",
        gettext_lazy("Syncs are paused. Resources stay as they were last seen."),
    ),
}
RUN_STATUS = {
    SyncRun.Status.RUNNING: (pgettext_lazy("sync run", "Running"), "badge-soft"),
    SyncRun.Status.SUCCEEDED: (gettext_lazy("Succeeded"), "badge-ok"),
    SyncRun.Status.FAILED: (gettext_lazy("Failed"), "badge-danger"),
}
RUN_KIND = {
    SyncRun.Kind.DISCOVERY: gettext_lazy("Resources"),
    SyncRun.Kind.METRICS: gettext_lazy("Metrics"),
}
RUN_TRIGGER = {
    SyncRun.Trigger.CREATED: gettext_lazy("first sync"),
    SyncRun.Trigger.SCHEDULE: gettext_lazy("scheduled"),
    SyncRun.Trigger.MANUAL: gettext_lazy("manual"),
    SyncRun.Trigger.WEBHOOK: gettext_lazy("webhook"),
}


# --- reading ----------------------------------------------------------------------------------


def tenant_connections(request):
    """The current tenant's connections with counts and their last few runs, in 3 queries."""
    runs = SyncRun.objects.for_user(request.user, "view").order_by("-started_at", "-id")
    connections = Connection.objects.for_user(request.user, "view").for_tenant(
        request.portal_tenant
    )
    return (
        connection_with_resource_counts(connections)
        # A sliced prefetch: one query, a window function keeps RECENT_RUNS per connection.
        .prefetch_related(Prefetch("sync_runs", queryset=runs[:RECENT_RUNS], to_attr="recent"))
        .order_by("name", "pk")
    )


def _duration(ms: int | None) -> str:
    if ms is None:
        return ""
    if ms < 1000:
        return _("%(n)d ms") % {"n": ms}
    seconds = ms / 1000
    if seconds < 60:
        return _("%(n).1f s") % {"n": seconds}
    minutes, rest = divmod(round(seconds), 60)
    return _("%(m)d min %(s)d s") % {"m": minutes, "s": rest}


def _ago(moment, now) -> str:
    if now - moment < dt.timedelta(minutes=1):
        return _("just now")
    return _("%(ago)s ago") % {"ago": timesince(moment, now, depth=1)}


# Yandex's scope in the words customers know (the narrowest level given wins).
YANDEX_SCOPE_WORDS = (
    ("folder_ids", gettext_lazy("Folders: %(ids)s")),
    ("cloud_ids", gettext_lazy("Clouds: %(ids)s")),
    ("organization_id", gettext_lazy("Organization: %(id)s")),
)


def _scope_text(connection: Connection) -> str:
    """The scope in words: each option set, by its declared label (Yandex's levels by name)."""
    scope = connection.scope or {}
    try:
        spec = provider_spec(connection.provider)
    except UnsupportedProvider:
        return ""
    if not spec.scope_options:
        return ""
    parts = []
    for option in spec.scope_options:
        value = scope.get(option.name)
        if value in (None, "", []):
            continue
        ids = ", ".join(value) if isinstance(value, list) else str(value)
        words = dict(YANDEX_SCOPE_WORDS).get(option.name)
        parts.append(words % {"ids": ids, "id": ids} if words else f"{option.label}: {ids}")
        if words:
            break  # folders win over clouds, clouds over the organization
    return "; ".join(parts) or _("Everything the credentials can see")


def _decorate_run(run: SyncRun, connection: Connection, now) -> None:
    run.status_label, run.badge = RUN_STATUS.get(run.status, (run.status, ""))
    run.kind_label = RUN_KIND.get(run.kind, run.kind)
    run.trigger_label = RUN_TRIGGER.get(run.trigger, run.trigger)
    run.duration_text = _duration(run.duration_ms)
    lease_alive = connection.lease_until is not None and connection.lease_until > now
    run.live = run.status == SyncRun.Status.RUNNING and (
        lease_alive or now - run.started_at < STALE_AFTER
    )
    if run.status == SyncRun.Status.RUNNING and not run.live:
        run.status_label, run.badge = _("Interrupted"), "badge-warn"
    if run.live:
        run.duration_text = _duration(int((now - run.started_at).total_seconds() * 1000))


def _note_requested(request, connection: Connection) -> None:
    """Remember that this person asked for a sync, to show it as queued until a run starts."""
    now = timezone.now()
    requested = {
        pk: at  # forget requests too old to matter, so the session does not grow
        for pk, at in request.session.get(SESSION_REQUESTED, {}).items()
        if now - dt.datetime.fromisoformat(at) < QUEUED_FOR
    }
    requested[str(connection.pk)] = now.isoformat()
    request.session[SESSION_REQUESTED] = requested


def _queued_since(request, connection: Connection, now):
    """When a sync was asked for (here, or by creating the connection) and no run started since."""
    if connection.status == Connection.Status.DISABLED:
        return None
    asked = request.session.get(SESSION_REQUESTED, {}).get(str(connection.pk))
    since = dt.datetime.fromisoformat(asked) if asked else None
    if since is None and connection.status == Connection.Status.PENDING and not connection.recent:
        since = connection.created_at  # created elsewhere (admin, API): its first sync is queued
    if since is None or now - since > QUEUED_FOR:
        return None
    # A second of slack: the run's start time is taken by the worker, the request's here.
    started = [r for r in connection.recent if r.started_at >= since - dt.timedelta(seconds=1)]
    return None if started else since


def connection_rows(request) -> list[Connection]:
    now = timezone.now()
    rows = list(tenant_connections(request))
    for c in rows:
        c.status_label, c.badge, c.status_hint = STATUS.get(c.status, (c.status, "", ""))
        c.scope_text = _scope_text(c)
        c.interval_text = interval_label(int(c.sync_interval.total_seconds()))
        c.last_sync_ago = _ago(c.last_sync_at, now) if c.last_sync_at else ""
        for run in c.recent:
            _decorate_run(run, c, now)
        c.running = next((r for r in c.recent if r.live), None)
        c.queued_since = None if c.running else _queued_since(request, c, now)
        c.busy = bool(c.running or c.queued_since)
    return rows


def _render(request, template: str, context: dict, status: int = 200):
    # Times are shown in the tenant's time zone (the one its people work in), not the server's.
    with timezone.override(zoneinfo.ZoneInfo(request.portal_tenant.time_zone)):
        return render(request, template, context, status=status)


# --- pages ------------------------------------------------------------------------------------


@portal_view
def connections(request):
    rows = connection_rows(request)
    context = {
        "connections": rows,
        "can_manage": portal_can(request, Capability.MANAGE_CONNECTIONS),
        "refresh_seconds": REFRESH_SECONDS if any(c.busy for c in rows) else None,
    }
    return _render(request, "portal/connections.html", context)


def _require_manage(request) -> None:
    if not portal_can(request, Capability.MANAGE_CONNECTIONS):
        raise PermissionDenied(_("You cannot manage the connections of this organisation."))


def _tenant_connection(request, pk: int) -> Connection:
    """A connection of the current tenant the user manages; another tenant's id is a 404."""
    queryset = Connection.objects.for_user(request.user, "view").for_tenant(request.portal_tenant)
    connection = get_object_or_404(queryset, pk=pk)
    _require_manage(request)
    return connection


def _back_to(connection: Connection):
    return redirect(f"{reverse('portal:connections')}#conn-{connection.pk}")


def _form_page(request, form: ConnectionForm, connection: Connection | None, status: int):
    context = {
        "form": form,
        "connection": connection,
        "spec": form.spec,
        "provider_label": form.spec.name,
        # Adding: every declared provider, to switch the form to another one.
        "providers": [] if connection else provider_specs(),
        # Typed secrets are not rendered back: say so, so nobody wonders where they went.
        "retype_credentials": form.is_bound and bool(form.errors) and form.typed_credentials(),
    }
    return _render(request, "portal/connection_form.html", context, status=status)


@require_http_methods(["GET", "POST"])
@portal_view
def connections_add(request):
    _require_manage(request)
    provider = request.POST.get("provider") or request.GET.get("provider") or default_provider()
    try:
        provider_spec(provider)
    except UnsupportedProvider:
        provider = default_provider()  # a stale or mistyped link: show the default form
    if request.method == "GET":
        form = ConnectionForm(tenant=request.portal_tenant, provider=provider)
        return _form_page(request, form, None, 200)
    form = ConnectionForm(
        request.POST, request.FILES, tenant=request.portal_tenant, provider=provider
    )
    if form.is_valid():
        try:
            connection = connection_create(
                actor=request.user,
                tenant=request.portal_tenant,
                provider=form.provider,
                credentials=form.cleaned_data["credentials"],
                **form.service_kwargs(),
            )
        except ValidationError as error:
            form.apply_service_error(error)
        else:
            _note_requested(request, connection)
            messages.success(
                request,
                _("%(name)s is connected. The first sync has started.") % {"name": connection.name},
            )
            return _back_to(connection)
    return _form_page(request, form, None, 400)


@require_http_methods(["GET", "POST"])
@portal_view
def connections_edit(request, pk: int):
    connection = _tenant_connection(request, pk)
    if request.method == "GET":
        form = ConnectionForm(tenant=request.portal_tenant, instance=connection)
        return _form_page(request, form, connection, 200)
    form = ConnectionForm(
        request.POST, request.FILES, tenant=request.portal_tenant, instance=connection
    )
    if form.is_valid():
        try:
            connection_update(
                actor=request.user,
                connection=connection,
                credentials=form.cleaned_data.get("credentials"),  # None keeps the stored ones
                **form.service_kwargs(),
            )
        except ValidationError as error:
            form.apply_service_error(error)
        else:
            messages.success(request, _("%(name)s is saved.") % {"name": form.cleaned_data["name"]})
            return _back_to(connection)
    return _form_page(request, form, connection, 400)


def _error_text(error: ValidationError) -> str:
    return " ".join(error.messages)


@require_POST
@portal_view
def connections_sync(request, pk: int):
    connection = _tenant_connection(request, pk)
    try:
        connection_request_sync(
            actor=request.user, connection=connection, trigger=SyncRun.Trigger.MANUAL
        )
    except ValidationError as error:
        messages.error(request, f"{connection.name}: {_error_text(error)}")
    else:
        _note_requested(request, connection)
        messages.success(
            request,
            _("%(name)s: sync queued. Its progress is shown below.") % {"name": connection.name},
        )
    return _back_to(connection)


@require_POST
@portal_view
def connections_verify(request, pk: int):
    connection = _tenant_connection(request, pk)
    try:
        ok, message = connection_verify(actor=request.user, connection=connection)
    except DecryptionError:
        # The stored secret cannot be decrypted (e.g. a retired encryption key): say what to do.
        ok, message = False, _("The stored credentials cannot be read; enter them again (Edit).")
    if ok:
        messages.success(
            request,
            _("%(name)s: the credentials work. %(message)s")
            % {"name": connection.name, "message": message},
        )
    else:
        messages.error(
            request,
            _("%(name)s: verification failed. %(message)s")
            % {"name": connection.name, "message": message},
        )
    return _back_to(connection)


@require_POST
@portal_view
def connections_enable(request, pk: int):
    connection = _tenant_connection(request, pk)
    enabled = request.POST.get("enabled") in ("1", "true", "on")
    connection_set_enabled(actor=request.user, connection=connection, enabled=enabled)
    if enabled:
        _note_requested(request, connection)
        messages.success(
            request, _("%(name)s is enabled; a sync starts now.") % {"name": connection.name}
        )
    else:
        messages.success(
            request,
            _("%(name)s is disabled; no syncs until it is enabled again.")
            % {"name": connection.name},
        )
    return _back_to(connection)
