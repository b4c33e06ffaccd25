"""Our own FOCUS conformance checker.

It reads the file with FocusReader, so everything the reader repairs or rejects is reported under
the conformance rule it breaks, then applies the header, row and file rules of rules.RULES. Each
rule's findings are counted in full; only the first examples are kept.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from providers.focus.issues import DEFAULT_MAX_EXAMPLES, Issue, IssueLog
from providers.focus.reader import FocusReader, Source
from providers.focus.row_rules import RowChecker
from providers.focus.rules import DEFAULT_TOLERANCE, RULE_FOR_KIND, RULES, Rule, Severity
from providers.focus.spec import canonical_version, version_key

# Rules every file is checked against, whatever columns it has.
_ALWAYS_CHECKED = (
    "FileStructure",
    "ColumnPresence",
    "DuplicateColumn",
    "ColumnNames",
    "CustomColumnPrefix",
    "CustomColumnOrder",
    "NullHandling",
    "DateTimeType",
    "DateTimeFormat",
    "DecimalType",
    "NumericFormat",
    "AllowedValues",
    "CurrencyFormat",
    "KeyValueFormat",
    "JsonObjectFormat",
    "NotNull",
)


@dataclass(frozen=True, slots=True)
class RuleResult:
    rule: Rule
    severity: str  # "error" or "warning" once --strict and the file's version are applied
    count: int
    columns: dict[str | None, int]
    examples: tuple[Issue, ...]
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule.id,
            "description": self.rule.description,
            "severity": self.severity,
            "since": self.rule.since,
            "count": self.count,
            "columns": self.columns,
            "examples": [example.as_dict() for example in self.examples],
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class CheckReport:
    source: str
    version: str
    strict: bool
    rows_read: int
    rows_rejected: int
    results: tuple[RuleResult, ...]
    rules_checked: tuple[str, ...] = field(default=())

    @property
    def errors(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.results if r.severity == Severity.ERROR)

    @property
    def warnings(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.results if r.severity == Severity.WARNING)

    @property
    def passed(self) -> bool:
        return not self.errors

    def result(self, rule_id: str) -> RuleResult | None:
        return next((r for r in self.results if r.rule.id == rule_id), None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "version": self.version,
            "strict": self.strict,
            "passed": self.passed,
            "rows_read": self.rows_read,
            "rows_rejected": self.rows_rejected,
            "rules_checked": list(self.rules_checked),
            "results": [r.as_dict() for r in self.results],
        }

    def format_text(self) -> str:
        mode = "strict" if self.strict else "default mode; --strict also fails format warnings"
        lines = [
            f"FOCUS check of {self.source}: FOCUS {self.version}, {mode}",
            f"rows: {self.rows_read} read, {self.rows_rejected} rejected",
            f"rules: {len(self.rules_checked)} checked, {len(self.errors)} failed, "
            f"{len(self.warnings)} with warnings",
        ]
        for result in self.results:
            lines.append("")
            lines.append(
                f"{result.severity.upper():7} {result.rule.id}: {result.count} finding(s). "
                f"{result.rule.description}."
            )
            if result.note:
                lines.append(f"        ({result.note})")
            columns = ", ".join(
                f"{column}: {count}" for column, count in result.columns.items() if column
            )
            if columns:
                lines.append(f"        columns: {columns}")
            for example in result.examples:
                where = f"line {example.line}" if example.line is not None else "file"
                column = f" {example.column}" if example.column else ""
                value = "" if example.value is None else f"={example.value!r}"
                lines.append(f"        {where}{column}{value}: {example.reason}")
        lines.append("")
        lines.append("PASS" if self.passed else "FAIL")
        return "\n".join(lines)


def check_focus(
    source: Source,
    *,
    strict: bool = False,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
    version: str | None = None,
    tolerance: Decimal = DEFAULT_TOLERANCE,
) -> CheckReport:
    """Check a FOCUS CSV, CSV.gz or Parquet file. version defaults to the one its columns show."""
    findings = IssueLog(max_examples)
    with FocusReader(source, max_examples=max_examples, inspect_quoting=True) as reader:
        target = canonical_version(version) if version else reader.version
        _check_column_order(reader, findings)
        row_checker = RowChecker(reader.fields, tolerance=tolerance)
        required = [
            (h.field, h.output_name) for h in reader.columns if h.column and not h.column.nullable
        ]
        for row in reader:
            line = reader.line
            for name, column in required:
                if row[name] is None:
                    findings.add("NotNull", line, column, None, "MUST NOT be null")
            row_checker.check(row, line, findings)
        row_checker.finish(findings)
        results = _results(reader, findings, strict=strict, version=target, cap=max_examples)
        return CheckReport(
            source=_describe(source),
            version=target,
            strict=strict,
            rows_read=reader.rows_read,
            rows_rejected=reader.rows_rejected,
            results=results,
            rules_checked=tuple(dict.fromkeys((*_ALWAYS_CHECKED, *row_checker.rule_ids))),
        )


def _check_column_order(reader: FocusReader, findings: IssueLog) -> None:
    first_custom = None
    for header in sorted(reader.columns, key=lambda h: h.index):
        if header.column is None:
            first_custom = first_custom or header.source_name
        elif first_custom is not None:
            reason = f"FOCUS column after custom column {first_custom!r}"
            findings.add("CustomColumnOrder", 1, header.source_name, None, reason)


def _results(
    reader: FocusReader, findings: IssueLog, *, strict: bool, version: str, cap: int
) -> tuple[RuleResult, ...]:
    counts: Counter[str] = Counter()
    columns: dict[str, Counter[str | None]] = {}
    examples: dict[str, list[Issue]] = {}
    for log, rule_of in (
        (reader.errors, RULE_FOR_KIND.__getitem__),
        (reader.warnings, RULE_FOR_KIND.__getitem__),
        (findings, str),
    ):
        for kind, count in log.counts.items():
            rule_id = rule_of(kind)
            counts[rule_id] += count
            columns.setdefault(rule_id, Counter()).update(log.columns(kind))
            examples.setdefault(rule_id, []).extend(log.examples.get(kind, ()))

    results = []
    for rule_id in RULES:  # catalogue order: header, formats, then row semantics
        if not counts[rule_id]:
            continue
        rule = RULES[rule_id]
        severity, note = _effective_severity(rule, strict=strict, version=version)
        shown = sorted(examples[rule_id], key=lambda issue: issue.line or 0)[:cap]
        results.append(
            RuleResult(rule, severity, counts[rule_id], dict(columns[rule_id]), tuple(shown), note)
        )
    results.sort(key=lambda r: r.severity != Severity.ERROR)  # stable: errors first
    return tuple(results)


def _effective_severity(rule: Rule, *, strict: bool, version: str) -> tuple[str, str]:
    if version_key(rule.since) > version_key(version):
        return Severity.WARNING, f"required from FOCUS {rule.since}; this file is FOCUS {version}"
    if rule.severity is Severity.STRICT:
        if strict:
            return Severity.ERROR, ""
        return Severity.WARNING, "repaired on import; an error with --strict"
    return rule.severity, ""


def _describe(source: Source) -> str:
    if isinstance(source, str | os.PathLike):
        return os.fspath(source)
    return str(getattr(source, "name", "<stream>"))
