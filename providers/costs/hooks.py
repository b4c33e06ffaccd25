"""Extension points of the cost import and reports, for feature apps built on top of providers.

Providers must not import the apps built on top of it (allocation maps rows to business
dimensions), so those apps register here from their ``AppConfig.ready``. A hook runs inside the
import's transaction, after the rows are loaded, linked to resources and enriched, and before the
rollups are rebuilt: what it writes is committed (or rolled back) with the import, and the
rollups include it. An import never becomes visible without its hooks having run.

``register_dimension_names`` lets the app that owns the business dimensions tell the cost query
and the FOCUS export the names of the ids stored in the line items' ``x_*_id`` columns.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LoadedRows:
    """The rows one import just loaded: ``import_run_id``'s rows within [start, end)."""

    tenant_id: int
    import_run_id: int
    start: dt.datetime
    end: dt.datetime


AfterRowsLoaded = Callable[[object, LoadedRows], None]  # (database cursor, rows)
_after_rows_loaded: list[AfterRowsLoaded] = []


def register_after_rows_loaded(hook: AfterRowsLoaded) -> AfterRowsLoaded:
    """Register ``hook(cursor, rows)``; usable as a decorator. Registering twice is a no-op."""
    if hook not in _after_rows_loaded:
        _after_rows_loaded.append(hook)
    return hook


def after_rows_loaded(cursor, rows: LoadedRows) -> None:
    for hook in _after_rows_loaded:
        hook(cursor, rows)


# --- after the rollups ------------------------------------------------------------------------
# (tenant id, tenant time zone, first local day, last local day): runs in the import's
# transaction once the rollups of those days are rebuilt (shared-cost allocation reads them).
AfterRollups = Callable[[int, str, dt.date, dt.date], None]
_after_rollups: list[AfterRollups] = []


def register_after_rollups(hook: AfterRollups) -> AfterRollups:
    if hook not in _after_rollups:
        _after_rollups.append(hook)
    return hook


def after_rollups(tenant_id: int, time_zone: str, first_day: dt.date, last_day: dt.date) -> None:
    for hook in _after_rollups:
        hook(tenant_id, time_zone, first_day, last_day)


# --- shared-cost results ---------------------------------------------------------------------
# The app that allocates shared costs names the relation of its daily results (rows shaped like
# the daily summary, summing to zero per day and currency); the cost query adds them on request.
_allocated_costs: list[str] = []


def register_allocated_costs(relation: str) -> None:
    if relation not in _allocated_costs:
        _allocated_costs.append(relation)


def allocated_costs() -> str | None:
    return _allocated_costs[0] if _allocated_costs else None


# The same app's split of line items into shares, for FOCUS 1.3 split cost allocation:
# (tenant id, start, end) -> (SQL, params) of rows (line_id, rule_id, method, dimension,
# target_id, ratio, basis), or None.
SplitAllocations = Callable[[int, dt.datetime, dt.datetime], tuple[str, list] | None]
_split_allocations: list[SplitAllocations] = []


def register_split_allocations(provider: SplitAllocations) -> None:
    if provider not in _split_allocations:
        _split_allocations.append(provider)


def split_allocations(tenant_id: int, start: dt.datetime, end: dt.datetime):
    for provider in _split_allocations:
        found = provider(tenant_id, start, end)
        if found is not None:
            return found
    return None


# --- names of allocation values -------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DimensionNames:
    """What the cost query and the FOCUS export show instead of stored ids: ``values`` maps a
    dimension ("project", ...) to {id: name}; ``virtual_tags`` maps a virtual tag's id (as
    stored in ``x_virtual_tags``) to its key."""

    values: dict[str, dict[int, str]]
    virtual_tags: dict[str, str]


NamesResolver = Callable[[int], DimensionNames]  # (tenant id) -> names
_names: list[NamesResolver] = []


def register_dimension_names(resolver: NamesResolver) -> NamesResolver:
    """Register the resolver of a tenant's dimension and virtual-tag names (one app owns them)."""
    if resolver not in _names:
        _names.append(resolver)
    return resolver


def dimension_names(tenant_id: int) -> DimensionNames:
    values: dict[str, dict[int, str]] = {}
    virtual_tags: dict[str, str] = {}
    for resolver in _names:
        found = resolver(tenant_id)
        for dimension, names in found.values.items():
            values.setdefault(dimension, {}).update(names)
        virtual_tags.update(found.virtual_tags)
    return DimensionNames(values, virtual_tags)
