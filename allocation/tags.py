"""Tag normalisation as data: the tenant's aliases, in Python and in SQL.

``Aliases`` says what a key or value becomes: a key alias ``Environment → env`` makes every key
whose lower case is ``environment`` or ``env`` the key ``env``; a value alias ``env:
production → prod`` does the same for the values of ``env``. Keys and values no alias names
stay as they are (case included).

Two SQL forms serve two needs:

- ``TagReader`` (the mapping rules): a condition on ``env`` reads each spelling of the key that
  occurs in the rows (``tags ->> 'Env'``, ``tags ->> 'environment'``), a few JSONB lookups per row;
- ``Aliases.pairs_sql`` (discovery and compliance reports): every row's tags exploded into
  normalised (key, value) pairs.

A key or value that is present but empty counts as missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from allocation.conditions import Sql


@dataclass
class Aliases:
    # lower(spelling) -> canonical key, for keys with at least one alias (canonical included)
    keys: dict[str, str] = field(default_factory=dict)
    # canonical key -> {lower(spelling) -> canonical value}
    values: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, tenant_id: int) -> Aliases:
        from allocation.models import TagAlias

        aliases = cls()
        rows = list(
            TagAlias.objects.filter(tenant_id=tenant_id)
            .order_by("id")
            .values_list("kind", "key", "alias", "canonical")
        )
        for kind, _key, alias, canonical in rows:
            if kind == TagAlias.Kind.KEY:
                aliases.keys.setdefault(canonical.lower(), canonical)
                aliases.keys.setdefault(alias.lower(), canonical)
        for kind, key, alias, canonical in rows:
            if kind == TagAlias.Kind.VALUE:
                group = aliases.values.setdefault(aliases.key(key), {})
                group.setdefault(canonical.lower(), canonical)
                group.setdefault(alias.lower(), canonical)
        return aliases

    def key(self, raw: str) -> str:
        return self.keys.get(raw.lower(), raw)

    def value(self, key: str, raw: str) -> str:
        group = self.values.get(key)
        return group.get(raw.lower(), raw) if group else raw

    def normalise(self, tags: Mapping | None) -> dict[str, str]:
        """A row's tags as the reports see them (empty values dropped)."""
        out: dict[str, str] = {}
        for raw_key, raw_value in (tags or {}).items():
            text = _text(raw_value)
            if text:
                key = self.key(raw_key)
                out.setdefault(key, self.value(key, text))
        return out

    # --- SQL over exploded pairs (reports) --------------------------------------------------
    def key_sql(self, expression: str) -> Sql:
        groups = _groups(self.keys)
        if not groups:
            return Sql(expression)
        whens, params = [], []
        for canonical, spellings in groups.items():
            whens.append(f"WHEN lower({expression}) = ANY(%s) THEN %s")
            params += [spellings, canonical]
        return Sql(f"CASE {' '.join(whens)} ELSE {expression} END", params)

    def value_sql(self, key: Sql, expression: str) -> Sql:
        """The normalised value of ``expression`` under the normalised key ``key`` (SQL)."""
        whens, params = [], []
        for canonical_key, group in self.values.items():
            for canonical, spellings in _groups(group).items():
                whens.append(f"WHEN ({key.text}) = %s AND lower({expression}) = ANY(%s) THEN %s")
                params += [*key.params, canonical_key, spellings, canonical]
        if not whens:
            return Sql(expression)
        return Sql(f"CASE {' '.join(whens)} ELSE {expression} END", params)

    def pairs_sql(self, tags_column: str) -> Sql:
        """A LATERAL subquery over ``tags_column``: one (key, value) row per normalised key with
        a non-empty value (one per key: several spellings of a key in one row count once)."""
        key = self.key_sql("e.key")
        value = self.value_sql(Sql("p.key"), "p.value")
        return Sql(
            f"(SELECT DISTINCT ON (p.key) p.key, {value.text} AS value FROM "
            f"(SELECT {key.text} AS key, e.value FROM jsonb_each_text("
            f"CASE WHEN jsonb_typeof({tags_column}) = 'object' THEN {tags_column} END) e "
            f"WHERE e.value <> '') p ORDER BY p.key, p.value)",
            [*value.params, *key.params],
        )


def _groups(mapping: Mapping[str, str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for spelling, canonical in sorted(mapping.items()):
        groups.setdefault(canonical, []).append(spelling)
    return groups


def _text(value) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


class TagReader:
    """Tag conditions of the mapping rules as JSONB lookups of each spelling present.

    ``raw_keys``: the keys that occur in the rows the rules are applied to (only needed when
    keys have aliases; None when none do)."""

    def __init__(self, aliases: Aliases, raw_keys: Iterable[str] | None = None) -> None:
        self.aliases = aliases
        self.raw_keys = sorted(set(raw_keys or ()))

    def needs_raw_keys(self, keys: Iterable[str]) -> bool:
        return any(self.aliases.key(k).lower() in self.aliases.keys for k in keys)

    def spellings(self, key: str) -> list[str]:
        canonical = self.aliases.key(key)
        found = {canonical}
        if canonical.lower() in self.aliases.keys:
            found |= {raw for raw in self.raw_keys if self.aliases.key(raw) == canonical}
        return sorted(found)

    def value_sql(self, key: str, raw_key: str, alias: str) -> Sql:
        """The normalised value of one spelling of ``key`` in a row (NULL when absent)."""
        expression = f"({alias}.tags ->> %s)"
        group = self.aliases.values.get(self.aliases.key(key))
        if not group:
            return Sql(expression, [raw_key])
        whens, params = [], []
        for canonical, spellings in _groups(group).items():
            whens.append(f"WHEN lower({expression}) = ANY(%s) THEN %s")
            params += [raw_key, spellings, canonical]
        return Sql(f"CASE {' '.join(whens)} ELSE {expression} END", [*params, raw_key])

    def value_of(self, key: str, alias: str = "c") -> Sql:
        """The normalised non-empty value of ``key`` (first spelling present), or NULL."""
        parts = [self.value_sql(key, raw, alias) for raw in self.spellings(key)]
        return Sql(
            "coalesce(" + ", ".join(f"nullif({p.text}, '')" for p in parts) + ")",
            [x for p in parts for x in p.params],
        )

    def condition(self, condition: Mapping, *, alias: str = "c") -> Sql:
        key, op = condition["key"], condition["op"]
        spellings = self.spellings(key)
        if op in ("exists", "missing"):
            present = Sql(
                " OR ".join(f"nullif({alias}.tags ->> %s, '') IS NOT NULL" for _ in spellings),
                spellings,
            )
            return present if op == "exists" else Sql(f"NOT ({present.text})", present.params)
        tests = []
        canonical = self.aliases.key(key)
        for raw in spellings:
            value = self.value_sql(key, raw, alias)
            if op in ("in", "not_in"):
                wanted = [self.aliases.value(canonical, v) for v in condition["values"]]
                tests.append(Sql(f"{value.text} = ANY(%s)", [*value.params, wanted]))
            else:
                operator = "~*" if condition.get("ignore_case") else "~"
                tests.append(
                    Sql(f"{value.text} {operator} %s", [*value.params, condition["value"]])
                )
        positive = Sql(
            "coalesce(" + " OR ".join(f"({t.text})" for t in tests) + ", false)",
            [x for t in tests for x in t.params],
        )
        if op.startswith("not_"):
            return Sql(f"NOT {positive.text}", positive.params)
        return positive
