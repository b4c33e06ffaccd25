"""FOCUS (FinOps Open Cost and Usage Specification) 1.0-1.3: read, check and write.

Pure Python, no Django. The ingestion pipeline reads files with FocusReader (normalised rows,
warnings and per-row errors), exports with write_focus_csv / write_focus_parquet, and the
focus_check management command wraps check_focus.
"""

from providers.focus.checker import CheckReport, RuleResult, check_focus
from providers.focus.issues import Issue, IssueLog, Kind
from providers.focus.reader import FocusReader, HeaderColumn
from providers.focus.row_rules import RowChecker
from providers.focus.rules import RULES
from providers.focus.spec import COLUMNS, Column, DataType, Level, columns_for, detect_version
from providers.focus.writer import FocusCsvWriter, write_focus_csv, write_focus_parquet

__all__ = [
    "COLUMNS",
    "RULES",
    "CheckReport",
    "Column",
    "DataType",
    "FocusCsvWriter",
    "FocusReader",
    "HeaderColumn",
    "Issue",
    "IssueLog",
    "Kind",
    "Level",
    "RowChecker",
    "RuleResult",
    "check_focus",
    "columns_for",
    "detect_version",
    "write_focus_csv",
    "write_focus_parquet",
]
