"""The mapping engine: rules → business dimensions and virtual tags on cost line items, in SQL.

Rules are tried in ``position`` order and the first match wins, for each output separately: the
hierarchy (business unit, project, feature — one output, so a row's three ids always agree), the
environment, the cost center and each virtual tag. A rule's hierarchy target is completed from
the dimensions themselves (a feature implies its project, a project its business unit).

``apply_rules`` is one set-based statement per call: each output's rule number is one
``CASE WHEN <rule 1> THEN 1 WHEN <rule 2> THEN 2 … ELSE 0 END`` evaluated once per row (the
conditions of a rule are never evaluated twice for one output), joined to a small VALUES table of
the outputs' ids; only rows whose values change are written::

    UPDATE providers_costlineitem c
       SET x_business_unit_id = h.bu, x_project_id = h.project, …, x_virtual_tags = <json>
      FROM (VALUES (0, NULL, NULL, NULL), (1, 5, 12, NULL), …) h(n, bu, project, feature), …
     WHERE c.tenant_id = … AND c.charge_period_start >= … AND c.charge_period_start < …
       AND h.n = CASE WHEN … THEN 1 … ELSE 0 END AND …
       AND (c.x_business_unit_id, …) IS DISTINCT FROM (h.bu, …)

Mapping never changes amounts: it writes only the dimension columns and ``x_virtual_tags``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from allocation.conditions import Sql, all_of, compile_condition, referenced_tag_keys
from allocation.tags import Aliases, TagReader

TABLE = "providers_costlineitem"
HIERARCHY = "hierarchy"
ENVIRONMENT = "environment"
COST_CENTER = "cost_center"
# Output groups other than virtual tags, with the columns they write.
GROUP_COLUMNS = {
    HIERARCHY: ("x_business_unit_id", "x_project_id", "x_feature_id"),
    ENVIRONMENT: ("x_environment_id",),
    COST_CENTER: ("x_cost_center_id",),
}
DIMENSION_COLUMNS = tuple(c for columns in GROUP_COLUMNS.values() for c in columns)


@dataclass(frozen=True)
class RuleSpec:
    """One rule as the engine sees it (a saved TagRule, or an unsaved one being previewed)."""

    id: int
    name: str
    position: int
    conditions: list[dict]
    hierarchy: tuple[int | None, int | None, int | None] | None = None  # (bu, project, feature)
    environment: int | None = None
    cost_center: int | None = None
    virtual_tag: int | None = None
    virtual_tag_value: str = ""
    virtual_tag_from_key: str = ""

    def outputs(self) -> list[str]:
        found = []
        if self.hierarchy is not None:
            found.append(HIERARCHY)
        if self.environment is not None:
            found.append(ENVIRONMENT)
        if self.cost_center is not None:
            found.append(COST_CENTER)
        if self.virtual_tag is not None:
            found.append(vtag_group(self.virtual_tag))
        return found

    def value(self, group: str):
        if group == HIERARCHY:
            return self.hierarchy
        if group == ENVIRONMENT:
            return (self.environment,)
        if group == COST_CENTER:
            return (self.cost_center,)
        return (self.virtual_tag_value, self.virtual_tag_from_key)


def vtag_group(virtual_tag_id: int) -> str:
    return f"vtag:{virtual_tag_id}"


def rule_specs(tenant_id: int) -> list[RuleSpec]:
    """The tenant's enabled rules in order, hierarchy targets completed from the dimensions."""
    from allocation.models import TagRule

    rules = (
        TagRule.objects.filter(tenant_id=tenant_id, enabled=True)
        .select_related("project", "feature__project")
        .order_by("position", "id")
    )
    return [spec_for(rule) for rule in rules]


