"""Reads of the providers app used in more than one place (admin, portal, API, services).

Connections are listed with their live and deleted resource counts in the admin and the portal:
``connection_with_resource_counts`` annotates any connection queryset (already scoped by the
caller) with one correlated count per displayed row, evaluated after LIMIT, never a GROUP BY
over every resource in scope.

Two questions sound alike and are answered differently, so each has its own function:

- ``import_run_loaded_content``: were these exact bytes ever loaded for this source? A FOCUS file
  replaces whole months of its source, so loading identical content again would change nothing
  (uploads, bucket files in FOCUS mode).
- ``import_run_unchanged_file``: is this file unchanged since its latest load? A Yandex daily
  file replaces its day; a day rewritten X -> Y -> X must load X again, so only the latest load
  of the same file name counts.
"""

from __future__ import annotations

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from providers.models import ImportRun, Resource


def _resource_count(**filters):
    counts = (
        Resource.objects.filter(connection=OuterRef("pk"), **filters)
        .order_by()
        .values("connection")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counts, output_field=IntegerField()), 0)


def connection_with_resource_counts(connections: QuerySet) -> QuerySet:
    """``connections`` with ``live_count`` and ``deleted_count`` (resources marked deleted)."""
    return connections.annotate(
        live_count=_resource_count(deleted_at__isnull=True),
        deleted_count=_resource_count(deleted_at__isnull=False),
    )


def _successful_loads(run: ImportRun):
    return (
        ImportRun.objects.filter(
            tenant_id=run.tenant_id,
            source_key=run.source_key,
            status=ImportRun.Status.SUCCEEDED,
        )
        .exclude(pk=run.pk)
        .order_by("-finished_at", "-id")
    )


def import_run_loaded_content(run: ImportRun) -> ImportRun | None:
    """The latest successful import of the same bytes for the run's source, if any."""
    return _successful_loads(run).filter(file_sha256=run.file_sha256).first()


def import_run_unchanged_file(run: ImportRun) -> ImportRun | None:
    """The latest successful import of the same file for the run's source, if it had the same
    bytes (a later load of other bytes means the file changed since)."""
    latest = _successful_loads(run).filter(file_name=run.file_name).first()
    return latest if latest is not None and latest.file_sha256 == run.file_sha256 else None
