"""Yandex Cloud, as the registry knows it (see ``providers.adapters.spec``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from django.utils.translation import gettext_lazy as _

from providers.adapters.spec import (
    Capabilities,
    CostCapability,
    CredentialField,
    CredentialGroup,
    FieldKind,
    ProviderSpec,
    ScopeOption,
    SettingsInvalid,
    SimulatorSpec,
    text_value,
)
from providers.adapters.yandex.client import PROVIDER
from providers.adapters.yandex.endpoints import YandexEndpoints
from providers.adapters.yandex.records import REGION_NAMES
from providers.adapters.yandex.services import SERVICES

KEY_FIELDS = ("id", "service_account_id", "private_key")


def clean_credentials(credentials: Mapping[str, Any]) -> dict[str, str]:
    """An OAuth token, or a service-account authorized key (its three fields; the PEM must load).
    Errors name the form field they belong to (``oauth_token`` or ``key_json``)."""
    from cryptography.exceptions import UnsupportedAlgorithm

    from providers.adapters.yandex.ps256 import load_private_key

    token = text_value(credentials, "oauth_token")
    key = {name: text_value(credentials, name) for name in KEY_FIELDS}
    has_key = any(key.values())
    if token and has_key:
        raise SettingsInvalid(_("Give either an OAuth token or a key, not both."), field="key_json")
    if token:
        return {"oauth_token": token}
    if not has_key:
        raise SettingsInvalid(
            _("Enter an OAuth token or a service account authorized key."), field="oauth_token"
        )
    missing = [name for name in KEY_FIELDS if not key[name]]
    if missing:
        raise SettingsInvalid(
            _("The key is missing %(fields)s. Use the whole file from yc iam key create.")
            % {"fields": ", ".join(missing)},
            field="key_json",
        )
    try:
        load_private_key(key["private_key"])
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise SettingsInvalid(
            _("The private key cannot be read (an RSA key in PEM expected)."), field="key_json"
        ) from None
    return {name: str(credentials[name]) for name in KEY_FIELDS}


def adapter(credentials, scope, endpoints):
    from providers.adapters.yandex.adapter import YandexCloudAdapter

    return YandexCloudAdapter(credentials, scope=scope or {}, endpoints=endpoints or {})


def _simulator_connection(url: str) -> dict:
    from providers.adapters.yandex.simulator_iam import DEFAULT_OAUTH_TOKEN

    return {"credentials": {"oauth_token": DEFAULT_OAUTH_TOKEN}, "endpoints": {"*": url}}


def _demo_cost_source(url: str) -> dict:
    from providers.adapters.yandex.simulator_billing import BILLING_BUCKET, BILLING_PREFIX
    from providers.adapters.yandex.simulator_storage import (
        DEFAULT_ACCESS_KEY_ID,
        DEFAULT_SECRET_KEY,
        S3_PATH,
    )

    return {
        "kind": "yandex_billing_export",
        "endpoint_url": url.rstrip("/") + S3_PATH,
        "bucket": BILLING_BUCKET,
        "prefix": BILLING_PREFIX,
        "credentials": {
            "access_key_id": DEFAULT_ACCESS_KEY_ID,
            "secret_access_key": DEFAULT_SECRET_KEY,
        },
    }


SPEC = ProviderSpec(
    key="yandex_cloud",
    name=PROVIDER,
    credential_groups=(
        CredentialGroup(
            label=_("OAuth token"),
            fields=(
                CredentialField(
                    "oauth_token",
                    _("OAuth token"),
                    FieldKind.SECRET,
                    help_text=_("A Yandex account's OAuth token (starts with y0_)."),
                ),
            ),
        ),
        CredentialGroup(
            label=_("Service account key"),
            fields=(
                CredentialField(
                    "key_json",
                    _("Service account authorized key"),
                    FieldKind.JSON,
                    help_text=_("Paste the JSON of the key file created by: yc iam key create"),
                    placeholder='{"id": "…", "service_account_id": "…", "private_key": "…"}',
                    json_keys=KEY_FIELDS,
                    upload_name="key_file",
                ),
            ),
        ),
    ),
    credential_alternatives=True,
    clean_credentials=clean_credentials,
    credentials_help=_("Give one of the two."),
    access_hint=_(
        "InfraZen only reads: a service account with the viewer role is enough "
        "(billing.accounts.viewer on the billing account for its balance)."
    ),
    scope_options=(
        ScopeOption("organization_id", _("Organization id")),
        ScopeOption("cloud_ids", _("Cloud ids"), "list"),
        ScopeOption("folder_ids", _("Folder ids"), "list"),
        ScopeOption(
            "billing_account_id",
            _("Billing account id"),
            help_text=_("For the balance; empty: every billing account the credentials see."),
        ),
    ),
    scope_help=_(
        "What to include. Folders win over clouds, clouds over the organization; leave all "
        "empty to include every cloud the credentials can see. Separate ids with commas."
    ),
    scope_noun="folder",
    endpoints={f.name: f.default for f in fields(YandexEndpoints)},
    capabilities=Capabilities(
        discovery=True,
        metrics=True,
        costs=frozenset({CostCapability.BUCKET_EXPORT}),
        balance=True,
        operations_log=True,
        refresh=True,
    ),
    adapter=adapter,
    region_names=REGION_NAMES,
    services=SERVICES,
    billing_time_zone="Europe/Moscow",
    simulator=SimulatorSpec(
        module="providers.adapters.yandex.simulator",
        url_setting="YANDEX_SIMULATOR_URL",
        connection=_simulator_connection,
        scale_args=lambda groups, per_group: [
            "--folders",
            str(groups),
            "--resources-per-folder",
            str(per_group),
        ],
        demo_cost_source=_demo_cost_source,
    ),
)
