"""Two-tenant isolation over every scoped admin: an operator of B never sees or picks A's rows."""

import pytest
from django.contrib import admin
from django.urls import reverse

from core.models import Tenant, tenant_scoped_models
from tests.contracts.discovery import registered_admins
from tests.contracts.samples import SAMPLES

SCOPED_ADMINS = [(m, a) for m, a in registered_admins() if m in tenant_scoped_models()]


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def operator_b_client(client, world):
    client.force_login(world.operator_b)
    return client


def _ids(model):
    return model._meta.label_lower


@pytest.mark.parametrize(("model", "model_admin"), SCOPED_ADMINS, ids=lambda x: str(x))
def test_changelist_hides_other_tenants_rows(world, operator_b_client, model, model_admin):
    row = SAMPLES[model._meta.label_lower](world, world.a)
    response = operator_b_client.get(_url(model, "changelist"), {"all": ""})
    assert response.status_code == 200
    shown = {obj.pk for obj in response.context["cl"].result_list}
    assert row.pk not in shown
    assert response.context["cl"].result_count == len(shown)
    # Tenant filter choices (and every other list filter's choices) stay within B's scope.
    for spec in response.context["cl"].filter_specs:
        for choice in spec.choices(response.context["cl"]):
            assert choice["display"] != world.a.name


@pytest.mark.parametrize(("model", "model_admin"), SCOPED_ADMINS, ids=lambda x: str(x))
def test_object_pages_of_other_tenants_rows_are_unreachable(
    world, operator_b_client, model, model_admin
):
    row = SAMPLES[model._meta.label_lower](world, world.a)
    for view in ("change", "delete", "history"):
        response = operator_b_client.get(_url(model, view, row.pk))
        assert response.status_code in (302, 403, 404), view
        if response.status_code == 302:
            assert response.url == reverse("admin:index")
    response = operator_b_client.post(_url(model, "delete", row.pk), {"post": "yes"})
    assert response.status_code in (302, 403, 404)
    assert model.objects.filter(pk=row.pk).exists()


@pytest.mark.parametrize(("model", "model_admin"), SCOPED_ADMINS, ids=lambda x: str(x))
def test_form_choices_never_offer_other_tenants(world, operator_b_client, model, model_admin):
    foreign = {Tenant: {world.a.pk}}
    for other in tenant_scoped_models():
        if other is not Tenant and other._meta.label_lower in SAMPLES:
            foreign.setdefault(other, set()).add(
                SAMPLES[other._meta.label_lower](world, world.a).pk
            )
    response = operator_b_client.get(_url(model, "add"))
    if response.status_code == 403:
        return  # read-only admin
    assert response.status_code == 200
    form = response.context["adminform"].form
    for name, field in form.fields.items():
        queryset = getattr(field, "queryset", None)
        if queryset is None:
            continue
        offered = set(queryset.values_list("pk", flat=True))
        assert not offered & foreign.get(queryset.model, set()), name


def _fk_fields_with_searchable_targets():
    cases = []
    for model, _ in registered_admins():
        for field in model._meta.get_fields():
            if not (field.is_relation and field.many_to_one and field.concrete):
                continue
            target_admin = admin.site._registry.get(field.remote_field.model)
            if target_admin is not None and target_admin.search_fields:
                cases.append((model, field))
    return cases


@pytest.mark.parametrize(
    ("model", "field"), _fk_fields_with_searchable_targets(), ids=lambda x: str(x)
)
def test_autocomplete_never_returns_other_tenants(world, operator_b_client, rf, model, field):
    target = field.remote_field.model
    # A's own row of the target model (for users: an account that is a member of A only).
    foreign = {SAMPLES[target._meta.label_lower](world, world.a).pk}
    if target is Tenant:
        foreign.add(world.a.pk)
    request = rf.get("/")
    request.user = world.operator_b
    may_view = admin.site._registry[target].has_view_permission(request)

    response = operator_b_client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": model._meta.app_label,
            "model_name": model._meta.model_name,
            "field_name": field.name,
            "term": "",
        },
    )

    assert response.status_code == (200 if may_view else 403)
    body = response.json() if may_view else {"results": [], "pagination": {"more": False}}
    returned = {int(item["id"]) for item in body["results"]}
    assert not returned & foreign
    assert body["pagination"]["more"] is False  # nothing hidden on a second page


def test_operator_sees_own_tenants_in_admin(world, client):
    client.force_login(world.operator_a)
    response = client.get(_url(Tenant, "changelist"))
    assert [t.pk for t in response.context["cl"].result_list] == [world.a.pk]


def test_customers_cannot_enter_the_admin(world, client):
    client.force_login(world.owner_a)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert "login" in response.url
