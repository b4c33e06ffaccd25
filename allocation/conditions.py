"""Conditions of the mapping rules: what they may say, and the SQL each one becomes.

A rule's ``conditions`` is a list of objects, all of which must hold (an empty list matches every
row)::

    {"field": "service", "op": "in", "values": ["Compute Cloud", "Object Storage"]}
    {"field": "resource_name", "op": "regex", "value": "^web-", "ignore_case": true}
    {"field": "tag", "key": "team", "op": "missing"}
    {"field": "tag", "key": "env", "op": "in", "values": ["prod"]}
    {"field": "connection", "op": "in", "values": [12]}

Fields read the cost line item (FOCUS columns), except ``creator``, which reads the linked
resource (its ``created_by`` field when the inventory has one, else ``properties.created_by``),
and ``tag``, which reads the tags as normalised by the tenant's aliases (``allocation.tags``).
A value that is absent (NULL) is "not in" any list and matches no regex.

``compile_condition`` turns one condition into a SQL predicate over the line items aliased ``c``
with its parameters; the engine (``allocation.mapping``) puts those into one CASE per output.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

MAX_CONDITIONS = 20
MAX_VALUES = 500
MAX_TEXT = 500

TEXT_OPS = ("in", "not_in", "regex", "not_regex")
TAG_OPS = ("exists", "missing", *TEXT_OPS)
ID_OPS = ("in", "not_in")


@dataclass(frozen=True)
class Field:
    name: str
    label: object
    columns: tuple[str, ...]  # line-item columns (any may match), empty for special fields
    ops: tuple[str, ...] = TEXT_OPS


FIELDS: dict[str, Field] = {
    f.name: f
    for f in (
        Field("provider", gettext_lazy("Provider"), ("provider_name",)),
        Field("connection", gettext_lazy("Connection"), ("x_connection_id",), ID_OPS),
        Field("billing_account", gettext_lazy("Billing account"), ("billing_account_id",)),
        Field(
            "sub_account",
            gettext_lazy("Sub-account / folder / project (id or name)"),
            ("sub_account_id", "sub_account_name"),
        ),
        Field("service", gettext_lazy("Service"), ("service_name",)),
        Field("service_category", gettext_lazy("Service category"), ("service_category",)),
        Field("sku", gettext_lazy("SKU"), ("sku_id",)),
        Field("region", gettext_lazy("Region"), ("region_id",)),
        Field("resource_type", gettext_lazy("Resource type"), ("resource_type",)),
        Field("resource_name", gettext_lazy("Resource name"), ("resource_name",)),
        Field("resource_id", gettext_lazy("Resource id"), ("resource_id",)),
        Field("charge_category", gettext_lazy("Charge category"), ("charge_category",)),
        Field("creator", gettext_lazy("Created by"), ()),
        Field("tag", gettext_lazy("Tag"), (), TAG_OPS),
    )
}
OPS = {
    "in": gettext_lazy("is one of"),
    "not_in": gettext_lazy("is none of"),
    "regex": gettext_lazy("matches regex"),
    "not_regex": gettext_lazy("does not match regex"),
    "exists": gettext_lazy("is set"),
    "missing": gettext_lazy("is missing"),
}


def _error(message: str, index: int | None = None) -> ValidationError:
    prefix = "" if index is None else _("Condition %(n)d: ") % {"n": index + 1}
    return ValidationError({"conditions": [prefix + message]})


def clean_conditions(value) -> list[dict]:
    """Validated, normalised conditions, or ValidationError naming ``conditions``."""
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        raise _error(_("Give a list of conditions (an empty list matches every row)."))
    if len(value) > MAX_CONDITIONS:
        raise _error(_("At most %(n)d conditions per rule.") % {"n": MAX_CONDITIONS})
    return [_clean_one(item, i) for i, item in enumerate(value)]


def _clean_one(item, index: int) -> dict:
    if not isinstance(item, Mapping):
        raise _error(_("each condition is an object with field and op."), index)
    unknown = set(item) - {"field", "op", "values", "value", "key", "ignore_case"}
    if unknown:
        raise _error(_("unknown properties: %(p)s.") % {"p": ", ".join(sorted(unknown))}, index)
    field = FIELDS.get(item.get("field")) if isinstance(item.get("field"), str) else None
    if field is None:
        raise _error(_("field must be one of %(f)s.") % {"f": ", ".join(FIELDS)}, index)
    op = item.get("op")
    if op not in field.ops:
        raise _error(
            _("op for %(field)s must be one of %(ops)s.")
            % {"field": field.name, "ops": ", ".join(field.ops)},
            index,
        )
    cleaned: dict = {"field": field.name, "op": op}
    if field.name == "tag":
        key = item.get("key")
        if not isinstance(key, str) or not key.strip() or len(key) > 200:
            raise _error(_("a tag condition names its key (at most 200 characters)."), index)
        cleaned["key"] = key.strip()
    elif "key" in item:
        raise _error(_("only tag conditions take a key."), index)
    if op in ("in", "not_in"):
        cleaned["values"] = _values(item.get("values"), field, index)
    elif op in ("regex", "not_regex"):
        cleaned["value"] = _regex(item.get("value"), index)
        if item.get("ignore_case") not in (None, False, True):
            raise _error(_("ignore_case is true or false."), index)
        cleaned["ignore_case"] = bool(item.get("ignore_case"))
    elif "values" in item or "value" in item:
        raise _error(_("%(op)s takes no value.") % {"op": op}, index)
    return cleaned


def _values(values, field: Field, index: int) -> list:
    if not isinstance(values, list) or not values:
        raise _error(_("values is a non-empty list."), index)
    if len(values) > MAX_VALUES:
        raise _error(_("at most %(n)d values.") % {"n": MAX_VALUES}, index)
    if field.ops is ID_OPS:
        if not all(type(v) is int and 0 < v < 2**63 for v in values):
            raise _error(_("values are ids (positive whole numbers)."), index)
        return sorted(set(values))
    if not all(isinstance(v, str) and 0 < len(v) <= MAX_TEXT for v in values):
        raise _error(
            _("values are non-empty texts of at most %(n)d characters.") % {"n": MAX_TEXT},
            index,
        )
    return list(dict.fromkeys(values))


def _regex(value, index: int) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
        raise _error(
            _("value is a regular expression of at most %(n)d characters.") % {"n": MAX_TEXT},
            index,
        )
    if "\x00" in value:
        raise _error(_("the regular expression has a NUL character."), index)
    try:
        re.compile(value)
    except re.error as exc:
        raise _error(_("invalid regular expression: %(e)s.") % {"e": exc}, index) from None
    # Back-references are where regex engines backtrack exponentially.
    if re.search(r"\\[1-9]", value):
        raise _error(_("back-references (\\1 …) are not supported."), index)
    return value


def referenced_tag_keys(conditions: Sequence[Mapping]) -> set[str]:
    return {c["key"] for c in conditions if c["field"] == "tag"}


def connection_ids(conditions: Sequence[Mapping]) -> set[int]:
    return {v for c in conditions if c["field"] == "connection" for v in c["values"]}


def describe(condition: Mapping) -> str:
    """One condition in words, for lists and previews."""
    field = FIELDS[condition["field"]]
    subject = f"{field.label} {condition['key']}" if field.name == "tag" else str(field.label)
    text = f"{subject} {OPS[condition['op']]}"
    if "values" in condition:
        text += " " + ", ".join(map(str, condition["values"]))
    elif "value" in condition:
        text += f" /{condition['value']}/" + ("i" if condition.get("ignore_case") else "")
    return text


# --- SQL -----------------------------------------------------------------------------------------
class Sql:
    """A SQL fragment with its %s parameters."""

    __slots__ = ("params", "text")

    def __init__(self, text: str, params: Sequence = ()) -> None:
        self.text, self.params = text, list(params)

    def __repr__(self) -> str:
        return f"Sql({self.text!r}, {self.params!r})"


TRUE = Sql("true")


def all_of(parts: Sequence[Sql]) -> Sql:
    if not parts:
        return TRUE
    return Sql(" AND ".join(f"({p.text})" for p in parts), [x for p in parts for x in p.params])


def compile_condition(condition: Mapping, tags, *, tenant_id: int, alias: str = "c") -> Sql:
    """The SQL predicate of one cleaned condition over line items aliased ``alias``.

    ``tags`` (an ``allocation.tags.TagReader``) knows the tenant's aliases and the raw keys
    present in the rows, so a tag condition reads each spelling of its key directly (a JSONB
    key lookup) instead of normalising every row's tags."""
    field = FIELDS[condition["field"]]
    op = condition["op"]
    if field.name == "tag":
        return tags.condition(condition, alias=alias)
    if field.name == "creator":
        test = _text_test(_creator_sql(), condition)
        inner = Sql(
            f"{alias}.x_resource_id IN (SELECT r.id FROM providers_resource r "
            f"WHERE r.tenant_id = %s AND {test.text})",
            [tenant_id, *test.params],
        )
        return _negated(inner) if op.startswith("not_") else inner
    tests = [_text_test(f"{alias}.{column}", condition, positive=True) for column in field.columns]
    positive = Sql(" OR ".join(f"({t.text})" for t in tests), [x for t in tests for x in t.params])
    return _negated(positive) if op.startswith("not_") else positive


def _text_test(expression: str, condition: Mapping, *, positive: bool = True) -> Sql:
    op = condition["op"]
    if op in ("in", "not_in"):
        values = condition["values"]
        if len(values) == 1:
            return Sql(f"{expression} = %s", values)
        return Sql(f"{expression} = ANY(%s)", [values])
    operator = "~*" if condition.get("ignore_case") else "~"
    return Sql(f"{expression} {operator} %s", [condition["value"]])


def _negated(positive: Sql) -> Sql:
    return Sql(f"NOT coalesce(({positive.text}), false)", positive.params)


def _creator_sql() -> str:
    """The creator of a resource ``r``: a ``created_by`` field if the inventory has one (operation
    logs), else what discovery put in its properties."""
    from providers.models import Resource

    fallback = "coalesce(r.properties ->> 'created_by', r.properties ->> 'creator')"
    try:
        field = Resource._meta.get_field("created_by")
    except Exception:
        return fallback
    # "" means no operation log named a creator (the column is never NULL): fall back then.
    return f"coalesce(nullif(r.{field.column}::text, ''), {fallback})"
