"""Selectel, as the registry knows it (provider-apis.md §2); the adapter is
``providers.adapters.selectel.adapter`` over the shared OpenStack package.

Two kinds of credentials (§2.1): a service user (Keystone password auth in the account's domain:
a domain-scoped token for the account APIs, project-scoped tokens for OpenStack), or a static
API key sent as ``X-Token`` (billing and account APIs only: it cannot read OpenStack).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext_lazy as _

from providers.adapters.selectel.services import SERVICES
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

USER_FIELDS = ("username", "password", "account_id")
ACCOUNT_ID = re.compile(r"[0-9]{3,12}")


def clean_credentials(credentials: Mapping[str, Any]) -> dict[str, str]:
    values = {
        name: text_value(credentials, name) for name in (*USER_FIELDS, "project", "static_token")
    }
    user = {name: values[name] for name in (*USER_FIELDS, "project")}
    token = values["static_token"]
    if token and any(user.values()):
        raise SettingsInvalid(
            _("Give either a service user or a static token, not both."), field="static_token"
        )
    if token:
        return {"static_token": token}
    if not any(user.values()):
        raise SettingsInvalid(
            _("Enter a service user (name, password, account id) or a static token."),
            field="username",
        )
    missing = [name for name in USER_FIELDS if not user[name]]
    if missing:
        raise SettingsInvalid(
            _("The service user needs %(fields)s.") % {"fields": ", ".join(missing)},
            field=missing[0],
        )
    if not ACCOUNT_ID.fullmatch(user["account_id"]):
        raise SettingsInvalid(
            _("The account id is the number of the Selectel account (e.g. 123456)."),
            field="account_id",
        )
    return {name: value for name, value in user.items() if value}


def adapter(credentials, scope, endpoints):
    from providers.adapters.selectel.adapter import SelectelAdapter

    return SelectelAdapter(credentials, scope=scope or {}, endpoints=endpoints or {})


def _simulator_connection(url: str) -> dict:
    from providers.adapters.selectel.simulator import ACCOUNT_ID, PASSWORD, USERNAME

    return {
        "credentials": {"username": USERNAME, "password": PASSWORD, "account_id": ACCOUNT_ID},
        "endpoints": {"*": url},
    }


def _demo_cost_source(url: str) -> dict:
    return {"kind": "provider_api"}


SPEC = ProviderSpec(
    key="selectel",
    name="Selectel",
    credential_groups=(
        CredentialGroup(
            label=_("Service user"),
            fields=(
                CredentialField("username", _("User name"), required=True),
                CredentialField("password", _("Password"), FieldKind.SECRET, required=True),
                CredentialField(
                    "account_id",
                    _("Account id"),
                    required=True,
                    help_text=_("The number of the Selectel account (the Keystone domain)."),
                    placeholder="123456",
                ),
                CredentialField(
                    "project",
                    _("Project"),
                    help_text=_("A project name or id to read only that project (optional)."),
                ),
            ),
            help_text=_("A service user with the Viewer role (and the billing role for costs)."),
        ),
        CredentialGroup(
            label=_("Static token"),
            fields=(
                CredentialField(
                    "static_token",
                    _("Static token (X-Token)"),
                    FieldKind.SECRET,
                    help_text=_(
                        "An API key from the control panel. It reads billing and balance only, "
                        "not the servers of OpenStack projects."
                    ),
                ),
            ),
        ),
    ),
    credential_alternatives=True,
    clean_credentials=clean_credentials,
    credentials_help=_("Give one of the two."),
    access_hint=_("InfraZen only reads: a service user with the Viewer role is enough."),
    scope_options=(
        ScopeOption(
            "project_ids",
            _("Project ids"),
            "list",
            _("Projects to include; empty: every project of the account."),
        ),
        ScopeOption(
            "regions",
            _("Regions"),
            "list",
            _("Regions (pools) to read, e.g. ru-9; empty: every region in the token's catalog."),
        ),
    ),
    scope_help=_("What to include. Separate ids with commas."),
    scope_noun="project",
    endpoints={
        "identity": "https://cloud.api.selcloud.ru/identity/v3",
        "account": "https://api.selectel.ru",
    },
    capabilities=Capabilities(
        discovery=True,
        costs=frozenset({CostCapability.API}),
        balance=True,
        operations_log=True,
        refresh=True,
    ),
    adapter=adapter,
    services=SERVICES,
    billing_time_zone="Europe/Moscow",
    simulator=SimulatorSpec(
        module="providers.adapters.selectel.simulator",
        url_setting="SELECTEL_SIMULATOR_URL",
        connection=_simulator_connection,
        scale_args=lambda groups, per_group: [
            "--projects",
            str(groups),
            "--resources-per-project",
            str(per_group),
        ],
        demo_cost_source=_demo_cost_source,
    ),
)
