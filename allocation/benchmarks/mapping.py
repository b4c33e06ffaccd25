"""Mapping rules over line items: ``allocation.mapping.apply_rules`` against a hand-written UPDATE.

Seeds N line items (default 1,000,000) in one month and R mapping rules (default 100: services,
folders, tags with aliases, resource-name regexes; hierarchy, environment and virtual tag outputs),
then times, on the same rows:

- ``apply``: our engine on rows fresh from an import (all dimensions NULL), one UPDATE;
- ``baseline``: the same mapping written by hand as one ``UPDATE … SET col = CASE … END`` per
  column (dimensions reset to NULL first, as for ``apply``);
- ``reapply``: our engine again with the rules unchanged (nothing to write);
- ``rollups``: rebuilding the month's rollups, which a rule change also does.

Both mappings must agree row for row. ``ratio`` = apply / baseline.
"""

from __future__ import annotations

import datetime as dt
import random
import time

from django.db import connection, transaction

from allocation.mapping import (
    RuleSpec,
    apply_rules,
    compile_rules,
    vtag_group,
)
from allocation.tags import Aliases
from core.models import Tenant
from providers.costs import rollups
from providers.models import ImportRun
from providers.partitions import ensure_monthly_partitions

TABLE = "providers_costlineitem"
MONTH = dt.date(2026, 1, 1)
SERVICES = [f"Service {n:02d}" for n in range(40)]
FOLDERS = [f"folder-{n:02d}" for n in range(30)]
TEAMS = ["core", "data", "web", "ml", "billing", "infra", "search", "ads"]
ENVS = ["prod", "Production", "staging", "dev", "PROD"]


def add_arguments(parser):
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rules", type=int, default=100)


def run(report, *, rows: int, rules: int, **_):
    rng = random.Random(7)  # noqa: S311 (deterministic test data)
    tenant = Tenant.objects.create(name="Bench", slug="bench-mapping", time_zone="UTC")
    report(f"  seeding {rows:,} line items…")
    started = time.perf_counter()
    _seed(tenant, rows)
    report(f"    done in {time.perf_counter() - started:.1f}s")
    specs, ids = _rules(tenant, rules, rng)
    start = dt.datetime(MONTH.year, MONTH.month, 1, tzinfo=dt.UTC)
    end = dt.datetime(MONTH.year, MONTH.month + 1, 1, tzinfo=dt.UTC)

    def ours() -> tuple[float, int]:
        with transaction.atomic(), connection.cursor() as cursor:
            began = time.perf_counter()
            compiled = compile_rules(
                tenant.pk,
                specs,
                aliases=Aliases.load(tenant.pk),
                raw_keys=["env", "Env", "environment", "team"],
            )
            result = apply_rules(cursor, compiled, start=start, end=end)
            return time.perf_counter() - began, result.rows_changed

    _reset(tenant)
    apply_s, changed = ours()
    report(f"  apply: {changed:,} rows mapped in {apply_s:.2f}s ({rows / apply_s:,.0f} rows/s)")
    mapped = _snapshot(tenant)
    reapply_s, unchanged = ours()
    report(f"  reapply (rules unchanged): {unchanged:,} rows written in {reapply_s:.2f}s")
    _reset(tenant)
    baseline_s = _baseline(tenant, specs, ids, start, end)
    report(f"  baseline (hand-written UPDATE … CASE): {baseline_s:.2f}s")
    same = _snapshot(tenant) == mapped
    report(f"  same mapping as the baseline: {same}")
    began = time.perf_counter()
    with transaction.atomic():
        rollups.refresh(
            tenant_id=tenant.pk, time_zone="UTC", first_day=MONTH, last_day=MONTH.replace(day=31)
        )
    rollups_s = time.perf_counter() - began
    report(f"  rollups of the month: {rollups_s:.2f}s")
    return {
        "rows": rows,
        "rules": rules,
        "seconds": round(apply_s, 3),
        "rows_per_s": round(rows / apply_s),
        "baseline_seconds": round(baseline_s, 3),
        "ratio": round(apply_s / baseline_s, 3),
        "reapply_seconds": round(reapply_s, 3),
        "rollups_seconds": round(rollups_s, 3),
        "rows_mapped": changed,
        "same_as_baseline": same,
    }


