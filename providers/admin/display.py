"""Small display helpers shared by the providers admin pages."""

from __future__ import annotations

from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext_lazy as _

from providers.models import (
    SyncRun,
)


def run_summary(run: SyncRun) -> str:
    counts = _("%(seen)s seen · +%(created)s · ~%(updated)s · =%(unchanged)s · -%(deleted)s") % {
        "seen": run.seen,
        "created": run.created,
        "updated": run.updated,
        "unchanged": run.unchanged,
        "deleted": run.deleted,
    }
    if run.status == SyncRun.Status.SUCCEEDED and not run.complete:
        counts += " " + str(_("(partial listing)"))
    if run.warnings:
        counts += " ⚠ " + "; ".join(w.get("message", "") for w in run.warnings)
    return counts


def ago(moment) -> str:
    return timesince(moment, timezone.now())
