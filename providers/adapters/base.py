"""The contract between provider adapters and the services that persist what they find.

An adapter turns one provider account into normalized records and knows nothing of the ORM. The
sync service pages through ``discover()``, compares ``content_hash`` with what it stored last time
and writes only what changed.

Completeness is judged per listing unit (resource type x scope, see ``providers.adapters.listing``):
while it walks, an adapter records in ``self.listing`` which units it read completely, which the
credentials may not read (403) and which the provider lacks (404/UNIMPLEMENTED); those two are
skipped and the walk goes on. Any exception raised while iterating (``IncompleteListing`` or any
other ``ProviderError``) ends the walk: the units completed before it still count, the rest are
unknown. Nothing may be marked deleted unless its unit listed completely. An adapter that records
no units at all is judged as one whole listing: complete if and only if ``discover()`` returned
normally.

Metric values are ``float``: providers send IEEE doubles (Yandex ``doubleValues``), so a ``Decimal``
would only dress the same binary value up with false precision and cost ~10x more per sample on
hot paths that handle millions of points. Money never flows through here.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from providers.adapters.listing import ListingReport, ServiceInfo


class ResourceType(StrEnum):
    VM = "vm"
    DISK = "disk"
    SNAPSHOT = "snapshot"
    IMAGE = "image"
    IP_ADDRESS = "ip_address"
    BUCKET = "bucket"
    DATABASE_CLUSTER = "database_cluster"
    DATABASE_HOST = "database_host"
    K8S_CLUSTER = "k8s_cluster"
    K8S_NODE_GROUP = "k8s_node_group"
    NETWORK = "network"
    SUBNET = "subnet"
    LOAD_BALANCER = "load_balancer"
    FOLDER = "folder"
    CLOUD = "cloud"


class ResourceStatus(StrEnum):
    RUNNING = "running"
    STOPPED = "stopped"
    PROVISIONING = "provisioning"
    ERROR = "error"
    DELETING = "deleting"
    UNKNOWN = "unknown"


class PricingModel(StrEnum):
    ON_DEMAND = "on_demand"
    PREEMPTIBLE = "preemptible"
    COMMITTED = "committed"


@dataclass(frozen=True, kw_only=True)
class ResourceRecord:
    """One resource as the provider reports it, normalized across providers.

    ``specs`` holds integers only (vcpu, core_fraction, memory_bytes, storage_bytes, ...), so that
    filters and rightsizing rules can compare them without parsing. ``properties`` keeps the
    provider-specific details worth showing. ``related_ids`` maps a role (``"disks"``,
    ``"subnets"``, ``"source_disk"``) to provider ids; ``parent_provider_id`` is the one resource
    this one is attached to or part of (disk -> VM, IP -> VM, host -> cluster, node group ->
    cluster).
    """

    provider_id: str
    type: str
    name: str = ""
    region: str | None = None
    zone: str | None = None
    status: str = ResourceStatus.UNKNOWN
    raw_status: str = ""
    specs: Mapping[str, int] = field(default_factory=dict)
    pricing_model: str = PricingModel.ON_DEMAND
    labels: Mapping[str, str] = field(default_factory=dict)
    properties: Mapping[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    parent_provider_id: str | None = None
    related_ids: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    sub_account: str | None = None

    @cached_property
    def content_hash(self) -> str:
        """Hex SHA-256 (64 chars) of everything but the identity: equal content, equal hash.

        Key order in dicts and tuple-vs-list do not matter, so a re-listing that returns the same
        data in another order costs the sync service no write.
        """
        payload = [
            self.type,
            self.name,
            self.region,
            self.zone,
            str(self.status),
            self.raw_status,
            self.specs,
            str(self.pricing_model),
            self.labels,
            self.properties,
            self.created_at.isoformat() if self.created_at else None,
            self.parent_provider_id,
            self.related_ids,
            self.sub_account,
        ]
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def __hash__(self) -> int:
        # The generated hash would choke on the dict fields; identity plus content is enough.
        return hash((self.provider_id, self.content_hash))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-friendly dict (enums as strings, ``related_ids`` as lists)."""
        return {
            "provider_id": self.provider_id,
            "type": str(self.type),
            "name": self.name,
            "region": self.region,
            "zone": self.zone,
            "status": str(self.status),
            "raw_status": self.raw_status,
            "specs": dict(self.specs),
            "pricing_model": str(self.pricing_model),
            "labels": dict(self.labels),
            "properties": dict(self.properties),
            "created_at": self.created_at,
            "parent_provider_id": self.parent_provider_id,
            "related_ids": {role: list(ids) for role, ids in self.related_ids.items()},
            "sub_account": self.sub_account,
            "content_hash": self.content_hash,
        }


@dataclass(frozen=True, slots=True)
class MetricSample:
    """One point of a resource's time series; ``value`` is a float (see the module docstring)."""

    provider_id: str
    metric: str
    timestamp: datetime
    value: float


@dataclass(frozen=True, slots=True)
class MetricTarget:
    """What an adapter needs to know about a resource to fetch its metrics.

    Providers scope metric queries (Yandex needs the folder) and some metrics only make sense
    relative to the resource's shape (CPU against the guaranteed core fraction), so a bare id is not
    enough. ``ResourceRecord`` and the sync service's model both fit via ``from_record``.
    """

    provider_id: str
    type: str
    sub_account: str | None = None
    specs: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_record(cls, record: Any) -> MetricTarget:
        return cls(
            provider_id=record.provider_id,
            type=str(record.type),
            sub_account=record.sub_account,
            specs=record.specs or {},
        )


