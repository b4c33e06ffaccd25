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
hot paths that handle millions of points. Money (``CostRecord``, ``BalanceRecord``) is ``Decimal``.

Beyond discovery and metrics an adapter may implement, as its provider's declaration
(``providers.adapters.spec.ProviderSpec.capabilities``) says it does:

- ``costs(period)``: FOCUS-shaped ``CostRecord``s of a period, loaded by the cost-source pull
  (``providers.services.cost_api``) through the one cost loader;
- ``balances()``: the prepaid balances of the account now (``BalanceRecord``), stored as a time
  series per connection (``providers.services.balances``);
- ``operations(since)``: the provider's operation / action log (``OperationRecord``), read
  incrementally: who created, changed, started or deleted which resource;
- ``refresh(provider_id)``: one resource as discovery would list it, or None when it is gone
  (the webhook refresh of a single resource).

The defaults raise ``NotImplementedError``; services only call what the declaration claims.
See ``providers/adapters/README.md`` for how to add a provider.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
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
    # A provider project (Selectel, VK Cloud): the scope unit, listed like folders.
    PROJECT = "project"
    # The hosting account itself with its plan (Beget): what the plan rate is charged for.
    ACCOUNT = "account"
    # Hosting: a site (document root with its domains), a registered domain (its expiry date in
    # specs["expires_on"]), a single database (not a managed cluster: database_cluster), and a
    # backup (of a site, a database or a server).
    SITE = "site"
    DOMAIN = "domain"
    DATABASE = "database"
    BACKUP = "backup"
    CONTAINER_REGISTRY = "container_registry"


