"""Celery tasks for allocation. Thin: they call services."""

from __future__ import annotations

from celery import shared_task

from core.tasks import ContextTask


@shared_task(base=ContextTask, name="allocation.mapping_run_execute", acks_late=True, bind=True)
def mapping_run_execute_task(self, run_id: int):
    """Re-apply a tenant's mapping rules to its cost history (a pending MappingRun)."""
    from allocation.services.runs import mapping_run_execute

    run = mapping_run_execute(run_id, task_id=self.request.id or "")
    return None if run is None else {"run": run.pk, "status": run.status}


@shared_task(base=ContextTask, name="allocation.allocation_run_execute", acks_late=True, bind=True)
def allocation_run_execute_task(self, run_id: int):
    """Recompute a tenant's shared-cost results over its history (a pending AllocationRun)."""
    from allocation.services.shared import allocation_run_execute

    run = allocation_run_execute(run_id, task_id=self.request.id or "")
    return None if run is None else {"run": run.pk, "status": run.status}
