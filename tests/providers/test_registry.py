"""The provider registry: one declaration per provider, and real validation for each."""

from __future__ import annotations

import importlib

import pytest
from django.core.exceptions import ValidationError

from providers.adapters.registry import (
    build_adapter,
    provider_spec,
    provider_specs,
    region_names,
    validate_settings,
)
from providers.adapters.spec import FieldKind
from providers.models import ProviderType, VatRule
from providers.services.connections import connection_create, connection_credentials
from tests.factories import sample_credentials

pytestmark = pytest.mark.django_db

KEYS = [spec.key for spec in provider_specs()]


def test_provider_names_equal_the_vat_rules_provider_names_exactly():
    """Costs are matched to VAT rules by ProviderName: a name that differs by a letter or a
    space would silently leave a provider's costs without VAT."""
    seeded = importlib.import_module("providers.migrations.0004_vat_rules").RUSSIAN_CLOUDS
    vat_names = set(seeded) | set(VatRule.objects.values_list("provider_name", flat=True))

    assert [spec.name for spec in provider_specs()] == [
        "Yandex Cloud",
        "Selectel",
        "VK Cloud",
        "Beget",
    ]
    for spec in provider_specs():
        assert spec.name in vat_names, spec.name
        assert ProviderType(spec.key).label == spec.name


def test_the_adapters_provider_is_the_declared_name():
    adapter = build_adapter(
        "yandex_cloud", credentials=sample_credentials("yandex_cloud"), endpoints={}
    )

    assert adapter.provider == provider_spec("yandex_cloud").name


@pytest.mark.parametrize("key", KEYS)
def test_every_declaration_is_complete(key):
    spec = provider_spec(key)

    assert spec.credential_fields, "credential fields are declared"
    assert all(f.kind in FieldKind for f in spec.credential_fields)
    assert all(f.label and f.name for f in spec.credential_fields)
    assert all(option.kind in ("text", "list") for option in spec.scope_options)
    assert all(url.startswith("https://") for url in spec.endpoints.values())
    assert spec.capabilities.discovery
    # The sample the factories use is accepted as it is.
    assert spec.clean_credentials(sample_credentials(key)) == sample_credentials(key)


@pytest.mark.parametrize("key", ["selectel", "vk_cloud"])
def test_openstack_providers_build_their_adapters_without_network(key):
    spec = provider_spec(key)
    adapter = build_adapter(key, credentials=sample_credentials(key))
    assert spec.has_adapter and adapter.provider == spec.name
    assert adapter.api_calls == 0
    assert spec.simulator is not None and spec.simulator.connection("http://127.0.0.1:1")


def test_beget_builds_its_adapter_and_checks_its_options():
    adapter = build_adapter("beget", credentials=sample_credentials("beget"))
    assert adapter.provider == "Beget" and adapter.cost_estimates
    errors = validate_settings(
        "beget", credentials=None, scope={"plan_rate": "both"}, endpoints={"vps": "https://x"}
    )
    assert set(errors) == {"scope"} and "plan_rate" in errors["scope"]


def test_region_names_come_from_every_declaration():
    assert region_names()["ru-central1"] == "Russia"


# --- validation per provider ------------------------------------------------------------------
INVALID = [
    # provider, credentials, the field the error is about, words of the message
    ("yandex_cloud", {}, "oauth_token", "Enter an OAuth token"),
    ("yandex_cloud", {"id": "k", "service_account_id": "sa"}, "key_json", "private_key"),
    (
        "yandex_cloud",
        {"id": "k", "service_account_id": "sa", "private_key": "x"},
        "key_json",
        "PEM",
    ),
    ("selectel", {"token": "anything"}, "username", "service user"),
    ("selectel", {"username": "bot", "password": "pw"}, "account_id", "account_id"),
    (
        "selectel",
        {"username": "bot", "password": "pw", "account_id": "acme"},
        "account_id",
        "number",
    ),
    (
        "selectel",
        {"static_token": "t", "username": "bot", "password": "p", "account_id": "1234"},
        "static_token",
        "not both",
    ),
    ("vk_cloud", {"username": "u", "password": "p"}, "project_id", "project_id"),
    (
        "vk_cloud",
        {"username": "u", "password": "p", "project_id": "mcs1234567890"},
        "project_id",
        "PID",
    ),
    ("beget", {"login": "acme"}, "api_password", "API password"),
    ("beget", {"login": "acme", "api_password": "p", "vps_login": "acme"}, "vps_password", "both"),
    (
        "beget",
        {"login": "acme", "api_password": "p", "vps_token": "t", "vps_password": "p"},
        "vps_token",
        "not both",
    ),
]


