"""Per-resource-type listing outcomes: what an adapter could read, and what that allows.

Real customers grant a service account viewer roles on some services only. The provider then
answers 403 (permission denied) for the others, or 404 / UNIMPLEMENTED where a service does not
exist in a region or private installation, while everything else answers normally. One such
answer must not cost the whole listing, and it must never make the sync mark the unreadable
resources deleted. So every adapter reports, next to the records it yields, how each *listing
unit* ended:

- a unit is (service, resource type, scope). The scope is the sub-account its records carry in
  ``ResourceRecord.sub_account`` (a Yandex folder, a Selectel or VK Cloud project), or "" for a
  listing of the whole account (clouds, folders, projects themselves);
- its outcome is ``complete`` (every page read), ``denied`` (403), ``absent`` (404 or
  UNIMPLEMENTED: the service is not there) or ``failed`` (any other error broke it off; the
  adapter re-raises that error, and the walk ends);
- the adapter also says which scopes it visited and whether it enumerated *every* scope of the
  connection (``scopes_complete``); ``ProviderAdapter.discover`` marks the report ``finished``
  when the walk reached its end.

What "complete" allows (``ListingReport.may_delete``, applied by the sync service): a stored
resource that this run did not see is marked deleted only when

1. the listing of its type in its scope (or account-wide) was complete — a denied, absent or
   failed unit keeps all its rows, and so does any unit the walk never reached; or
2. its scope was not visited at all, the walk finished and every scope was enumerated: the
   folder (project) itself is gone, or is no longer in the connection's scope.

A failure in folder N therefore keeps folder N and everything after it, while the units that
completed before it are applied in full (created, updated and deleted). Records already yielded
are always applied, whatever happens later.

An adapter that records no unit at all keeps the old, whole-listing rule: everything may be
marked deleted if and only if the walk finished.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from providers.adapters.base import ProviderAuthError, ProviderError, ProviderPermissionDenied


class ListingOutcome(StrEnum):
    COMPLETE = "complete"
    ABSENT = "absent"
    DENIED = "denied"
    FAILED = "failed"


# Worse outcomes win when several units cover one (type, scope).
_RANK = {
    ListingOutcome.COMPLETE: 0,
    ListingOutcome.ABSENT: 1,
    ListingOutcome.DENIED: 2,
    ListingOutcome.FAILED: 3,
}
_REASON = {
    ListingOutcome.DENIED: "permission denied",
    ListingOutcome.ABSENT: "not available in this installation or region",
}
# gRPC UNIMPLEMENTED, as a number (REST gateways) or a name.
_UNIMPLEMENTED = (12, "12", "UNIMPLEMENTED")


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    """A provider service in words, and the role that lets a service account read it."""

    name: str
    role: str = ""


@dataclass(frozen=True, slots=True)
class UnitProblem:
    service: str
    types: tuple[str, ...]
    scope: str
    outcome: ListingOutcome
    detail: str = ""


def outcome_of(exc: BaseException) -> ListingOutcome | None:
    """DENIED or ABSENT for errors that concern one service only; None for everything else
    (credentials refused, provider down, unreadable answers), which ends the walk."""
    if isinstance(exc, ProviderPermissionDenied):
        return ListingOutcome.DENIED
    if not isinstance(exc, ProviderError) or isinstance(exc, ProviderAuthError):
        return None
    if exc.status in (404, 501) or exc.code in _UNIMPLEMENTED:
        return ListingOutcome.ABSENT
    return None


@dataclass
class ListingReport:
    """How one ``discover()`` (or ``metrics()``) walk went, unit by unit."""

    services: Mapping[str, ServiceInfo] = field(default_factory=dict)
    scope_noun: str = "folder"
    units: dict[tuple[str, str], ListingOutcome] = field(default_factory=dict)
    problems: list[UnitProblem] = field(default_factory=list)
    scopes: set[str] = field(default_factory=set)
    scopes_complete: bool = False
    finished: bool = False

    # -- recording (adapters) --------------------------------------------------------------------

    def record(
        self,
        service: str,
        types: Iterable[str],
        scope: str,
        outcome: ListingOutcome,
        detail: str = "",
    ) -> None:
        types = tuple(str(t) for t in types)
        for type_ in types:
            key = (type_, scope)
            known = self.units.get(key)
            if known is None or _RANK[outcome] > _RANK[known]:
                self.units[key] = outcome
        if outcome != ListingOutcome.COMPLETE:
            self.problems.append(UnitProblem(service, types, scope, outcome, detail))

    def visit(self, scope: str) -> None:
        self.scopes.add(scope)

    @contextlib.contextmanager
    def unit(self, service: str, types: Iterable[str], scope: str = "") -> Iterator[None]:
        """Wrap the listing of one unit: complete if the block ends normally; a 403 or 404 is
        recorded and swallowed (the walk goes on with the next unit); any other error is
        recorded as failed and propagates."""
        types = tuple(types)
        try:
            yield
        except ProviderError as exc:
            outcome = outcome_of(exc)
            if outcome is None:
                self.record(service, types, scope, ListingOutcome.FAILED, str(exc))
                raise
            self.record(service, types, scope, outcome, str(exc))
        except Exception as exc:
            self.record(service, types, scope, ListingOutcome.FAILED, type(exc).__name__)
            raise
        else:
            self.record(service, types, scope, ListingOutcome.COMPLETE)

    # -- reading (services) ----------------------------------------------------------------------

    @property
    def per_unit(self) -> bool:
        return bool(self.units)

    @property
    def fully_complete(self) -> bool:
        """Every unit complete and every scope enumerated: a listing of the whole account."""
        if not self.per_unit:
            return self.finished
        return self.finished and self.scopes_complete and not self.problems

    def may_delete(self, type_: str, scope: str) -> bool:
        """May a stored resource of ``type_`` in ``scope`` that this walk did not see be marked
        deleted? (See the module docstring.)"""
        if not self.per_unit:
            return self.finished
        outcome = self.units.get((type_, "")) or self.units.get((type_, scope))
        if outcome is not None:
            return outcome == ListingOutcome.COMPLETE
        if scope in self.scopes:
            return False  # the scope was read, but not this type: nothing is known of it
        return self.finished and self.scopes_complete

    def type_outcomes(self) -> dict[str, str]:
        """Type -> its worst outcome over all scopes, for the run record."""
        worst: dict[str, ListingOutcome] = {}
        for (type_, _), outcome in self.units.items():
            if type_ not in worst or _RANK[outcome] > _RANK[worst[type_]]:
                worst[type_] = outcome
        return {type_: str(outcome) for type_, outcome in sorted(worst.items())}

    def warnings(self) -> list[dict]:
        """One warning per (service, outcome) that was denied or absent, in words, e.g.
        "cannot read Managed Kubernetes: permission denied — grant k8s.viewer"."""
        grouped: dict[tuple[str, ListingOutcome], list[UnitProblem]] = {}
        for problem in self.problems:
            if problem.outcome in _REASON:
                grouped.setdefault((problem.service, problem.outcome), []).append(problem)
        warnings = []
        for (service, outcome), problems in grouped.items():
            info = self.services.get(service) or ServiceInfo(service)
            scopes = sorted({p.scope for p in problems if p.scope})
            types = sorted({t for p in problems for t in p.types})
            warnings.append(
                {
                    "service": service,
                    "service_name": info.name,
                    "outcome": str(outcome),
                    "types": types,
                    "scopes": scopes,
                    "message": self._message(info, outcome, scopes),
                }
            )
        return warnings

    def _message(self, info: ServiceInfo, outcome: ListingOutcome, scopes: list[str]) -> str:
        where = ""
        if len(scopes) == 1:
            where = f" in {self.scope_noun} {scopes[0]}"
        elif scopes:
            where = f" in {len(scopes)} {self.scope_noun}s"
        hint = f" — grant {info.role}" if outcome == ListingOutcome.DENIED and info.role else ""
        return f"cannot read {info.name}{where}: {_REASON[outcome]}{hint}"


def warning_text(warnings: Iterable[Mapping]) -> str:
    """The warnings' messages as one line (a connection's ``last_error``)."""
    return "; ".join(w["message"] for w in warnings if w.get("message"))
