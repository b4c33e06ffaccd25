"""One pull of a cost source: list the bucket, import what is new or rewritten, record it.

- Unchanged objects (same ETag, or same time and size where a store omits ETags) are neither
  downloaded nor imported; a rejected object is retried when it changes or the policy does.
- Each object is streamed to a temporary file on disk, then imported in its own transaction:
  a pull that fails midway keeps the files it finished and the previous data of the others.
- A failed listing loads nothing and deletes nothing: it records a failed ImportRun with the
  reason and marks the source (``auth_failed`` when the keys are refused).
- Objects that vanish from the bucket keep their costs (billing history outlives lifecycle rules).

The service ``cost_source_pull`` checks the capability and holds the source's lease. One
``cost_source.pulled`` audit event is written per pull; each file import writes its own
``costs.*`` event, as uploads do.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.audit import record_event
from core.capabilities import Capability
from core.crypto import DecryptionError
from core.services.guards import require_capability
from providers.adapters.base import ProviderAuthError, ProviderError
from providers.costs import loader
from providers.costs.sources.s3 import ObjectTooLarge, S3Client, S3Object
from providers.costs.sources.yandex_export import day_from_key
from providers.focus import limits as input_limits
from providers.models import CostSource, CostSourceObject, ImportRun
from providers.services import import_runs as runs
from providers.services.cost_sources import source_credentials
from providers.services.costs import cost_file_import
from providers.services.scheduled import Lease
from providers.services.yandex_imports import DayFile, import_day

logger = logging.getLogger(__name__)

LEASE_TTL = timedelta(minutes=30)
MAX_AUDITED_RUNS = 50
FOCUS_SUFFIXES = (".csv", ".csv.gz", ".gz", ".parquet")
IMPORT_SOURCE = {
    CostSource.Kind.YANDEX_BILLING_EXPORT: ImportRun.Source.YANDEX_BILLING,
    CostSource.Kind.FOCUS_BUCKET: ImportRun.Source.FOCUS_BUCKET,
    CostSource.Kind.PROVIDER_API: ImportRun.Source.PROVIDER_API,
    CostSource.Kind.PROVIDER_FILE: ImportRun.Source.PROVIDER_FILE,
}


@dataclass
class PullResult:
    source_id: int
    status: str = "succeeded"  # succeeded | partial (some files not loaded) | failed
    listed: int = 0
    unchanged: int = 0
    imported: int = 0
    skipped: int = 0  # downloaded, but the same bytes were already loaded
    rejected: int = 0
    failed: int = 0
    api_calls: int = 0
    runs: list[int] = field(default_factory=list)
    error: str = ""

    def as_dict(self) -> dict:
        data = asdict(self)
        data["runs"] = data["runs"][:MAX_AUDITED_RUNS]
        return data


# --- lease ----------------------------------------------------------------------------------
PULL_LEASE = Lease(CostSource, LEASE_TTL)


# --- the service ----------------------------------------------------------------------------
def cost_source_pull(
    *,
    actor=None,
    source_id: int,
    trigger: str = "schedule",
    client_factory: Callable[[CostSource], S3Client] | None = None,
    adapter_factory: Callable[[object], object] | None = None,
) -> PullResult | None:
    """Pull new and rewritten files now (see the module docstring), or, for a provider cost API
    source, the days since the last pull (``providers.services.cost_api``). Returns None,
    writing nothing, when another pull of the source runs or it is disabled. ``actor`` None is
    the scheduler; a person needs manage_connections. ``adapter_factory`` (connection ->
    adapter) replaces the registry's adapter of a cost API source."""
    if actor is not None:
        tenant_id = CostSource.objects.values_list("tenant_id", flat=True).get(pk=source_id)
        require_capability(actor, Capability.MANAGE_CONNECTIONS, tenant_id, action="pull")
    with PULL_LEASE.held(source_id) as token:
        if token is None:
            logger.info("cost source %s: pull already running (or disabled), skipped", source_id)
            return None
        source = CostSource.objects.select_related("tenant", "connection").get(pk=source_id)
        pull = Pull(actor, source, token, trigger, client_factory or s3_client_for)
        if source.kind == CostSource.Kind.PROVIDER_API:
            from providers.services.cost_api import ApiPull

            return ApiPull(pull, adapter_factory).run()
        if source.kind == CostSource.Kind.PROVIDER_FILE:
            # Files come by upload; there is nothing to pull, and no schedule to keep.
            CostSource.objects.filter(pk=source.pk).update(next_pull_at=None)
            return pull._finish()
        return pull.run()