@pytest.mark.parametrize(("key", "credentials", "field", "words"), INVALID)
def test_each_provider_validates_its_own_credentials(key, credentials, field, words):
    from providers.adapters.spec import SettingsInvalid

    with pytest.raises(SettingsInvalid) as caught:
        provider_spec(key).clean_credentials(credentials)

    assert caught.value.field == field
    assert words in caught.value.message


def test_unknown_credential_keys_are_refused():
    credentials = {**sample_credentials("beget"), "passwd": "typo"}

    errors = validate_settings("beget", credentials=credentials, scope={}, endpoints={})

    assert "passwd" in errors["credentials"]


def test_selectel_connections_no_longer_take_any_credentials(world):
    """Regression: any JSON object was accepted as credentials of a non-Yandex provider."""
    with pytest.raises(ValidationError) as caught:
        connection_create(
            actor=world.owner_a,
            tenant=world.a,
            provider="selectel",
            name="Selectel",
            credentials={"token": "whatever"},
            start_sync=False,
        )

    assert "credentials" in caught.value.message_dict


def test_credentials_are_stored_as_the_declaration_cleans_them(world):
    connection = connection_create(
        actor=world.owner_a,
        tenant=world.a,
        provider="vk_cloud",
        name="VK",
        credentials={
            "username": " finops@example.com ",
            "password": "pw",
            "project_id": "B5B7FFD4-EF05-47E5-B222-F44555DF0A11",
        },
        start_sync=False,
    )

    assert connection_credentials(connection) == {
        "username": "finops@example.com",
        "password": "pw",
        "project_id": "b5b7ffd4ef0547e5b222f44555df0a11",
        "user_domain": "users",
        "auth_url": "https://infra.mail.ru:35357/v3/",
    }


def test_only_operators_point_url_credentials_outside_the_providers_hosts(world):
    credentials = {**sample_credentials("vk_cloud"), "auth_url": "https://10.0.0.5:5000/v3/"}

    with pytest.raises(ValidationError, match="Only MSP operators"):
        connection_create(
            actor=world.owner_a,
            tenant=world.a,
            provider="vk_cloud",
            name="Private VK",
            credentials=credentials,
            start_sync=False,
        )
    own_host = {**sample_credentials("vk_cloud"), "auth_url": "https://kz.infra.mail.ru:5000/v3/"}
    connection_create(
        actor=world.owner_a,
        tenant=world.a,
        provider="vk_cloud",
        name="VK Kazakhstan",
        credentials=own_host,
        start_sync=False,
    )
    private = connection_create(
        actor=world.operator_a,
        tenant=world.a,
        provider="vk_cloud",
        name="Private VK",
        credentials=credentials,
        start_sync=False,
    )
    assert connection_credentials(private)["auth_url"] == "https://10.0.0.5:5000/v3/"


def test_scope_options_and_endpoints_are_the_declared_ones(world):
    errors = validate_settings(
        "selectel",
        credentials=None,
        scope={"project_ids": ["p1"]},
        endpoints={"identity": "http://sim", "compute": "http://sim"},
    )

    assert "endpoint(s): compute (known: *, identity, account)" in errors["endpoints"]
    with pytest.raises(ValidationError) as caught:
        connection_create(
            actor=world.operator_a,
            tenant=world.a,
            provider="selectel",
            name="Selectel",
            credentials=sample_credentials("selectel"),
            scope={"folder_ids": ["b1g"]},
            start_sync=False,
        )
    assert "Unknown scope option" in str(caught.value.message_dict["scope"])
