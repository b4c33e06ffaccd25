"""VK Cloud, as the registry knows it (provider-apis.md §3); the adapter is
``providers.adapters.vk_cloud.adapter`` over the shared OpenStack package. No cost API: the
console's detail export is uploaded (``detail.py``) and estimates come from the inventory and
the operators' price list (``providers.services.estimates``).

Keystone password auth scoped to one project; the Keystone URL differs between sources (port
35357, port 5000, /identity/v3) and private installations, so it is a credential with the EN
docs' default, which only MSP operators may point outside VK's own hosts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext_lazy as _

from providers.adapters.spec import (
    Capabilities,
    CostCapability,
    CostFileFormat,
    CredentialField,
    CredentialGroup,
    FieldKind,
    ProviderSpec,
    ScopeOption,
    SettingsInvalid,
    SimulatorSpec,
    http_url,
    text_value,
)
from providers.adapters.vk_cloud.detail import parse_detail
from providers.adapters.vk_cloud.services import REGION_NAMES, SERVICES

DEFAULT_AUTH_URL = "https://infra.mail.ru:35357/v3/"
DEFAULT_DOMAIN = "users"
PROJECT_ID = re.compile(r"[0-9a-f]{32}")
REQUIRED = ("username", "password", "project_id")


def clean_credentials(credentials: Mapping[str, Any]) -> dict[str, str]:
    values = {
        name: text_value(credentials, name)
        for name in (*REQUIRED, "user_domain", "auth_url", "project_pid")
    }
    missing = [name for name in REQUIRED if not values[name]]
    if missing:
        raise SettingsInvalid(
            _("VK Cloud needs %(fields)s.") % {"fields": ", ".join(missing)}, field=missing[0]
        )
    project_id = values["project_id"].replace("-", "").lower()
    if not PROJECT_ID.fullmatch(project_id):
        hint = (
            _(" That is the console's PID; give it as the project PID below.")
            if values["project_id"].lower().startswith("mcs")
            else ""
        )
        raise SettingsInvalid(
            _(
                "The project id is OpenStack's, 32 hexadecimal characters (Project settings → API "
                "access)."
            )
            + hint,
            field="project_id",
        )
    cleaned = {
        "username": values["username"],
        "password": values["password"],
        "project_id": project_id,
        "user_domain": values["user_domain"] or DEFAULT_DOMAIN,
        "auth_url": http_url(values["auth_url"] or DEFAULT_AUTH_URL, "auth_url"),
    }
    if values["project_pid"]:
        cleaned["project_pid"] = values["project_pid"]
    return cleaned


def _demo_cost_source(url: str) -> dict:
    # No cost API: a provider_api source on the connection pulls estimates (inventory x the
    # price list; the demo seeds an illustrative one when the platform has none).
    return {"kind": "provider_api"}


def adapter(credentials, scope, endpoints):
    from providers.adapters.vk_cloud.adapter import VKCloudAdapter

    return VKCloudAdapter(credentials, scope=scope or {}, endpoints=endpoints or {})


def _simulator_connection(url: str) -> dict:
    from providers.adapters.vk_cloud.simulator import (
        DOMAIN,
        PASSWORD,
        PROJECT_PID,
        USERNAME,
        VKCloudSimulator,
    )

    # The simulator's project id follows from its seed (1, as the demo and bench start it).
    return {
        "credentials": {
            "username": USERNAME,
            "password": PASSWORD,
            "project_id": VKCloudSimulator.project_id_for(1),
            "project_pid": PROJECT_PID,
            "user_domain": DOMAIN,
            "auth_url": f"{url.rstrip('/')}/identity/v3",
        },
        "endpoints": {"*": url},
    }


DETAIL_EXPORT = CostFileFormat(
    kind="vk_cloud_detail",
    label=_("VK Cloud cost detail export (xlsx or csv)"),
    suffixes=(".xlsx", ".csv"),
    parse=parse_detail,
)


SPEC = ProviderSpec(
    key="vk_cloud",
    name="VK Cloud",
    credential_groups=(
        CredentialGroup(
            label=_("API user"),
            fields=(
                CredentialField("username", _("User name (e-mail)"), required=True),
                CredentialField("password", _("Password"), FieldKind.SECRET, required=True),
                CredentialField(
                    "project_id",
                    _("Project id"),
                    required=True,
                    help_text=_("OpenStack's project id (32 hexadecimal characters)."),
                ),
                CredentialField(
                    "project_pid",
                    _("Project PID"),
                    help_text=_("The console's project id (mcs…), for the balance (optional)."),
                    placeholder="mcs1234567890",
                ),
                CredentialField(
                    "user_domain",
                    _("User domain"),
                    default=DEFAULT_DOMAIN,
                    placeholder=DEFAULT_DOMAIN,
                ),
                CredentialField(
                    "auth_url",
                    _("Keystone URL"),
                    FieldKind.URL,
                    default=DEFAULT_AUTH_URL,
                    placeholder=DEFAULT_AUTH_URL,
                    help_text=_("Change it only for another region or a private installation."),
                ),
            ),
            help_text=_("API access must be enabled for the user in the VK Cloud console."),
        ),
    ),
    clean_credentials=clean_credentials,
    access_hint=_("InfraZen only reads: a user with the Viewer role in the project is enough."),
    scope_options=(
        ScopeOption(
            "regions",
            _("Regions"),
            "list",
            _("Keystone regions to read (RegionOne, kz); empty: every region in the catalog."),
        ),
    ),
    scope_noun="project",
    endpoints={"billing": "https://msk.cloud.vk.com/billing/public/v1"},
    trusted_hosts=("mail.ru", "vk.com", "vkcloud.ru", "vkcs.cloud", "bizmrg.com"),
    capabilities=Capabilities(
        discovery=True,
        costs=frozenset({CostCapability.FILE, CostCapability.ESTIMATE}),
        balance=True,
        operations_log=True,
        refresh=True,
    ),
    adapter=adapter,
    region_names=REGION_NAMES,
    services=SERVICES,
    billing_time_zone="Europe/Moscow",
    cost_files=(DETAIL_EXPORT,),
    simulator=SimulatorSpec(
        module="providers.adapters.vk_cloud.simulator",
        url_setting="VK_CLOUD_SIMULATOR_URL",
        connection=_simulator_connection,
        # One project per connection: the bench's groups x per group resources in it.
        scale_args=lambda groups, per_group: ["--resources", str(groups * per_group)],
        demo_cost_source=_demo_cost_source,
    ),
)
