"""What a rule would do before it is saved: "matches 1,234 rows, ₽56,789 last month; takes 120
rows from rule 3".

The rows of the period are read once per output the rule sets, with two CASEs: the winning rule
under the current rules (``before``) and under the rules with this one added or changed
(``after``), each returning the winner's id. Grouping by (before, after, matched, currency) gives
every figure exactly: rows the rule matches, rows it wins, rows it takes from each other rule,
rows earlier rules keep (shadowed), and, for a changed rule, rows it gives up.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from allocation.conditions import Sql
from allocation.mapping import (
    COST_CENTER,
    ENVIRONMENT,
    HIERARCHY,
    RuleSpec,
    compile_rules,
    needs_raw_keys,
    rule_specs,
)
from allocation.tags import Aliases

NEW = -1  # the id an unsaved rule has in the CASEs
OUTPUT_LABELS = {
    HIERARCHY: gettext_lazy("business unit / project / feature"),
    ENVIRONMENT: gettext_lazy("environment"),
    COST_CENTER: gettext_lazy("cost center"),
}


@dataclass
class Amount:
    rows: int = 0
    cost: dict[str, Decimal] = field(default_factory=dict)  # billing currency -> billed cost

    def add(self, rows: int, currency: str, cost: Decimal) -> None:
        self.rows += rows
        self.cost[currency] = self.cost.get(currency, Decimal(0)) + cost

    def as_dict(self) -> dict:
        return {
            "rows": self.rows,
            "cost": {c: str(v) for c, v in sorted(self.cost.items())},
        }


@dataclass
class OutputPreview:
    output: str
    label: str
    wins: Amount = field(default_factory=Amount)
    newly_assigned: Amount = field(default_factory=Amount)  # no rule had them
    kept: Amount = field(default_factory=Amount)  # the rule's saved version had them already
    taken_from: dict[int, Amount] = field(default_factory=dict)  # rule id -> rows taken
    shadowed_by: dict[int, Amount] = field(default_factory=dict)  # earlier rule -> rows it keeps
    released_to: dict[int, Amount] = field(default_factory=dict)  # changed rule: rows given up


@dataclass
class Preview:
    start: dt.datetime
    end: dt.datetime
    matches: Amount
    outputs: list[OutputPreview]
    rules: dict[int, dict]  # id -> {"name", "position"} of the rules named in the figures

    def summary(self) -> str:
        parts = [
            _("matches %(rows)s rows, %(cost)s")
            % {"rows": f"{self.matches.rows:,}", "cost": _cost_text(self.matches.cost)}
        ]
        taken: dict[int, int] = defaultdict(int)
        for output in self.outputs:
            for rule_id, amount in output.taken_from.items():
                taken[rule_id] = max(taken[rule_id], amount.rows)
        for rule_id, rows in sorted(taken.items(), key=lambda item: -item[1]):
            rule = self.rules.get(rule_id, {})
            parts.append(
                _("takes %(rows)s rows from rule %(position)s (%(name)s)")
                % {"rows": f"{rows:,}", "position": rule.get("position"), "name": rule.get("name")}
            )
        return "; ".join(parts)

    def as_dict(self) -> dict:
        def named(amounts: dict[int, Amount]) -> list[dict]:
            return [
                {"rule": rule_id, **self.rules.get(rule_id, {}), **amount.as_dict()}
                for rule_id, amount in sorted(amounts.items(), key=lambda item: -item[1].rows)
            ]

        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "matches": self.matches.as_dict(),
            "outputs": [
                {
                    "output": o.output,
                    "label": o.label,
                    "wins": o.wins.as_dict(),
                    "newly_assigned": o.newly_assigned.as_dict(),
                    "kept": o.kept.as_dict(),
                    "taken_from": named(o.taken_from),
                    "shadowed_by": named(o.shadowed_by),
                    "released_to": named(o.released_to),
                }
                for o in self.outputs
            ],
            "summary": self.summary(),
        }


def _cost_text(cost: dict[str, Decimal]) -> str:
    if not cost:
        return "0"
    return ", ".join(f"{value:,.2f} {currency}" for currency, value in sorted(cost.items()))


def last_month(tenant) -> tuple[dt.datetime, dt.datetime]:
    """The previous calendar month in the tenant's time zone, as a UTC range."""
    tz = zoneinfo.ZoneInfo(tenant.time_zone)
    first_this = timezone.now().astimezone(tz).date().replace(day=1)
    first_last = (first_this - dt.timedelta(days=1)).replace(day=1)
    return _utc(first_last, tz), _utc(first_this, tz)


