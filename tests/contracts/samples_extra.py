"""More SAMPLES / CREATE_PAYLOADS / SERVICE_CASES registrations (imported by samples.py).

Kept separate so engineers working on different apps can register without editing one file.
"""

from tests.contracts.samples import _connection, _sample_resource, service_case


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
