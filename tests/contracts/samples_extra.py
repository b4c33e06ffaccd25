"""More SAMPLES / CREATE_PAYLOADS / SERVICE_CASES registrations (imported by samples.py).

Kept separate so engineers working on different apps can register without editing one file.
"""

from tests.contracts.samples import _connection, _sample_resource, sample, service_case


# --- providers: metrics ----------------------------------------------------------------------
@service_case("providers.services.metrics.resource_metrics_collect")
def _case_resource_metrics_collect(world):
    from providers.services.metrics import resource_metrics_collect

    # A VM on a provider without an adapter: the run fails at once, with no network involved.
    connection = _connection(world.a)
    _sample_resource(world, world.a, connection=connection)
    return (
        world.owner_a,
        world.a,
        lambda actor: resource_metrics_collect(actor=actor, connection_id=connection.pk),
    )


# --- cost data -------------------------------------------------------------------------------
def _focus_file(rows: int = 5, seed: int = 1):
    """A small conformant FOCUS 1.2 CSV in memory."""
    import io

    from providers.focus import write_focus_csv
    from tests.providers.focus.factories import conformant_rows

    text = io.StringIO()
    write_focus_csv(text, conformant_rows(rows, seed=seed))
    return io.BytesIO(text.getvalue().encode())


def _import_run(tenant, *, seed: int = 1):
    from providers.services.costs import cost_file_import

    return cost_file_import(
        actor=None,
        tenant=tenant,
        file=_focus_file(seed=seed),
        file_name=f"sample-{seed}.csv",
        source_key=f"sample-{next(_cost_seq)}",
    )


_cost_seq = iter(range(10**9))


@sample("providers.importrun")
def _sample_import_run(world, tenant):
    return _import_run(tenant, seed=next(_cost_seq))


@sample("providers.costlineitem")
def _sample_cost_line_item(world, tenant):
    from providers.models import CostLineItem

    run = _import_run(tenant, seed=next(_cost_seq))
    return CostLineItem.objects.filter(x_import_run_id=run.pk).first()


@sample("providers.costdaily")
def _sample_cost_daily(world, tenant):
    from providers.models import CostDaily

    run = _import_run(tenant, seed=next(_cost_seq))
    return CostDaily.objects.filter(tenant=tenant, day__gte=run.period_start.date()).first()


@sample("providers.costdailysummary")
def _sample_cost_daily_summary(world, tenant):
    from providers.models import CostDailySummary

    run = _import_run(tenant, seed=next(_cost_seq))
    return CostDailySummary.objects.filter(tenant=tenant, day__gte=run.period_start.date()).first()


@service_case("providers.services.costs.cost_file_import")
def _case_cost_file_import(world):
    from providers.services.costs import cost_file_import

    return (
        world.operator_a,
        world.a,
        lambda actor: cost_file_import(
            actor=actor, tenant=world.a, file=_focus_file(), file_name="case.csv"
        ),
    )
