"""Beget, as the registry knows it (provider-apis.md §4): the adapter is ``beget/adapter.py``,
its simulator ``beget/simulator.py``.

The hosting API takes the account login and a separate API password (enabled in the control
panel); the VPS API takes a bearer token, or a login and password exchanged for one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext_lazy as _

from providers.adapters.beget.services import SERVICES
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

LOGIN = re.compile(r"[A-Za-z0-9_.-]{2,64}")


def clean_credentials(credentials: Mapping[str, Any]) -> dict[str, str]:
    values = {
        name: text_value(credentials, name)
        for name in ("login", "api_password", "vps_login", "vps_password", "vps_token")
    }
    if not values["login"] or not values["api_password"]:
        missing = "login" if not values["login"] else "api_password"
        raise SettingsInvalid(
            _("The hosting API needs the account login and its API password."), field=missing
        )
    if not LOGIN.fullmatch(values["login"]):
        raise SettingsInvalid(_("This is not a Beget account login."), field="login")
    cleaned = {"login": values["login"], "api_password": values["api_password"]}
    vps_pair = values["vps_login"] or values["vps_password"]
    if values["vps_token"] and vps_pair:
        raise SettingsInvalid(
            _("For the VPS API give either a token or a login and password, not both."),
            field="vps_token",
        )
    if vps_pair:
        if not values["vps_login"] or not values["vps_password"]:
            missing = "vps_login" if not values["vps_login"] else "vps_password"
            raise SettingsInvalid(
                _("The VPS API needs both a login and a password."), field=missing
            )
        cleaned.update(vps_login=values["vps_login"], vps_password=values["vps_password"])
    elif values["vps_token"]:
        cleaned["vps_token"] = values["vps_token"]
    return cleaned


def check_scope(scope: Mapping[str, Any]) -> None:
    """The inferred details a connection may pin (``BegetOptions``): a time zone, VPS size units
    and how to read the plan rate."""
    from providers.adapters.beget.discovery import BegetOptions

    BegetOptions.from_scope(dict(scope))


def adapter(credentials, scope, endpoints):
    from providers.adapters.beget.adapter import BegetAdapter

    return BegetAdapter(credentials, scope=scope or {}, endpoints=endpoints or {})


def _simulator_connection(url: str) -> dict:
    from providers.adapters.beget.simulator import (
        DEFAULT_API_PASSWORD,
        DEFAULT_LOGIN,
        DEFAULT_VPS_PASSWORD,
    )

    return {
        "credentials": {
            "login": DEFAULT_LOGIN,
            "api_password": DEFAULT_API_PASSWORD,
            "vps_login": DEFAULT_LOGIN,
            "vps_password": DEFAULT_VPS_PASSWORD,
        },
        "endpoints": {"*": url},
    }


def _demo_cost_source(url: str) -> dict:
    return {"kind": "provider_api"}


SPEC = ProviderSpec(
    key="beget",
    name="Beget",
    credential_groups=(
        CredentialGroup(
            label=_("Hosting API"),
            fields=(
                CredentialField("login", _("Account login"), required=True),
                CredentialField(
                    "api_password",
                    _("API password"),
                    FieldKind.SECRET,
                    required=True,
                    help_text=_(
                        "Not the account password: enable API access in the control panel and "
                        "set its own password there."
                    ),
                ),
            ),
        ),
        CredentialGroup(
            label=_("VPS API"),
            fields=(
                CredentialField("vps_login", _("Login")),
                CredentialField("vps_password", _("Password"), FieldKind.SECRET),
                CredentialField(
                    "vps_token",
                    _("…or a token"),
                    FieldKind.SECRET,
                    help_text=_("A bearer token of the cloud API instead of login and password."),
                ),
            ),
            help_text=_("Only for cloud servers (VPS); leave empty without them."),
            optional=True,
        ),
    ),
    clean_credentials=clean_credentials,
    access_hint=_("InfraZen only reads the account, its sites, domains and servers."),
    scope_options=(
        ScopeOption(
            "time_zone",
            _("Time zone"),
            help_text=_("Of Beget's dates and billing days; empty: Europe/Moscow."),
        ),
        ScopeOption(
            "vps_memory_unit",
            _("VPS memory unit"),
            help_text=_("auto (default), MiB, GiB, MB or GB."),
        ),
        ScopeOption(
            "vps_disk_unit", _("VPS disk unit"), help_text=_("auto (default), MiB, GiB, MB or GB.")
        ),
        ScopeOption(
            "plan_rate",
            _("Daily rate covers"),
            help_text=_(
                "plan: the plan only; total: plan and cloud servers; auto (default): decided "
                "by the plan's monthly price."
            ),
        ),
    ),
    scope_help=_("Only needed when Beget's defaults do not fit; leave empty otherwise."),
    scope_noun="account",
    check_scope=check_scope,
    endpoints={"hosting": "https://api.beget.com/api", "vps": "https://api.beget.com"},
    capabilities=Capabilities(
        discovery=True,
        metrics=True,
        costs=frozenset({CostCapability.API}),
        balance=True,
        operations_log=True,
        refresh=True,
    ),
    adapter=adapter,
    services=SERVICES,
    billing_time_zone="Europe/Moscow",
    simulator=SimulatorSpec(
        module="providers.adapters.beget.simulator",
        url_setting="BEGET_SIMULATOR_URL",
        connection=_simulator_connection,
        scale_args=lambda groups, per_group: ["--resources", str(groups * per_group)],
        demo_cost_source=_demo_cost_source,
    ),
)