@dataclass(frozen=True, slots=True)
class MetricWindow:
    """A half-open time range [start, end) read at ``step`` resolution."""

    start: datetime
    end: datetime
    step: timedelta = timedelta(hours=1)

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("MetricWindow needs timezone-aware datetimes")
        if self.end <= self.start:
            raise ValueError("MetricWindow end must be after start")
        if self.step <= timedelta(0):
            raise ValueError("MetricWindow step must be positive")

    @classmethod
    def lookback(
        cls,
        period: timedelta,
        *,
        step: timedelta = timedelta(hours=1),
        end: datetime | None = None,
    ) -> MetricWindow:
        """The last ``period`` up to ``end`` (now by default), with ``end`` aligned down to ``step``
        so that repeated runs ask for the same grid and re-read identical points."""
        end = end or datetime.now(UTC)
        step_s = step.total_seconds()
        aligned = datetime.fromtimestamp(end.timestamp() // step_s * step_s, UTC)
        return cls(start=aligned - period, end=aligned, step=step)


@dataclass(frozen=True, slots=True)
class ServiceProbe:
    """Whether the credentials can read one service (``outcome`` as in ``ListingOutcome``)."""

    service: str
    name: str
    outcome: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """A successful credential check, in words for the operator, with the services probed."""

    message: str
    details: Mapping[str, Any] = field(default_factory=dict)
    services: tuple[ServiceProbe, ...] = ()


# --- errors -------------------------------------------------------------------------------------


class ProviderError(Exception):
    """Base of every adapter failure. ``str(exc)`` is a human message without credentials."""

    retryable = False

    def __init__(self, message: str, *, status: int | None = None, code: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code

    def annotate(self, note: str) -> ProviderError:
        """Append context to the message in place (keeps type and attributes); returns self."""
        self.message = f"{self.message} ({note})"
        self.args = (self.message,)
        return self


class ProviderAuthError(ProviderError):
    """Credentials were refused or lack a permission. Never retried.

    Only a refusal of the credentials themselves (an IAM token exchange that fails, 401) marks a
    connection ``auth_failed``; a 403 on one call is a ``ProviderPermissionDenied``."""


class ProviderPermissionDenied(ProviderAuthError):
    """403: the credentials are valid but may not do this one thing (a role is missing).

    A subclass of ``ProviderAuthError`` so that callers that do not tell the two apart keep
    treating it as refused access; discovery and metrics treat it per service instead."""


class ProviderRateLimited(ProviderError):
    """The provider kept answering 429 after every retry."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ProviderUnavailable(ProviderError):
    """5xx answers, timeouts or connection failures outlasted every retry."""

    retryable = True


class ProviderResponseError(ProviderError):
    """The provider answered something we cannot use: a 4xx, malformed JSON, an unexpected shape."""


class IncompleteListing(ProviderError):
    """The listing is known to be incomplete although no call failed (a paging loop, a scope that
    could not be resolved). Like every ``ProviderError`` raised from ``discover()``, it forbids
    marking anything deleted."""


# --- the adapter --------------------------------------------------------------------------------


class ProviderAdapter(ABC):
    """One connection's view of a provider. Subclasses implement the ``_``-prefixed hooks."""

    provider: str = ""
    # Provider services in words, with the role that reads each (keys used in listing units).
    services: Mapping[str, ServiceInfo] = {}
    # What the provider calls the unit a connection is divided into (a Yandex folder, a project).
    scope_noun: str = "folder"
    # How the last discover() or metrics() walk went, unit by unit (see providers.adapters.listing).
    listing: ListingReport | None = None

    @property
    @abstractmethod
    def api_calls(self) -> int:
        """HTTP requests sent so far, retries included (for ``SyncRun`` accounting)."""

    @abstractmethod
    def verify(self) -> VerifyResult:
        """Check the credentials with one cheap call; raise ``ProviderError`` saying what failed."""

    def discover(self) -> Iterator[ResourceRecord]:
        """Yield every resource in scope. Returns normally only after a complete listing.

        Shape errors in provider data (a missing key, a non-numeric size) surface as
        ``ProviderResponseError`` rather than as bare Python errors, so the caller always sees a
        ``ProviderError`` with a readable message.
        """
        self.listing = self._new_report()
        try:
            yield from self._discover()
        except ProviderError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ProviderResponseError(
                f"{self.provider}: unexpected data in a listing ({type(exc).__name__}: {exc})"
            ) from exc
        self.listing.finished = True

    @abstractmethod
    def _discover(self) -> Iterator[ResourceRecord]:
        """Yield records, recording each listing unit's outcome in ``self.listing``."""

    def metrics(
        self, targets: Iterable[MetricTarget | ResourceRecord], window: MetricWindow
    ) -> Iterator[MetricSample]:
        """Yield samples for the given resources over ``window``; unsupported types are skipped.

        Units are recorded as in ``discover()`` (a monitoring 403 in one scope skips that scope):
        a caller replaces stored samples only of resources whose unit completed."""
        self.listing = self._new_report()
        yield from self._metrics(targets, window)
        self.listing.finished = True

    @abstractmethod
    def _metrics(
        self, targets: Iterable[MetricTarget | ResourceRecord], window: MetricWindow
    ) -> Iterator[MetricSample]: ...

    def _new_report(self) -> ListingReport:
        from providers.adapters.listing import ListingReport

        return ListingReport(services=self.services, scope_noun=self.scope_noun)

    def costs(self, period: Any) -> Iterator[Any]:
        """FOCUS-shaped cost rows for ``period``; provided by billing adapters."""
        raise NotImplementedError(f"{self.provider or type(self).__name__} has no cost source yet")