def month_range(tenant, month: dt.date) -> tuple[dt.datetime, dt.datetime]:
    tz = zoneinfo.ZoneInfo(tenant.time_zone)
    first = month.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return _utc(first, tz), _utc(following, tz)


def _utc(day: dt.date, tz) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=tz).astimezone(dt.UTC)


def preview_rule(tenant, candidate: RuleSpec, *, start: dt.datetime, end: dt.datetime) -> Preview:
    """The figures for ``candidate`` (id NEW for an unsaved rule, else the saved rule's id with
    its proposed changes) over the line items with ChargePeriodStart in [start, end)."""
    current = rule_specs(tenant.pk)
    proposed = [s for s in current if s.id != candidate.id]
    proposed.insert(_index(proposed, candidate), candidate)
    aliases = Aliases.load(tenant.pk)
    raw_keys = None
    if needs_raw_keys(tenant.pk, [*current, candidate], aliases):
        raw_keys = _raw_keys(tenant.pk, start, end)
    before = compile_rules(tenant.pk, current, aliases=aliases, raw_keys=raw_keys)
    after = compile_rules(tenant.pk, proposed, aliases=aliases, raw_keys=raw_keys)
    names = {s.id: {"name": s.name, "position": s.position} for s in current}
    names[candidate.id] = {"name": candidate.name, "position": candidate.position}
    matched = after.conditions[candidate.id]
    base = Sql(
        "c.tenant_id = %s AND c.charge_period_start >= %s AND c.charge_period_start < %s",
        [tenant.pk, start, end],
    )
    matches = Amount()
    for _n, currency, rows, cost in _fetch(
        Sql(
            f"SELECT 0, c.billing_currency, count(*), coalesce(sum(c.billed_cost), 0) "
            f"FROM providers_costlineitem c WHERE {base.text} AND ({matched.text}) "
            "GROUP BY c.billing_currency",
            [*base.params, *matched.params],
        )
    ):
        matches.add(rows, currency, cost)
    outputs = []
    for group in candidate.outputs():
        was = before.winner_sql(group, numbered=False)
        now = after.winner_sql(group, numbered=False)
        output = OutputPreview(group, _output_label(group))
        sql = Sql(
            f"SELECT w.was, w.now, w.billing_currency, count(*), coalesce(sum(w.billed_cost), 0) "
            f"FROM (SELECT ({was.text}) AS was, ({now.text}) AS now, "
            f"({matched.text}) AS matched, c.billing_currency, c.billed_cost "
            f"FROM providers_costlineitem c WHERE {base.text}) w "
            "WHERE w.was = %s OR w.now = %s OR w.matched "
            "GROUP BY w.was, w.now, w.billing_currency",
            [
                *was.params,
                *now.params,
                *matched.params,
                *base.params,
                candidate.id,
                candidate.id,
            ],
        )
        for was_id, now_id, currency, rows, cost in _fetch(sql):
            _tally(output, candidate.id, was_id, now_id, rows, currency, cost)
        outputs.append(output)
    return Preview(start, end, matches, outputs, names)


def _tally(output: OutputPreview, me: int, was: int, now: int, rows, currency, cost) -> None:
    if now == me:
        output.wins.add(rows, currency, cost)
        if was == me:
            output.kept.add(rows, currency, cost)
        elif was == 0:
            output.newly_assigned.add(rows, currency, cost)
        else:
            output.taken_from.setdefault(was, Amount()).add(rows, currency, cost)
    else:
        if was == me:
            output.released_to.setdefault(now, Amount()).add(rows, currency, cost)
        if now != 0 and was != me:
            # matched, but an earlier rule keeps the row (rows only "was"-selected land above)
            output.shadowed_by.setdefault(now, Amount()).add(rows, currency, cost)


def _output_label(group: str) -> str:
    if group in OUTPUT_LABELS:
        return str(OUTPUT_LABELS[group])
    from allocation.models import VirtualTag

    key = VirtualTag.objects.filter(pk=int(group.split(":", 1)[1])).values_list("key", flat=True)
    return _("virtual tag %(key)s") % {"key": key.first() or group}


def _index(specs: list[RuleSpec], candidate: RuleSpec) -> int:
    for i, spec in enumerate(specs):
        if spec.position >= candidate.position:
            return i
    return len(specs)


def _fetch(sql: Sql) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql.text, sql.params)
        return cursor.fetchall()


def _raw_keys(tenant_id: int, start: dt.datetime, end: dt.datetime) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT jsonb_object_keys(tags) FROM providers_costlineitem "
            "WHERE tenant_id = %s AND charge_period_start >= %s AND charge_period_start < %s "
            "AND jsonb_typeof(tags) = 'object'",
            [tenant_id, start, end],
        )
        return [key for (key,) in cursor.fetchall()]
