"""Platform tasks. Every task runs under ContextTask so audit events it writes say "task"."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from django.db import transaction

from core import context

logger = logging.getLogger(__name__)


class ContextTask(Task):
    """Attributes work done in a worker to the task (source "task", request id = task id)."""

    def __call__(self, *args, **kwargs):
        with context.acting("task", request_id=self.request.id or None):
            return super().__call__(*args, **kwargs)


@shared_task(base=ContextTask, name="core.audit_chain_verify")
def audit_chain_verify_task() -> dict:
    """Daily: walk every audit chain; a broken one is itself recorded on the platform chain."""
    from core.audit import record_event, verify_chains

    checked, broken = 0, []
    for report in verify_chains():
        checked += report.events
        if report.first_break is not None:
            broken.append(
                {
                    "tenant_id": report.tenant_id,
                    "seq": report.first_break.seq,
                    "reason": report.first_break.reason,
                }
            )
    if broken:
        logger.error("audit chains broken: %s", broken)
        with transaction.atomic():
            record_event(event_type="audit.chain_broken", extra={"broken": broken})
    return {"events_checked": checked, "broken": broken}


@shared_task(base=ContextTask, name="core.replay_purge")
def replay_purge_task() -> dict:
    """Hourly: drop expired replay-protection claims (webhook signatures)."""
    from core.replay import purge_expired

    return {"purged": purge_expired()}
