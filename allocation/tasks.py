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


@shared_task(base=ContextTask, name="allocation.business_metric_pull", acks_late=True)
def business_metric_pull_task(metric_id: int):
    """Pull one metric's HTTP endpoint (a failure is recorded on the metric, not raised)."""
    from django.core.exceptions import ValidationError

    from allocation.models import BusinessMetric
    from allocation.services.metrics import business_metric_pull

    metric = BusinessMetric.objects.filter(pk=metric_id, enabled=True).first()
    if metric is None or not metric.pull_url:
        return None
    try:
        result = business_metric_pull(actor=None, metric=metric)
    except ValidationError as exc:
        return {"metric": metric_id, "status": "failed", "error": exc.messages[0][:200]}
    return {"metric": metric_id, "status": "succeeded", **result.as_dict()}


@shared_task(base=ContextTask, name="allocation.business_metrics_pull_due")
def business_metrics_pull_due_task():
    """Queue a pull for every metric whose interval has passed (run by celery beat)."""
    from allocation.services.metrics import due_metric_ids

    ids = due_metric_ids()
    for metric_id in ids:
        business_metric_pull_task.delay(metric_id)
    return {"queued": len(ids)}


@shared_task(base=ContextTask, name="allocation.invoices_monthly")
def invoices_monthly_task():
    """Issue and e-mail last month's invoice of every client whose price book says so."""
    from allocation.services.billing import invoices_monthly_run

    return invoices_monthly_run()
