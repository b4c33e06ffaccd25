"""A connection's status after a successful run: ``ok``, or ``degraded`` while a service cannot be
read.

Two kinds of runs read a connection: discovery (inventory) and metrics (monitoring). Each records
the services it could not read as warnings on its ``SyncRun``. The connection is degraded while
the latest finished run of *either* kind has warnings, so that a clean metrics run does not hide
a Managed Kubernetes the inventory cannot read (and the other way round); its ``last_error``
lists them in words. Once every service is readable again, the next run of each kind clears it.
"""

from __future__ import annotations

from providers.adapters.listing import warning_text
from providers.models import Connection, SyncRun


def after_run(connection_id: int, run: SyncRun) -> tuple[str, str]:
    """(status, last_error) of the connection once ``run`` (succeeded, saved) is its latest."""
    other_kind = (
        SyncRun.Kind.METRICS if run.kind == SyncRun.Kind.DISCOVERY else SyncRun.Kind.DISCOVERY
    )
    other = (
        SyncRun.objects.filter(connection_id=connection_id, kind=other_kind)
        .exclude(status=SyncRun.Status.RUNNING)
        .order_by("-started_at", "-id")
        .values_list("warnings", flat=True)
        .first()
    )
    messages: dict[str, dict] = {}
    for warning in [*(run.warnings or []), *(other or [])]:
        messages.setdefault(warning.get("message", ""), warning)
    if not messages:
        return Connection.Status.OK, ""
    return Connection.Status.DEGRADED, warning_text(messages.values())
