"""What a provider package declares about itself: one ``ProviderSpec`` per provider.

Everything that used to be an ``if provider == "yandex_cloud"`` somewhere reads the declaration
instead: the connection forms (admin and portal) are generated from its credential fields and
scope options, the connection services validate with its validator, endpoint overrides are
checked against its named endpoints, the demo and the sync benchmark start its simulator, cost
enrichment reads its region names, and services ask its capabilities before calling an optional
adapter method. Each provider package has a ``spec`` module with ``SPEC = ProviderSpec(...)``,
listed in ``providers.adapters.registry.PROVIDER_MODULES``.

A declaration imports nothing of Django but lazy translations, and nothing of the ORM: the
``Connection.provider`` choices are built from the registry while models load.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from providers.adapters.base import ProviderAdapter
    from providers.adapters.listing import ServiceInfo


class UnsupportedProvider(Exception):
    """The provider is declared but has no adapter (yet), or is not declared at all."""


def no_adapter_yet(credentials, scope, endpoints):
    """The ``adapter`` of a provider whose settings are declared before its adapter lands."""
    raise UnsupportedProvider("No adapter for this provider yet")


class SettingsInvalid(ValueError):
    """A setting an adapter would refuse, in words for the person who typed it. ``field`` names
    the credential (or scope) field it is about, so forms can show it there; None: the whole."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = str(message)
        self.field = field


class FieldKind(StrEnum):
    TEXT = "text"  # a plain value (a login, an account id)
    SECRET = "secret"  # noqa: S105 -- a kind of field: write-only, never rendered back
    # A JSON object pasted in a text area or uploaded as a file (a key file); its keys (those in
    # ``json_keys``) are stored as top-level credentials.
    JSON = "json"
    # An http(s) URL the adapter will call with the credentials (VK Cloud's Keystone): outside
    # the provider's ``trusted_hosts`` only MSP operators may set it (it is an SSRF surface).
    URL = "url"


@dataclass(frozen=True)
class CredentialField:
    name: str
    label: Any  # str or a lazy translation
    kind: FieldKind = FieldKind.TEXT
    help_text: Any = ""
    placeholder: str = ""
    # Required whenever the group is used; the validator decides the combinations.
    required: bool = False
    default: str = ""  # filled in when left empty (and shown as the placeholder)
    json_keys: tuple[str, ...] = ()  # JSON fields: the keys kept (empty: all)
    upload_name: str = ""  # JSON fields: the name of the file-upload field beside the text area
    max_length: int = 20_000

    @property
    def secret(self) -> bool:
        return self.kind in (FieldKind.SECRET, FieldKind.JSON)


@dataclass(frozen=True)
class CredentialGroup:
    """Fields that belong together (a login and its password)."""

    label: Any
    fields: tuple[CredentialField, ...]
    help_text: Any = ""
    optional: bool = False  # the whole group may be left empty


@dataclass(frozen=True)
class ScopeOption:
    name: str
    label: Any
    kind: str = "text"  # "text" or "list" (of ids)
    help_text: Any = ""


class CostCapability(StrEnum):
    API = "api"  # adapter.costs(period): the provider's cost API (Selectel billing statistics)
    BUCKET_EXPORT = "bucket_export"  # billing files the provider writes to a bucket (Yandex)
    FILE = "file"  # provider-specific files uploaded by people (VK Cloud detail export)
    ESTIMATE = "estimate"  # inventory x a price list, flagged as estimated (VK Cloud)


@dataclass(frozen=True)
class Capabilities:
    discovery: bool = False
    metrics: bool = False
    costs: frozenset[CostCapability] = frozenset()
    balance: bool = False
    operations_log: bool = False
    refresh: bool = False  # single-resource refresh (the webhook)


@dataclass(frozen=True)
class CostFileFormat:
    """A provider-specific cost file people upload (VK Cloud's detail export), read into
    ``CostRecord``s. ``parse(stream, file_name)`` yields them, raising ValueError with a
    readable reason (and a line or row number) for a file it cannot read; the import replaces the
    source's rows of the whole days (in the provider's billing time zone) the file covers."""

    kind: str  # the CostSource.file_kind naming it, e.g. "vk_cloud_detail"
    label: Any
    suffixes: tuple[str, ...]  # accepted file name endings, e.g. (".xlsx", ".csv")
    parse: Callable[[Any, str], Any]
    estimated: bool = False  # the file holds estimates rather than billed costs


@dataclass(frozen=True)
class SimulatorSpec:
    """How to run the provider's simulator, for the demo and the benchmarks."""

    # ``python -m <module> --port 0 <args>`` serves the API and prints "... on http://host:port".
    module: str
    # The setting holding the URL of a simulator the quick start runs (the demo connects to it).
    url_setting: str
    # url -> ``connection_create`` keyword arguments (credentials, endpoints, scope).
    connection: Callable[[str], dict]
    # (groups, resources per group) -> the simulator's sizing arguments (benchmarks).
    scale_args: Callable[[int, int], list[str]] = lambda groups, per_group: []
    # url -> ``cost_source_create`` keyword arguments of a demo cost source, or None.
    demo_cost_source: Callable[[str], dict | None] | None = None


