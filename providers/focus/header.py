"""Mapping a file's header onto FOCUS columns: exact names, forgiven spellings, custom columns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from providers.focus import spec
from providers.focus.issues import IssueLog, Kind
from providers.focus.spec import Column

# Header errors after which rows cannot be loaded as they are.
HEADER_ERRORS = (Kind.NOT_FOCUS, Kind.MISSING_COLUMN, Kind.DUPLICATE_COLUMN)


@dataclass(frozen=True, slots=True)
class HeaderColumn:
    index: int  # position in the file
    source_name: str  # as written in the file
    field: str  # key in the rows
    column: Column | None  # None for custom columns
    output_name: str  # FOCUS name, or the x_-prefixed custom name our writer would use


def plan_header(names: Sequence[str], warnings: IssueLog, errors: IssueLog) -> list[HeaderColumn]:
    """The columns rows will carry, in file order; findings go to warnings and errors (line 1).

    Returns no columns when nothing in the header is FOCUS: such a file yields no rows.
    """
    columns: list[HeaderColumn] = []
    seen: dict[str, str] = {}
    for index, raw in enumerate(names):
        name = raw.strip()
        column, exact = spec.match_column(name)
        if column is not None:
            field, output = column.field, column.name
            if not exact:
                warnings.add(Kind.COLUMN_NAME, 1, raw, raw, f"column name read as {column.name}")
        elif name.startswith("x_"):
            field, output = spec.extension_field(name), name
        else:
            field, output = spec.extension_field(name or f"Column{index + 1}"), "x_" + name
            reason = f"custom column without x_, kept as {output}"
            warnings.add(Kind.UNPREFIXED_COLUMN, 1, raw, raw, reason)
        if field in seen:
            reason = f"same column as {seen[field]!r}; ignored"
            errors.add(Kind.DUPLICATE_COLUMN, 1, raw, raw, reason)
            continue
        seen[field] = raw
        columns.append(HeaderColumn(index, raw, field, column, output))

    present = {h.column.name for h in columns if h.column}
    if not present:
        errors.add(Kind.NOT_FOCUS, 1, None, None, "no FOCUS column in the header")
        return []
    # What is mandatory depends on the version the columns show (1.3 replaced ProviderName).
    version = spec.detect_version([h.column for h in columns if h.column])
    for column in spec.mandatory_for(version):
        if column.name not in present:
            errors.add(Kind.MISSING_COLUMN, 1, column.name, None, "mandatory column missing")
    return columns