def spec_for(rule, *, rule_id: int | None = None) -> RuleSpec:
    """A RuleSpec for a TagRule instance (saved or not)."""
    feature, project, bu = rule.feature_id, rule.project_id, rule.business_unit_id
    if feature is not None and project is None:
        project = rule.feature.project_id
    if project is not None and bu is None:
        bu = (rule.feature.project if rule.project_id is None else rule.project).business_unit_id
    hierarchy = (bu, project, feature) if bu is not None else None
    return RuleSpec(
        id=rule.pk if rule_id is None else rule_id,
        name=rule.name,
        position=rule.position,
        conditions=list(rule.conditions or []),
        hierarchy=hierarchy,
        environment=rule.environment_id,
        cost_center=rule.cost_center_id,
        virtual_tag=rule.virtual_tag_id,
        virtual_tag_value=rule.virtual_tag_value,
        virtual_tag_from_key=rule.virtual_tag_from_key,
    )


def tag_keys_needing_spellings(specs: Iterable[RuleSpec]) -> set[str]:
    keys: set[str] = set()
    for spec in specs:
        keys |= referenced_tag_keys(spec.conditions)
        if spec.virtual_tag_from_key:
            keys.add(spec.virtual_tag_from_key)
    return keys


@dataclass
class CompiledRules:
    """The rules of one tenant as SQL: per output group, the CASE picking the winning rule."""

    tenant_id: int
    specs: list[RuleSpec]
    conditions: dict[int, Sql]  # rule id -> predicate
    groups: dict[str, list[RuleSpec]] = field(default_factory=dict)  # group -> rules in order
    reader: TagReader | None = None

    @property
    def virtual_tag_groups(self) -> list[str]:
        return sorted(g for g in self.groups if g.startswith("vtag:"))

    def winner_sql(self, group: str, *, numbered: bool = True) -> Sql:
        """CASE returning the winning rule's 1-based number in the group (or its id), 0 if none."""
        rules = self.groups.get(group, [])
        if not rules:
            return Sql("0")
        whens, params = [], []
        for n, spec in enumerate(rules, start=1):
            condition = self.group_condition(group, spec)
            whens.append(f"WHEN {condition.text} THEN {n if numbered else int(spec.id)}")
            params += condition.params
        return Sql(f"CASE {' '.join(whens)} ELSE 0 END", params)

    def group_condition(self, group: str, spec: RuleSpec) -> Sql:
        """When ``spec`` claims a row for ``group``: its conditions, and for a virtual tag
        copied from a tag key, that the row has the key."""
        condition = self.conditions[spec.id]
        if group.startswith("vtag:") and spec.virtual_tag_from_key:
            value = self.reader.value_of(spec.virtual_tag_from_key)
            return Sql(
                f"({condition.text}) AND {value.text} IS NOT NULL",
                [*condition.params, *value.params],
            )
        return condition


def compile_rules(
    tenant_id: int,
    specs: Sequence[RuleSpec],
    *,
    aliases: Aliases | None = None,
    raw_keys: Iterable[str] | None = None,
) -> CompiledRules:
    """``raw_keys``: the tag keys present in the rows (see ``needs_raw_keys``)."""
    aliases = aliases if aliases is not None else Aliases.load(tenant_id)
    reader = TagReader(aliases, raw_keys)
    conditions = {
        spec.id: all_of(
            [compile_condition(c, reader, tenant_id=tenant_id) for c in spec.conditions]
        )
        for spec in specs
    }
    groups: dict[str, list[RuleSpec]] = {}
    for spec in specs:
        for group in spec.outputs():
            groups.setdefault(group, []).append(spec)
    return CompiledRules(tenant_id, list(specs), conditions, groups, reader)


def needs_raw_keys(tenant_id: int, specs: Sequence[RuleSpec], aliases: Aliases) -> bool:
    return TagReader(aliases).needs_raw_keys(tag_keys_needing_spellings(specs))


@dataclass
class ApplyResult:
    rows_changed: int = 0
    first: dt.datetime | None = None  # ChargePeriodStart of the earliest and latest changed rows
    last: dt.datetime | None = None


def apply_rules(
    cursor,
    rules: CompiledRules,
    *,
    start: dt.datetime,
    end: dt.datetime,
    import_run_id: int | None = None,
) -> ApplyResult:
    """Map the tenant's line items with ChargePeriodStart in [start, end) (only those of
    ``import_run_id`` if given) in one UPDATE; returns how many rows changed and their span.

    Rows no rule matches get NULLs. Runs on ``cursor`` inside the caller's transaction."""
    statement = update_sql(rules, start=start, end=end, import_run_id=import_run_id)
    cursor.execute(statement.text, statement.params)
    count, first, last = cursor.fetchone()
    return ApplyResult(count, first, last)


