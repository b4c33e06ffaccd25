"""Verify every audit hash chain; report the first broken link of each broken chain."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from core.audit import verify_chains


class Command(BaseCommand):
    help = "Check the per-tenant audit hash chains and report the first broken link."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", type=int, action="append", help="Tenant id (repeatable)")

    def handle(self, *args, tenant=None, **options):
        broken = 0
        total = 0
        for report in verify_chains(tenant):
            total += report.events
            label = f"tenant {report.tenant_id}" if report.tenant_id else "platform"
            if report.first_break is None:
                self.stdout.write(
                    f"ok      {label}: {report.events} events, head {report.head_hash[:16]}"
                )
                continue
            broken += 1
            b = report.first_break
            self.stdout.write(
                self.style.ERROR(
                    f"BROKEN  {label}: first broken link at seq {b.seq} (event id {b.event_id}): "
                    f"{b.reason}"
                )
            )
        if broken:
            raise CommandError(f"{broken} audit chain(s) broken ({total} events checked)")
        self.stdout.write(self.style.SUCCESS(f"All audit chains intact ({total} events)."))