def s3_client_for(source: CostSource) -> S3Client:
    keys = source_credentials(source)
    return S3Client(
        endpoint_url=source.endpoint_url,
        region=source.region,
        access_key_id=keys.get("access_key_id", ""),
        secret_key=keys.get("secret_access_key", ""),
    )


# --- the pull -------------------------------------------------------------------------------
class Pull:
    def __init__(self, actor, source: CostSource, token: str, trigger: str, client_factory):
        self.actor, self.source, self.token, self.trigger = actor, source, token, trigger
        self.client_factory = client_factory
        self.client = None
        self.result = PullResult(source_id=source.pk)
        self.errors: list[str] = []
        self.auth_failed = False
        self.listing_failed = False

    def run(self) -> PullResult:
        source = self.source
        try:
            self.client = self.client_factory(source)
            listing = self.client.list_objects(source.bucket, source.prefix)
            wanted = [obj for obj in listing if self._wanted(obj)]
        except (ProviderError, DecryptionError) as exc:
            return self._listing_failed(exc)
        self.result.listed = len(wanted)
        known = {o.key: o for o in CostSourceObject.objects.filter(source=source)}
        index = loader.resource_index(source.tenant_id)  # once per pull, not per file
        for obj in self._ordered(wanted):
            if self._unchanged(known.get(obj.key), obj):
                self.result.unchanged += 1
                continue
            try:
                self._import(obj, index)
            except ProviderAuthError as exc:  # keys revoked mid-pull: stop, keep what loaded
                self._object_failed(obj, exc)
                self.auth_failed = True
                break
            except ProviderError as exc:
                self._object_failed(obj, exc)
            PULL_LEASE.renew(source.pk, self.token)
        return self._finish()

    # -- selection -------------------------------------------------------------------------------

    def _wanted(self, obj: S3Object) -> bool:
        start = self.source.start_date
        if self.source.kind == CostSource.Kind.YANDEX_BILLING_EXPORT:
            day = day_from_key(obj.key)
            return day is not None and (start is None or day >= start)
        name = obj.key.lower()
        if obj.key.endswith("/") or not name.endswith(FOCUS_SUFFIXES):
            return False
        return start is None or obj.last_modified.date() >= start

    def _ordered(self, objects: list[S3Object]) -> list[S3Object]:
        if self.source.kind == CostSource.Kind.FOCUS_BUCKET:
            # Oldest delivery first, so that the newest file of a month wins.
            return sorted(objects, key=lambda o: (o.last_modified, o.key))
        return sorted(objects, key=lambda o: o.key)

    def _unchanged(self, state: CostSourceObject | None, obj: S3Object) -> bool:
        if state is None:
            return False
        if obj.etag:
            same = state.etag == obj.etag
        else:  # stores that omit ETags: fall back to time and size
            same = state.last_modified == obj.last_modified and state.size == obj.size
        if state.outcome == CostSourceObject.Outcome.REJECTED:
            return same and state.policy == self.source.policy
        return same

    # -- one object ------------------------------------------------------------------------------

    def _import(self, obj: S3Object, index: dict[str, int]) -> None:
        source = self.source
        limit = input_limits.current().file_bytes
        if obj.size > limit:  # refused from the listing: not a byte downloaded
            raise ObjectTooLarge(
                f"{obj.key} has {obj.size} bytes, over the cost file limit of {limit} "
                "(setting COST_FILE_MAX_MB)"
            )
        with tempfile.TemporaryFile() as spool:  # on disk: memory does not grow with the file
            got = self.client.download(source.bucket, obj.key, spool, max_bytes=limit)
            spool.seek(0)
            if source.kind == CostSource.Kind.YANDEX_BILLING_EXPORT:
                job = DayFile(
                    tenant=source.tenant,
                    file_name=obj.key,
                    day=day_from_key(obj.key),
                    source_key=source.source_key,
                    policy=source.policy,
                    connection=source.connection,
                    resource_ids=index,
                )
                run = import_day(self.actor, job, spool)
            else:
                run = cost_file_import(
                    actor=self.actor,
                    tenant=source.tenant,
                    file=spool,
                    file_name=runs.file_name_for(obj.key),
                    source_key=source.source_key_for(obj.key),
                    policy=source.policy,
                    source=ImportRun.Source.FOCUS_BUCKET,
                    connection=source.connection,
                )
        self.result.runs.append(run.pk)
        if run.status == ImportRun.Status.SUCCEEDED:
            self.result.imported += 1
            outcome = CostSourceObject.Outcome.IMPORTED
        elif run.status == ImportRun.Status.SKIPPED:
            self.result.skipped += 1
            outcome = CostSourceObject.Outcome.IMPORTED
        else:
            self.result.rejected += 1
            self.errors.append(f"{obj.key}: {run.error}")
            outcome = CostSourceObject.Outcome.REJECTED
        # Remember the version actually downloaded (it may be newer than the listing's).
        CostSourceObject.objects.update_or_create(
            source=source,
            key=obj.key,
            defaults={
                "tenant_id": source.tenant_id,
                "etag": got.etag or obj.etag,
                "last_modified": got.last_modified or obj.last_modified,
                "size": got.size,
                "outcome": outcome,
                "policy": source.policy,
                "import_run": run,
                "pulled_at": timezone.now(),
            },
        )

    def _object_failed(self, obj: S3Object, exc: Exception) -> None:
        # Not remembered: the next pull tries the object again.
        self.result.failed += 1
        self.errors.append(f"{obj.key}: {exc}")
        self.result.runs.append(self._failed_run(obj.key, str(exc)).pk)

    def _failed_run(self, file_name: str, reason: str) -> ImportRun:
        source = self.source
        return runs.failed_run(
            tenant_id=source.tenant_id,
            source=IMPORT_SOURCE[source.kind],
            source_key=source.source_key,
            connection_id=source.connection_id,
            file_name=file_name,
            reason=reason,
        )

    # -- outcome ---------------------------------------------------------------------------------

    def _listing_failed(self, exc: Exception) -> PullResult:
        source = self.source
        self.listing_failed = True
        self.auth_failed = isinstance(exc, ProviderAuthError | DecryptionError)
        location = f"s3://{source.bucket}/{source.prefix}"
        if not source.reads_bucket:
            location = _("the cost API of %(connection)s") % {"connection": source.connection}
            reason = _("Reading %(where)s failed: %(e)s") % {"where": location, "e": exc}
        elif isinstance(exc, ProviderAuthError):
            reason = _("Object Storage refused the access key: %(e)s") % {"e": exc}
        elif isinstance(exc, DecryptionError):
            reason = _("The stored access key cannot be decrypted; enter it again.")
        else:
            reason = _("Listing %(where)s failed: %(e)s") % {"where": location, "e": exc}
        self.errors.append(reason)
        self.result.runs.append(self._failed_run(location, reason).pk)
        return self._finish()

    def _finish(self) -> PullResult:
        source, result = self.source, self.result
        result.api_calls = self.client.api_calls if self.client is not None else 0
        if self.auth_failed or self.listing_failed:
            result.status = "failed"  # the pull itself could not do its job
        elif self.errors:
            result.status = "partial"  # some files were rejected or could not be downloaded
        result.error = "; ".join(self.errors[:5])
        if self.auth_failed:
            status = CostSource.Status.AUTH_FAILED
        else:
            status = CostSource.Status.ERROR if self.errors else CostSource.Status.OK
        with transaction.atomic():
            live = CostSource.objects.filter(pk=source.pk)
            live.exclude(status=CostSource.Status.DISABLED).update(status=status)
            live.update(last_error=result.error[:2000], last_pull_at=timezone.now())
            record_event(
                event_type="cost_source.pulled",
                actor=self.actor,
                tenant=source.tenant_id,
                target=source,
                extra={"trigger": self.trigger, **result.as_dict()},
            )
        return result