def update_sql(
    rules: CompiledRules,
    *,
    start: dt.datetime,
    end: dt.datetime,
    import_run_id: int | None = None,
) -> Sql:
    sets: list[str] = []
    joins: list[str] = []
    join_params: list = []
    where: list[str] = []
    where_params: list = []
    new_values: list[str] = []
    for group, columns in GROUP_COLUMNS.items():
        specs = rules.groups.get(group, [])
        if not specs:
            sets += [f"{column} = NULL" for column in columns]
            new_values += ["NULL::bigint"] * len(columns)
            continue
        alias = f"o_{group}"
        names = [f"v{i}" for i in range(len(columns))]
        rows = [f"(0{', NULL::bigint' * len(columns)})"]
        for n, spec in enumerate(specs, start=1):
            rows.append("(" + ", ".join([str(n), *(_bigint(v) for v in spec.value(group))]) + ")")
        joins.append(f"(VALUES {', '.join(rows)}) AS {alias}(n, {', '.join(names)})")
        winner = rules.winner_sql(group)
        where.append(f"{alias}.n = ({winner.text})")
        where_params += winner.params
        sets += [f"{column} = {alias}.{name}" for column, name in zip(columns, names, strict=True)]
        new_values += [f"{alias}.{name}" for name in names]
    tags_value = virtual_tags_sql(rules)
    sets.append(f"x_virtual_tags = {tags_value.text}")
    current = ", ".join(f"c.{column}" for column in (*DIMENSION_COLUMNS, "x_virtual_tags"))
    scope = ["c.tenant_id = %s", "c.charge_period_start >= %s", "c.charge_period_start < %s"]
    scope_params: list = [rules.tenant_id, start, end]
    if import_run_id is not None:
        scope.append("c.x_import_run_id = %s")
        scope_params.append(import_run_id)
    text = (
        f"WITH changed AS (UPDATE {TABLE} AS c SET {', '.join(sets)} "
        + (f"FROM {', '.join(joins)} " if joins else "")
        + f"WHERE {' AND '.join([*scope, *where])} "
        + f"AND ({current}) IS DISTINCT FROM ({', '.join([*new_values, tags_value.text])}) "
        + "RETURNING c.charge_period_start) "
        + "SELECT count(*), min(charge_period_start), max(charge_period_start) FROM changed"
    )
    params = [*tags_value.params, *join_params, *scope_params, *where_params, *tags_value.params]
    return Sql(text, params)


def virtual_tags_sql(rules: CompiledRules, alias: str = "c") -> Sql:
    """The ``x_virtual_tags`` object of a row: {"<virtual tag id>": value}, NULL if empty."""
    parts: list[Sql] = []
    for group in rules.virtual_tag_groups:
        whens: list[Sql] = []
        for spec in rules.groups[group]:
            condition = rules.conditions[spec.id]
            if spec.virtual_tag_from_key:
                value = rules.reader.value_of(spec.virtual_tag_from_key, alias)
                # A rule copying a tag that the row lacks does not match: later rules may.
                whens.append(
                    Sql(
                        f"WHEN ({condition.text}) AND {value.text} IS NOT NULL THEN {value.text}",
                        [*condition.params, *value.params, *value.params],
                    )
                )
            else:
                whens.append(
                    Sql(
                        f"WHEN {condition.text} THEN %s::text",
                        [*condition.params, spec.virtual_tag_value],
                    )
                )
        parts.append(
            Sql(
                f"%s::text, CASE {' '.join(w.text for w in whens)} END",
                [group.split(":", 1)[1], *(p for w in whens for p in w.params)],
            )
        )
    if not parts:
        return Sql("NULL::jsonb")
    return Sql(
        "nullif(jsonb_strip_nulls(jsonb_build_object("
        + ", ".join(p.text for p in parts)
        + ")), '{}'::jsonb)",
        [x for p in parts for x in p.params],
    )


def _bigint(value) -> str:
    return "NULL::bigint" if value is None else f"{int(value)}::bigint"
