"""``manage.py sync CONNECTION [--tenant SLUG]``: run one discovery sync in the foreground."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError
from django.db.models import QuerySet
from django.utils import timezone

from core import context
from providers.models import Connection, SyncRun
from providers.services.sync import connection_sync


class Command(BaseCommand):
    help = (
        "Sync one provider connection now, showing progress, then a summary. Exits non-zero "
        "when the run fails or another sync of the connection is running."
    )

    def add_arguments(self, parser):
        parser.add_argument("connection", help="Connection id or name")
        parser.add_argument("--tenant", help="Tenant slug (when names repeat across tenants)")

    def handle(self, *args, connection: str, tenant: str | None = None, **options):
        target = find_connection(connection, tenant)
        self.stdout.write(
            f"Syncing {target.name!r} ({target.get_provider_display()}, tenant "
            f"{target.tenant.slug}, id {target.pk})…"
        )
        self._started = time.monotonic()
        self._live = self.stdout.isatty()
        # The operator at the shell is the system acting (actor None), recorded with source "cli".
        with context.acting("cli"):
            run = connection_sync(
                connection_id=target.pk, trigger=SyncRun.Trigger.MANUAL, progress=self._progress
            )
        if self._live:
            self.stdout.write("")  # end the progress line
        if run is None:
            raise CommandError(_not_started_reason(target.pk))
        self._summary(run)
        if run.status != SyncRun.Status.SUCCEEDED:
            raise CommandError(f"sync failed: {run.error}")

    def _progress(self, run: SyncRun) -> None:
        p = run.progress
        elapsed = max(time.monotonic() - self._started, 1e-6)
        line = (
            f"  {p.get('seen', 0):>8} seen  {p.get('created', 0):>7} created  "
            f"{p.get('updated', 0):>7} updated  {p.get('unchanged', 0):>8} unchanged  "
            f"{p.get('api_calls', 0):>6} API calls  {p.get('seen', 0) / elapsed:>8,.0f}/s"
        )
        if self._live:  # one line, rewritten in place on a terminal; a line per batch in logs
            self.stdout.write("\r" + line, ending="")
            self.stdout.flush()
        else:
            self.stdout.write(line)

    def _summary(self, run: SyncRun) -> None:
        seconds = (run.duration_ms or 0) / 1000
        rate = f"{run.seen / seconds:,.0f} resources/s" if seconds else "n/a"
        self.stdout.write(
            f"Run {run.pk}: {run.status}, "
            f"{'complete listing' if run.complete else 'partial listing (unread types kept)'}"
        )
        self.stdout.write(
            f"  seen {run.seen}: created {run.created}, updated {run.updated}, "
            f"unchanged {run.unchanged}, deleted {run.deleted}"
        )
        self.stdout.write(f"  {run.api_calls} API calls in {seconds:.1f} s ({rate})")
        for warning in run.warnings:
            self.stdout.write(self.style.WARNING(f"  not read: {warning['message']}"))
        if run.status == SyncRun.Status.SUCCEEDED:
            self.stdout.write(self.style.SUCCESS("Sync succeeded."))


def find_connection(value: str, tenant: str | None) -> Connection:
    found: QuerySet = Connection.objects.select_related("tenant")
    if tenant:
        found = found.filter(tenant__slug=tenant)
    matches = list(found.filter(pk=int(value)) if value.isdigit() else found.filter(name=value))
    if value.isdigit() and not matches:  # a numeric name is still a name
        matches = list(found.filter(name=value))
    where = f" in tenant {tenant!r}" if tenant else ""
    if not matches:
        raise CommandError(f"No connection {value!r}{where}.")
    if len(matches) > 1:
        tenants = ", ".join(sorted(m.tenant.slug for m in matches))
        raise CommandError(
            f"{len(matches)} connections are named {value!r} (tenants {tenants}); "
            "add --tenant SLUG or give the id."
        )
    return matches[0]


def _not_started_reason(connection_id: int) -> str:
    connection = Connection.objects.get(pk=connection_id)
    if not connection.is_enabled:
        return f"connection {connection_id} is disabled; enable it first."
    if connection.lease_until and connection.lease_until > timezone.now():
        return (
            f"connection {connection_id} is busy: another sync is running "
            f"(its lease runs until {connection.lease_until:%Y-%m-%d %H:%M:%S %Z})."
        )
    return f"connection {connection_id} is busy: another sync was running."