def _seed(tenant: Tenant, count: int) -> None:
    ensure_monthly_partitions(TABLE, [MONTH])
    run_ = ImportRun.objects.create(
        tenant=tenant, source=ImportRun.Source.FOCUS_FILE, source_key="bench", status="succeeded"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {TABLE} (tenant_id, x_import_run_id, x_source_key, billing_currency,
                provider_name, charge_period_start, charge_period_end, charge_category,
                service_name, sub_account_id, sub_account_name, region_id, resource_id,
                resource_name, tags, billed_cost)
            SELECT %(tenant)s, %(run)s, 'bench', 'RUB', 'Yandex Cloud', ts, ts + interval '1 hour',
                   'Usage', (%(services)s::text[])[1 + g %% 40], 'b1g' || (g %% 30),
                   (%(folders)s::text[])[1 + g %% 30], 'ru-central1-' || (g %% 3),
                   'res-' || (g %% 50000),
                   'vm-' || (%(teams)s::text[])[1 + g %% 8] || '-' || g %% 997,
                   CASE g %% 5
                     WHEN 0 THEN NULL
                     WHEN 1 THEN jsonb_build_object('team', (%(teams)s::text[])[1 + g %% 8])
                     WHEN 2 THEN jsonb_build_object('Env', (%(envs)s::text[])[1 + g %% 5],
                                                    'team', (%(teams)s::text[])[1 + g %% 7])
                     WHEN 3 THEN jsonb_build_object('environment', (%(envs)s::text[])[1 + g %% 5])
                     ELSE jsonb_build_object('env', (%(envs)s::text[])[1 + g %% 5], 'app', 'x')
                   END,
                   ((g * 2654435761) %% 100003)::numeric / 1000
              FROM (SELECT g, %(start)s::timestamptz + (g %% 744) * interval '1 hour' AS ts
                      FROM generate_series(1, %(count)s) AS g) s
            """,
            {
                "tenant": tenant.pk,
                "run": run_.pk,
                "services": SERVICES,
                "folders": FOLDERS,
                "teams": TEAMS,
                "envs": ENVS,
                "start": dt.datetime(MONTH.year, MONTH.month, 1, tzinfo=dt.UTC),
                "count": count,
            },
        )
        cursor.execute(f"ANALYZE {TABLE}")


def _rules(tenant: Tenant, count: int, rng: random.Random):
    """RuleSpecs (ids 1..count) with real dimension rows, and {rule id: (bu, project, env)}."""
    from allocation.models import BusinessUnit, Environment, Project, TagAlias, VirtualTag

    bus = [BusinessUnit.objects.create(tenant=tenant, name=f"BU {n}") for n in range(5)]
    projects = [
        Project.objects.create(tenant=tenant, name=f"Project {n}", business_unit=bus[n % 5])
        for n in range(50)
    ]
    envs = [Environment.objects.create(tenant=tenant, name=name) for name in ("prod", "dev")]
    team = VirtualTag.objects.create(tenant=tenant, key="team")
    TagAlias.objects.create(tenant=tenant, kind="key", alias="Env", canonical="env")
    TagAlias.objects.create(tenant=tenant, kind="key", alias="environment", canonical="env")
    TagAlias.objects.create(
        tenant=tenant, kind="value", key="env", alias="production", canonical="prod"
    )
    specs = []
    for n in range(1, count + 1):
        kind = n % 5
        if kind == 0:
            condition = {"field": "service", "op": "in", "values": rng.sample(SERVICES, 2)}
        elif kind == 1:
            condition = {"field": "sub_account", "op": "in", "values": [rng.choice(FOLDERS)]}
        elif kind == 2:
            condition = {"field": "tag", "key": "team", "op": "in", "values": [rng.choice(TEAMS)]}
        elif kind == 3:
            condition = {
                "field": "resource_name",
                "op": "regex",
                "value": f"^vm-{rng.choice(TEAMS)}-{rng.randrange(10)}",
            }
        else:
            condition = {"field": "region", "op": "in", "values": [f"ru-central1-{n % 3}"]}
        conditions = [condition]
        if n % 7 == 0:
            conditions.append({"field": "service", "op": "not_in", "values": [SERVICES[n % 40]]})
        project = projects[n % 50]
        env = envs[n % 2] if n % 10 == 0 else None
        specs.append(
            RuleSpec(
                id=n,
                name=f"rule {n}",
                position=n,
                conditions=conditions,
                hierarchy=(project.business_unit_id, project.pk, None),
                environment=env.pk if env else None,
            )
        )
    # Environments from tags (normalised) and a team virtual tag copied from the tag.
    specs.append(
        RuleSpec(
            id=count + 1,
            name="env prod",
            position=count + 1,
            conditions=[{"field": "tag", "key": "env", "op": "in", "values": ["prod"]}],
            environment=envs[0].pk,
        )
    )
    specs.append(
        RuleSpec(
            id=count + 2,
            name="team",
            position=count + 2,
            conditions=[{"field": "tag", "key": "team", "op": "exists"}],
            virtual_tag=team.pk,
            virtual_tag_from_key="team",
        )
    )
    return specs, vtag_group(team.pk)


def _reset(tenant: Tenant) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {TABLE} SET x_business_unit_id = NULL, x_project_id = NULL, "
            "x_feature_id = NULL, x_environment_id = NULL, x_cost_center_id = NULL, "
            "x_virtual_tags = NULL WHERE tenant_id = %s",
            [tenant.pk],
        )
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {TABLE}")


def _snapshot(tenant: Tenant) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT md5(string_agg(concat_ws(',', id, x_business_unit_id, x_project_id, "
            f"x_feature_id, x_environment_id, x_cost_center_id, x_virtual_tags::text), ';' "
            f"ORDER BY id)) FROM {TABLE} WHERE tenant_id = %s",
            [tenant.pk],
        )
        return cursor.fetchone()[0]


def _literal(value) -> str:
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _hand_condition(condition: dict) -> str:
    """The condition as a person would write it in SQL (the env key spelled every way)."""
    field, op = condition["field"], condition["op"]
    if field == "tag":
        keys = ["env", "Env", "environment"] if condition["key"] == "env" else [condition["key"]]
        if op == "exists":
            return " OR ".join(f"coalesce(tags ->> '{k}', '') <> ''" for k in keys)
        values = {v.lower() for v in condition["values"]}
        if condition["key"] == "env" and "prod" in values:
            values |= {"production"}
        listed = ", ".join(_literal(v) for v in sorted(values))
        if condition["key"] == "env":
            return " OR ".join(f"lower(tags ->> '{k}') IN ({listed})" for k in keys)
        listed = ", ".join(_literal(v) for v in condition["values"])
        return f"tags ->> '{condition['key']}' IN ({listed})"
    column = {"service": "service_name", "region": "region_id", "resource_name": "resource_name"}
    if field == "sub_account":
        values = ", ".join(_literal(v) for v in condition["values"])
        return f"(sub_account_id IN ({values}) OR sub_account_name IN ({values}))"
    if op == "regex":
        return f"{column[field]} ~ {_literal(condition['value'])}"
    values = ", ".join(_literal(v) for v in condition["values"])
    if op == "not_in":
        return f"coalesce({column[field]} NOT IN ({values}), true)"
    return f"{column[field]} IN ({values})"


def _baseline(tenant, specs, vtag_key, start, end) -> float:
    def case(column_of) -> str:
        whens = []
        for spec in specs:
            value = column_of(spec)
            if value is not None:
                condition = " AND ".join(f"({_hand_condition(c)})" for c in spec.conditions)
                whens.append(f"WHEN {condition} THEN {value}")
        return f"CASE {' '.join(whens)} END" if whens else "NULL"

    team_id = vtag_key.split(":", 1)[1]
    sql = (
        f"UPDATE {TABLE} SET "
        f"x_business_unit_id = {case(lambda s: s.hierarchy and s.hierarchy[0])}, "
        f"x_project_id = {case(lambda s: s.hierarchy and s.hierarchy[1])}, "
        f"x_environment_id = {case(lambda s: s.environment)}, "
        f"x_virtual_tags = CASE WHEN coalesce(tags ->> 'team', '') <> '' THEN "
        f"jsonb_build_object('{team_id}', tags ->> 'team') END "
        "WHERE tenant_id = %s AND charge_period_start >= %s AND charge_period_start < %s"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        began = time.perf_counter()
        cursor.execute(sql, [tenant.pk, start, end])
        return time.perf_counter() - began