class SpecKey(StrEnum):
    """Well-known ``ResourceRecord.specs`` keys, shared by every provider (numbers are ints in
    the unit the name says; dates are ISO 8601 strings)."""

    VCPU = "vcpu"
    CORE_FRACTION = "core_fraction"
    MEMORY_BYTES = "memory_bytes"
    STORAGE_BYTES = "storage_bytes"
    # A domain's registration expiry, "YYYY-MM-DD" (absent when the provider does not know it).
    EXPIRES_ON = "expires_on"


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

    ``specs`` holds sizes and shapes as integers (vcpu, core_fraction, memory_bytes,
    storage_bytes, ...; see ``SpecKey``), so that filters and rightsizing rules can compare them
    without parsing, and values that are text at the provider as strings (a plan name, a PHP
    version, an ISO date such as a domain's ``expires_on``); nothing else (no floats, no bools,
    no nesting), which ``__post_init__`` enforces. ``properties`` keeps the
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
    specs: Mapping[str, int | str] = field(default_factory=dict)
    pricing_model: str = PricingModel.ON_DEMAND
    labels: Mapping[str, str] = field(default_factory=dict)
    properties: Mapping[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    parent_provider_id: str | None = None
    related_ids: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    sub_account: str | None = None

    def __post_init__(self) -> None:
        for key, value in self.specs.items():
            if type(value) not in (int, str):  # bool is an int subclass, and refused too
                raise TypeError(
                    f"specs[{key!r}] of {self.provider_id} must be an int or a str, "
                    f"not {type(value).__name__}"
                )

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
    specs: Mapping[str, int | str] = field(default_factory=dict)

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


# --- costs, balances, operations ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CostPeriod:
    """A half-open range [start, end) of ChargePeriodStart instants (timezone-aware), whole days
    of the provider's billing time zone (``ProviderSpec.billing_time_zone``)."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("CostPeriod needs timezone-aware datetimes")
        if self.end <= self.start:
            raise ValueError("CostPeriod end must be after start")

    def __contains__(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


@dataclass(frozen=True, slots=True, kw_only=True)
class CostRecord:
    """One FOCUS-shaped charge from a provider's cost API (field names are FOCUS's in
    snake_case). ``costs(period)`` yields only records whose ``charge_period_start`` lies in the
    period; the pull replaces exactly that period of the source with them.

    ProviderName, PublisherName and InvoiceIssuerName are filled with the provider's name by the
    loader side (VAT rules are keyed by it). ``tags`` are the resource's labels; ``extensions``
    may only use the keys the adapter lists in ``ProviderAdapter.cost_extensions`` (they are
    kept in ``x_extensions``). Whether the rows are billed or estimated is the adapter's
    (``ProviderAdapter.cost_estimates``), not the row's.
    """

    charge_period_start: datetime
    charge_period_end: datetime
    billed_cost: Decimal
    billing_currency: str
    effective_cost: Decimal | None = None
    list_cost: Decimal | None = None
    contracted_cost: Decimal | None = None
    list_unit_price: Decimal | None = None
    charge_category: str = "Usage"
    charge_class: str | None = None
    charge_description: str | None = None
    charge_frequency: str | None = "Usage-Based"
    service_name: str | None = None
    service_category: str | None = None
    resource_id: str | None = None
    resource_name: str | None = None
    resource_type: str | None = None
    region_id: str | None = None
    region_name: str | None = None
    availability_zone: str | None = None
    sub_account_id: str | None = None
    sub_account_name: str | None = None
    billing_account_id: str | None = None
    billing_account_name: str | None = None
    sku_id: str | None = None
    sku_price_id: str | None = None
    pricing_quantity: Decimal | None = None
    pricing_unit: str | None = None
    consumed_quantity: Decimal | None = None
    consumed_unit: str | None = None
    tags: Mapping[str, str] | None = None
    extensions: Mapping[str, str] = field(default_factory=dict)


class BalanceKind(StrEnum):
    MAIN = "main"  # money paid in
    BONUS = "bonus"  # promotional or bonus money the provider spends too (VK Cloud, Selectel)
    CREDIT = "credit"  # a credit line or grant
    OTHER = "other"


@dataclass(frozen=True, slots=True, kw_only=True)
class BalanceRecord:
    """One prepaid balance of the account as the provider reports it now.

    ``account_id`` names the balance's holder when a connection sees several (a Yandex billing
    account, a VK Cloud project); ``days_to_block`` is the provider's own forecast of the days
    left before the account is blocked or the money runs out (Beget ``user_days_to_block``,
    Selectel's prediction), None when it gives none; ``details`` keeps what else is worth
    showing (plan, debt, the raw figures).
    """

    amount: Decimal
    currency: str
    as_of: datetime
    kind: str = BalanceKind.MAIN
    account_id: str = ""
    days_to_block: Decimal | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise TypeError("BalanceRecord.amount must be a Decimal (money is never a float)")
        if self.as_of.tzinfo is None:
            raise ValueError("BalanceRecord.as_of must be timezone-aware")


class OperationAction(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    STARTED = "started"
    STOPPED = "stopped"
    OTHER = "other"


class OperationStatus(StrEnum):
    DONE = "done"
    FAILED = "failed"
    RUNNING = "running"


@dataclass(frozen=True, slots=True, kw_only=True)
class OperationRecord:
    """One entry of the provider's operation log: who did what to which resource, and when.

    ``provider_id`` is the operation's own id (the dedup key: the same operation read twice is
    one record); ``resource_provider_id`` the resource's id as discovery reports it; ``action``
    the normalized verb and ``raw_action`` the provider's (``compute.instances.create``,
    ``os-start``); ``actor`` who did it as the provider names them (a user, a service account;
    "" when unknown).
    """

    provider_id: str
    resource_provider_id: str
    action: str
    raw_action: str
    at: datetime
    actor: str = ""
    status: str = OperationStatus.DONE
    details: Mapping[str, Any] = field(default_factory=dict)


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

    # -- optional capabilities (see the module docstring) ---------------------------------------

    # Keys ``CostRecord.extensions`` may carry (declared up front: the loader streams rows).
    cost_extensions: tuple[str, ...] = ()
    # True when costs() computes costs (inventory x prices) rather than reading what the
    # provider billed: they are stored as estimates (``x_estimated``), never summed with billed
    # costs unless a query asks for them.
    cost_estimates: bool = False

    def costs(self, period: CostPeriod) -> Iterator[CostRecord]:
        """The provider's charges whose ChargePeriodStart lies in ``period``, as ``CostRecord``s.

        Must be complete for the period when it returns normally (the pull replaces the period's
        previous rows with exactly these); raise ``ProviderError`` otherwise."""
        raise NotImplementedError(f"{self._name()} has no cost API")

    def balances(self) -> list[BalanceRecord]:
        """Every prepaid balance of the account, read now (one record per account and kind)."""
        raise NotImplementedError(f"{self._name()} reports no balance")

    def operations(self, since: datetime | None) -> Iterator[OperationRecord]:
        """Operations at or after ``since`` (None: as far back as the provider keeps), oldest
        first where the provider allows. Incremental: callers pass the time of the newest
        operation they stored and drop repeats by ``OperationRecord.provider_id``."""
        raise NotImplementedError(f"{self._name()} has no operation log")

    def refresh(self, provider_id: str) -> ResourceRecord | None:
        """One resource as ``discover()`` would yield it (same normalization, same hash), or
        None when the provider no longer has it (a 404 for that id). Other failures raise."""
        raise NotImplementedError(f"{self._name()} cannot refresh a single resource")

    def _name(self) -> str:
        return self.provider or type(self).__name__
