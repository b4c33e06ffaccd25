"""Every field users filter on can be filtered on through the API (NetBox's "missing filters").

Two sources of "users filter on this":

- the admin's ``list_filter`` of the endpoint's model (operators filter there; an integrator or
  a portal page must be able to ask the same question through the API);
- the model's categorical fields: foreign keys, fields with choices and booleans, i.e. the
  dimensions lists are cut by.

Each must be answered by a filter of the endpoint's filterset (by the filter's name or by the
model field it filters), or be listed in ``NOT_FILTERED`` with the reason. A new field or admin
filter therefore either gets its API filter or a written reason; the list cannot silently lag.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.db import models

from tests.contracts.discovery import api_endpoints

# (model label, field or admin filter) -> why the API has no filter for it.
NOT_FILTERED = {
    ("allocation.businessmetric", "pull_url_trusted"): "internal: whether pulls re-check that "
    "the URL is public (not shown in the API)",
    ("core.tenant", "tenant"): "the admin's tenant picker on the tenant list selects one tenant: "
    "that is the detail endpoint (GET /tenants/<id>/); sub-trees are ?parent=",
    ("core.tenant", "locale"): "a display preference of the tenant, not a way to cut a list",
    ("core.tenant", "cost_amounts"): "a display preference (which amounts pages show)",
    ("core.membership", "created_by"): "bookkeeping; who granted what is the audit log's "
    "question (/audit-events/?actor=)",
    ("providers.importrun", "created_by"): "bookkeeping; who imported what is the audit log's "
    "question (/audit-events/?actor=)",
    ("providers.importrun", "policy"): "a setting recorded on each run, not a dimension runs "
    "are listed by (status and source are)",
    ("providers.costsource", "policy"): "a setting of a handful of sources per tenant",
    ("providers.costsource", "focus_replace"): "a setting of a handful of sources per tenant",
}

ENDPOINTS = [e for e in api_endpoints() if e.viewset.filterset_class is not None]


def _admin_filter_fields(model) -> list[str]:
    """The model field (or query parameter) behind each admin list filter of ``model``."""
    model_admin = admin.site._registry.get(model)
    names = []
    for entry in getattr(model_admin, "list_filter", ()):
        if isinstance(entry, str):
            names.append(entry)
        elif isinstance(entry, tuple):
            names.append(entry[0])
        else:  # a SimpleListFilter: the field it filters, else its query parameter
            names.append(
                getattr(entry, "field", None)
                or getattr(entry, "column", None)
                or entry.parameter_name
            )
    return names


def _categorical_fields(model) -> list[str]:
    return [
        field.name
        for field in model._meta.concrete_fields
        if not field.primary_key
        and (isinstance(field, models.ForeignKey | models.BooleanField) or field.choices)
    ]


def _wanted(endpoint) -> list[str]:
    model = endpoint.model
    return list(dict.fromkeys([*_admin_filter_fields(model), *_categorical_fields(model)]))


def _covered(filterset, name: str) -> bool:
    filters = filterset.base_filters
    targets = {f.field_name for f in filters.values()}
    bare = name.removesuffix("_id")
    return name in filters or bare in filters or name in targets or bare in targets


CASES = [(endpoint, name) for endpoint in ENDPOINTS for name in _wanted(endpoint)]


def test_the_check_has_cases_and_every_exception_is_still_needed():
    assert len(ENDPOINTS) >= 10 and len(CASES) > 50
    wanted = {(e.model._meta.label_lower, name) for e, name in CASES}
    covered = {
        (e.model._meta.label_lower, name)
        for e, name in CASES
        if _covered(e.viewset.filterset_class, name)
    }
    stale = {key for key in NOT_FILTERED if key not in wanted or key in covered}
    assert not stale, f"drop these from NOT_FILTERED: {sorted(stale)}"


@pytest.mark.parametrize(("endpoint", "name"), CASES, ids=lambda x: getattr(x, "basename", x))
def test_every_field_users_filter_on_has_an_api_filter(endpoint, name):
    key = (endpoint.model._meta.label_lower, name)
    assert _covered(endpoint.viewset.filterset_class, name) or key in NOT_FILTERED, (
        f"{endpoint.viewset.filterset_class.__name__} has no filter for {name!r}: add one, or "
        f"say in NOT_FILTERED why users cannot filter {key[0]} by it through the API"
    )
