"""The browsable API and OPTIONS of every endpoint, rendered for tenant B's users, name nothing of
tenant A's; and a foreign id is refused exactly like an id that does not exist (no oracle).

DRF builds related-field choices from ``Model._default_manager`` (a Manager, not a scoped queryset),
so the HTML form's selects, its filter form and OPTIONS are where other tenants' rows would leak.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from django.contrib.auth import get_user_model
from rest_framework import serializers
from rest_framework.test import APIClient

from core.api.base import scope_queryset
from core.models import Tenant
from tests.contracts.discovery import api_endpoints, scoped_models
from tests.contracts.samples import CREATE_PAYLOADS, SAMPLES

ENDPOINTS = api_endpoints()
NONEXISTENT_ID = 987654321


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


class _Page(HTMLParser):
    """Text nodes, attribute values and, per <select name>, its option values."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.strings: set[str] = set()
        self.options: dict[str, set[str]] = {}
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.strings.update(v.strip() for v in attrs.values() if v)
        if tag == "select":
            self._select = attrs.get("name") or ""
            self.options.setdefault(self._select, set())
        elif tag == "option" and self._select is not None:
            self.options[self._select].add(attrs.get("value") or "")

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None

    def handle_data(self, data):
        if data.strip():
            self.strings.add(data.strip())


def _json_strings(value) -> set[str]:
    if isinstance(value, dict):
        return set().union(*(_json_strings(v) | {str(k)} for k, v in value.items()), set())
    if isinstance(value, list):
        return set().union(*(_json_strings(v) for v in value), set())
    return {str(value).strip()}


def _related_models(endpoint) -> dict[str, type]:
    """Form field name -> model of its choices, from the serializer(s) and the filterset."""
    found: dict[str, type] = {}

    def walk(serializer, prefix=""):
        for name, field in serializer.fields.items():
            if isinstance(field, serializers.ListSerializer):
                field = field.child
            if isinstance(field, serializers.BaseSerializer):
                walk(field, f"{prefix}{name}.")
                continue
            target = getattr(field, "child_relation", field)
            if getattr(target, "queryset", None) is not None:
                found[prefix + name] = target.queryset.model

    viewset = endpoint.viewset
    classes = {viewset.serializer_class}
    for action in ("list", "create", "retrieve", "update"):
        view = viewset(action=action, request=None, format_kwarg=None, kwargs={})
        classes.add(view.get_serializer_class())
    for cls in classes:
        walk(cls())
    for name, filter_ in (
        viewset.filterset_class.base_filters.items() if viewset.filterset_class else []
    ):
        queryset = getattr(filter_, "queryset", None)
        if queryset is not None and not callable(queryset):
            found.setdefault(name, queryset.model)
        elif name in ("tenant", "parent"):
            found.setdefault(name, Tenant)
    return found


@pytest.fixture
def populated(world):
    """Every tenant-owned model has rows in A and B; returns A's rows' labels (minus B's)."""
    a_rows, b_rows = [], []
    for model in scoped_models():
        build = SAMPLES[model._meta.label_lower]
        a_rows.append(build(world, world.a))
        b_rows.append(build(world, world.b))
    b_labels = {str(row).strip() for row in b_rows}
    labels = {str(row).strip() for row in a_rows} - b_labels
    labels |= {world.a.name, world.owner_a.username, world.viewer_a.username}
    labels |= {world.operator_a.username, world.owner_a.email}
    return {"labels": {label for label in labels if len(label) >= 3}, "b_rows": b_rows}


def _foreign_pks(model, user) -> set[str]:
    everything = set(model._default_manager.values_list("pk", flat=True))
    mine = set(scope_queryset(model._default_manager.all(), user).values_list("pk", flat=True))
    if model is get_user_model():
        mine |= {user.pk}
    return {str(pk) for pk in everything - mine}


def _assert_names_nothing_of_a(strings: set[str], labels: set[str], where: str) -> None:
    leaked = strings & labels
    assert not leaked, f"{where}: shows tenant A's {sorted(leaked)}"
    assert not any("Alpha" in s for s in strings), f"{where}: names tenant A"


