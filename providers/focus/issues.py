"""Structured findings (row errors, warnings, rule violations) with bounded memory.

Every finding is counted, but only the first few examples of each kind are kept, so a file with a
million bad rows costs the same memory as one with ten.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum

DEFAULT_MAX_EXAMPLES = 20
_MAX_VALUE_CHARS = 200  # a broken multi-megabyte cell must not end up in a report


class Kind(StrEnum):
    """What the reader found. Warnings are normalised and the row is kept; errors reject it."""

    # warnings
    NULL_LITERAL = "null_literal"
    EMPTY_STRING = "empty_string"
    QUOTED_NUMBER = "quoted_number"
    DATETIME_FORMAT = "datetime_format"
    NUMERIC_FORMAT = "numeric_format"
    VALUE_CASE = "value_case"
    CURRENCY_CASE = "currency_case"
    COLUMN_NAME = "column_name"
    UNPREFIXED_COLUMN = "unprefixed_column"
    TAG_KEY_SPACES = "tag_key_spaces"
    VIRTUAL_CURRENCY = "virtual_currency"
    FLOAT_VALUE = "float_value"
    # errors
    NOT_FOCUS = "not_focus"
    MISSING_COLUMN = "missing_column"
    DUPLICATE_COLUMN = "duplicate_column"
    TRUNCATED_ROW = "truncated_row"
    EXTRA_FIELDS = "extra_fields"
    MALFORMED_CSV = "malformed_csv"
    BAD_ENCODING = "bad_encoding"
    UNREADABLE_FILE = "unreadable_file"
    INVALID_DECIMAL = "invalid_decimal"
    INVALID_DATETIME = "invalid_datetime"
    INVALID_VALUE = "invalid_value"
    UNKNOWN_CURRENCY = "unknown_currency"
    INVALID_KEY_VALUE = "invalid_key_value"
    INVALID_JSON_OBJECT = "invalid_json_object"


@dataclass(frozen=True, slots=True)
class Issue:
    kind: str
    line: int | None  # physical line in a CSV (header = 1); record number + 1 in Parquet
    column: str | None  # the column name as written in the file
    value: str | None
    reason: str

    def as_dict(self) -> dict:
        return {**asdict(self), "kind": str(self.kind)}


class IssueLog:
    """Counts by kind and by (kind, column); keeps up to max_examples Issues per kind."""

    __slots__ = ("by_column", "counts", "examples", "max_examples")

    def __init__(self, max_examples: int = DEFAULT_MAX_EXAMPLES) -> None:
        self.max_examples = max_examples
        self.counts: dict[str, int] = {}
        self.by_column: dict[tuple[str, str | None], int] = {}
        self.examples: dict[str, list[Issue]] = {}

    def add(
        self,
        kind: str,
        line: int | None,
        column: str | None,
        value: object,
        reason: str,
    ) -> None:
        seen = self.counts.get(kind, 0)
        self.counts[kind] = seen + 1
        key = (kind, column)
        self.by_column[key] = self.by_column.get(key, 0) + 1
        if seen < self.max_examples:
            text = None if value is None else str(value)
            if text is not None and len(text) > _MAX_VALUE_CHARS:
                text = text[:_MAX_VALUE_CHARS] + "…"
            self.examples.setdefault(kind, []).append(Issue(kind, line, column, text, reason))

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def __bool__(self) -> bool:
        return bool(self.counts)

    def count(self, kind: str) -> int:
        return self.counts.get(kind, 0)

    def columns(self, kind: str) -> dict[str | None, int]:
        return {col: n for (k, col), n in self.by_column.items() if k == kind}

    def as_dict(self) -> dict[str, dict]:
        return {
            str(kind): {
                "count": count,
                "columns": self.columns(kind),
                "examples": [issue.as_dict() for issue in self.examples.get(kind, [])],
            }
            for kind, count in self.counts.items()
        }