@dataclass(frozen=True)
class ProviderSpec:
    """One provider, declared once (see the module docstring)."""

    key: str  # Connection.provider, e.g. "yandex_cloud"
    # Display name, FOCUS ProviderName and the VAT rules' provider name: all three must be equal.
    name: str
    credential_groups: tuple[CredentialGroup, ...]
    # Normalizes credentials for storage (drops empty and unknown keys, fills defaults) or raises
    # SettingsInvalid; runs without network access.
    clean_credentials: Callable[[Mapping[str, Any]], dict[str, str]]
    # Whether the groups are alternatives ("give one of these"): drawn with "or" between them.
    credential_alternatives: bool = False
    credentials_help: Any = ""  # one line above the fields
    access_hint: Any = ""  # what access InfraZen needs, shown when a connection is added
    scope_options: tuple[ScopeOption, ...] = ()
    scope_help: Any = ""
    scope_noun: str = "project"
    # Extra scope checks beyond the option kinds; raises SettingsInvalid.
    check_scope: Callable[[Mapping[str, Any]], None] | None = None
    # Named API endpoints and their defaults; a connection may override any of them (or all at
    # once with "*"): regional installations, private clouds, simulators.
    endpoints: Mapping[str, str] = field(default_factory=dict)
    # Hosts that URL credential fields may name without an operator (suffix match).
    trusted_hosts: tuple[str, ...] = ()
    capabilities: Capabilities = Capabilities()
    # (credentials, scope, endpoints) -> a ProviderAdapter; None: no adapter yet.
    adapter: Callable[..., ProviderAdapter] | None = None
    region_names: Mapping[str, str] = field(default_factory=dict)
    # Services discovery reads, with the role each needs (shown when one cannot be read).
    services: Mapping[str, ServiceInfo] = field(default_factory=dict)
    # Days of cost data are whole days in this zone (cost API periods are cut along them).
    billing_time_zone: str = "UTC"
    # Provider-specific cost files it offers for upload (CostCapability.FILE).
    cost_files: tuple[CostFileFormat, ...] = ()
    simulator: SimulatorSpec | None = None

    # -- derived -----------------------------------------------------------------------------------

    @property
    def has_adapter(self) -> bool:
        """False while the provider is declared but its adapter has not landed."""
        return self.adapter is not None and self.adapter is not no_adapter_yet

    @property
    def credential_fields(self) -> tuple[CredentialField, ...]:
        return tuple(f for group in self.credential_groups for f in group.fields)

    def credential_field(self, name: str) -> CredentialField | None:
        return next((f for f in self.credential_fields if f.name == name), None)

    @property
    def credential_keys(self) -> frozenset[str]:
        """Every key stored credentials may have."""
        keys: set[str] = set()
        for f in self.credential_fields:
            keys.update(f.json_keys if f.kind == FieldKind.JSON else (f.name,))
        return frozenset(keys)

    def scope_option(self, name: str) -> ScopeOption | None:
        return next((o for o in self.scope_options if o.name == name), None)

    def credentials_from_form(self, values: Mapping[str, str]) -> dict[str, Any]:
        """Form text (field name -> what was typed, uploads read as text) -> credentials to
        validate: JSON fields are parsed and merged, empty fields left out."""
        credentials: dict[str, Any] = {}
        for f in self.credential_fields:
            text = values.get(f.name)
            if text is None:
                continue
            text = text.strip() if f.kind != FieldKind.SECRET else text
            if not text:
                continue
            if f.kind == FieldKind.JSON:
                credentials.update(parse_json_field(f, text))
            else:
                credentials[f.name] = text
        return credentials


def parse_json_field(f: CredentialField, text: str) -> dict[str, Any]:
    """A JSON field's object, limited to its ``json_keys``; SettingsInvalid names the field and
    the position of a syntax error, never the content (it is a secret)."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise SettingsInvalid(
            f"This is not valid JSON (line {getattr(exc, 'lineno', '?')}, "
            f"column {getattr(exc, 'colno', '?')}).",
            field=f.name,
        ) from None
    if not isinstance(data, dict):
        raise SettingsInvalid(f"{f.label} must be a JSON object.", field=f.name)
    if f.json_keys:
        data = {k: v for k, v in data.items() if k in f.json_keys}
    return data


# --- helpers for validators -------------------------------------------------------------------


def text_value(credentials: Mapping[str, Any], name: str) -> str:
    value = credentials.get(name)
    if value is None:
        return ""
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise SettingsInvalid(f"{name} must be text.", field=name)
    return str(value).strip()


def require(spec_fields: Mapping[str, str], names: tuple[str, ...], what: str) -> None:
    """SettingsInvalid naming the first missing field of ``names`` (values already cleaned)."""
    missing = [name for name in names if not spec_fields.get(name)]
    if missing:
        raise SettingsInvalid(f"{what}: give {', '.join(missing)}.", field=missing[0])


def http_url(value: str, name: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsInvalid(f"{name} must be an http(s) URL.", field=name)
    return value


def host_is_trusted(url: str, trusted: tuple[str, ...]) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return any(host == t or host.endswith("." + t) for t in trusted)


_ID_SEPARATORS = re.compile(r"[\s,;]+")


def split_ids(text: str) -> list[str]:
    """'a, b c;a' -> ['a', 'b', 'c']: ids separated by commas, spaces or new lines, no repeats."""
    return list(dict.fromkeys(part for part in _ID_SEPARATORS.split(text or "") if part))