@pytest.fixture(params=["owner_b", "operator_b"])
def b_user(request, world):
    return getattr(world, request.param)


def _b_row(endpoint, populated):
    return next(row for row in populated["b_rows"] if type(row) is endpoint.model)


def _urls(endpoint, populated, user) -> list[str]:
    """The list, and the detail of one of B's rows if ``user`` may see it: rows of MSP-only
    models (price books) are not for customer owners, who get a 404 like for any unseen row."""
    row = _b_row(endpoint, populated)
    urls = [endpoint.list_url]
    if scope_queryset(type(row)._default_manager.filter(pk=row.pk), user).exists():
        urls.append(endpoint.detail_url(row.pk))
    else:
        assert user.is_staff is False, f"{endpoint.basename}: an operator cannot see B's row"
    return urls


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.basename)
def test_browsable_api_pages_name_nothing_of_other_tenants(world, populated, endpoint, b_user):
    client = _client(b_user)
    models_by_field = _related_models(endpoint)
    urls = _urls(endpoint, populated, b_user)
    forms_seen = 0
    for url in urls:
        response = client.get(url, HTTP_ACCEPT="text/html")
        assert response.status_code == 200, (url, response.status_code)
        assert response["Content-Type"].startswith("text/html")
        page = _Page()
        page.feed(response.content.decode())
        _assert_names_nothing_of_a(page.strings, populated["labels"], url)
        for name, values in page.options.items():
            model = models_by_field.get(name.rsplit(".", 1)[-1]) or models_by_field.get(name)
            if model is None:
                assert not any(re.fullmatch(r"\d+", v) for v in values), (
                    f"{url}: select {name!r} lists ids of an unknown model; map it here"
                )
                continue
            forms_seen += 1
            leaked = values & _foreign_pks(model, b_user)
            assert not leaked, f"{url}: select {name!r} lists A's {model.__name__} ids {leaked}"
    if endpoint.model is not None and models_by_field:
        # Guards the guard: at least one select (form or filter) was rendered and checked.
        assert forms_seen, f"{endpoint.basename}: no related select rendered"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.basename)
def test_options_name_nothing_of_other_tenants(world, populated, endpoint, b_user):
    client = _client(b_user)
    for url in _urls(endpoint, populated, b_user):
        response = client.options(url)
        assert response.status_code == 200, (url, response.content)
        body = response.json()
        _assert_names_nothing_of_a(_json_strings(body), populated["labels"], f"OPTIONS {url}")


def _writable_relations(endpoint, payload) -> list[str]:
    return [
        name
        for name, model in _related_models(endpoint).items()
        if name in payload
        and name in endpoint.viewset.serializer_class().fields
        and not endpoint.viewset.serializer_class().fields[name].read_only
        and model is not None
    ]


@pytest.mark.parametrize(
    "endpoint", [e for e in ENDPOINTS if "POST" in e.list_actions], ids=lambda e: e.basename
)
def test_foreign_and_unknown_ids_get_the_same_answer(world, populated, endpoint, b_user):
    client = _client(b_user)
    valid = CREATE_PAYLOADS[endpoint.basename](world)
    relations = _writable_relations(endpoint, valid)
    assert relations, "a create payload with no relation cannot test the oracle"
    models_by_field = _related_models(endpoint)
    for name in relations:
        foreign = sorted(int(pk) for pk in _foreign_pks(models_by_field[name], b_user))
        assert foreign, f"{name}: tenant A has no {models_by_field[name].__name__} to point at"
        answers = []
        for target in (foreign[0], NONEXISTENT_ID):
            response = client.post(endpoint.list_url, {**valid, name: target}, format="json")
            text = json.dumps(response.json(), sort_keys=True).replace(str(target), "<id>")
            answers.append((response.status_code, text))
        assert answers[0] == answers[1], f"{name}: foreign id answered differently: {answers}"
        assert answers[0][0] == 400, answers[0]
