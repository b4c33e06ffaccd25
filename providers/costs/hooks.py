"""Extension points of the cost import, for feature apps that enrich what was just loaded.

Providers must not import the apps built on top of it (allocation maps rows to business
dimensions), so those apps register here from their ``AppConfig.ready``. A hook runs inside the
import's transaction, after the rows are loaded, linked to resources and enriched, and before the
rollups are rebuilt: what it writes is committed (or rolled back) with the import, and the
rollups include it. An import never becomes visible without its hooks having run.
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
