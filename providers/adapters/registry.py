"""The provider registry: every provider's ``ProviderSpec``, and what is derived from it.

Providers are declared in their packages (``providers/adapters/<provider>/spec.py``, a module
with ``SPEC``) and listed here once, in the order forms and lists show them. Nothing else in the
code base names a provider: add one by writing its package and adding its module below (see
``providers/adapters/README.md``).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from functools import cache
from typing import Any

from providers.adapters.base import ProviderAdapter
from providers.adapters.spec import (
    CostFileFormat,
    FieldKind,
    ProviderSpec,
    SettingsInvalid,
    UnsupportedProvider,
    host_is_trusted,
)

PROVIDER_MODULES = (
    "providers.adapters.yandex.spec",
    "providers.adapters.selectel.spec",
    "providers.adapters.vk_cloud.spec",
    "providers.adapters.beget.spec",
)

__all__ = [
    "UnsupportedProvider",
    "build_adapter",
    "provider_choices",
    "provider_spec",
    "provider_specs",
    "region_names",
    "validate_settings",
]


@cache
def _registry() -> dict[str, ProviderSpec]:
    specs: dict[str, ProviderSpec] = {}
    for module in PROVIDER_MODULES:
        spec = importlib.import_module(module).SPEC
        if spec.key in specs:
            raise ValueError(f"provider {spec.key!r} declared twice")
        specs[spec.key] = spec
    return specs


def provider_specs() -> list[ProviderSpec]:
    return list(_registry().values())


def provider_spec(provider: str) -> ProviderSpec:
    """The declaration of ``provider`` (a ``Connection.provider`` key); UnsupportedProvider for
    a key nobody declared."""
    try:
        return _registry()[provider]
    except KeyError:
        raise UnsupportedProvider(f"Unknown provider {provider!r}") from None


def provider_choices() -> list[tuple[str, str]]:
    """(key, name) of every provider: the choices of ``Connection.provider``."""
    return [(spec.key, spec.name) for spec in provider_specs()]


def build_adapter(
    provider: str,
    *,
    credentials: Mapping[str, Any],
    scope: Mapping[str, Any] | None = None,
    endpoints: Mapping[str, str] | None = None,
) -> ProviderAdapter:
    """An adapter for one connection. UnsupportedProvider when the provider has none (yet);
    ValueError with a readable reason for settings the adapter refuses."""
    spec = provider_spec(provider)
    if spec.adapter is None:
        raise UnsupportedProvider(f"No adapter for {spec.name} yet")
    try:
        return spec.adapter(credentials, scope or {}, endpoints or {})
    except UnsupportedProvider as exc:
        raise UnsupportedProvider(f"No adapter for {spec.name} yet") from exc


def validate_settings(
    provider: str,
    *,
    credentials: Mapping[str, Any] | None,
    scope: Mapping[str, Any] | None,
    endpoints: Mapping[str, str] | None,
    trusted: bool = False,
) -> dict[str, str]:
    """Field -> error for settings the provider's declaration refuses; empty when all is well.

    Runs without network access, so it can guard every write of a connection. ``credentials``
    None means "unchanged" (not checked). ``trusted`` (an MSP operator) may point URL
    credentials outside the provider's own hosts.
    """
    try:
        spec = provider_spec(provider)
    except UnsupportedProvider as exc:
        return {"provider": str(exc)}
    errors: dict[str, str] = {}
    if credentials is not None:
        try:
            cleaned = spec.clean_credentials(credentials)
        except SettingsInvalid as exc:
            errors["credentials"] = exc.message
        else:
            unknown = sorted(set(credentials) - spec.credential_keys)
            if unknown:
                errors["credentials"] = (
                    f"Unknown credential field(s) for {spec.name}: {', '.join(unknown)}"
                )
            elif not trusted:
                for field in spec.credential_fields:
                    url = cleaned.get(field.name)
                    if (
                        field.kind == FieldKind.URL
                        and url
                        and url != field.default
                        and not host_is_trusted(url, spec.trusted_hosts)
                    ):
                        errors["credentials"] = (
                            f"Only MSP operators can point {field.name} outside "
                            f"{spec.name}'s own hosts."
                        )
    if scope and spec.check_scope is not None:
        try:
            spec.check_scope(scope)
        except SettingsInvalid as exc:
            errors["scope"] = exc.message
    if endpoints:
        unknown = sorted(set(endpoints) - set(spec.endpoints) - {"*"})
        if unknown:
            known = ", ".join(["*", *spec.endpoints]) if spec.endpoints else "none"
            errors["endpoints"] = (
                f"Unknown {spec.name} endpoint(s): {', '.join(unknown)} (known: {known})"
            )
    return errors


def clean_credentials(provider: str, credentials: Mapping[str, Any]) -> dict[str, str]:
    """The credentials as stored: normalized by the provider's declaration (SettingsInvalid)."""
    return provider_spec(provider).clean_credentials(credentials)


# Cost file formats registered besides the declared ones (plug-ins, tests): kind -> (provider,
# format).
_extra_cost_files: dict[str, tuple[str, CostFileFormat]] = {}


def register_cost_file_format(provider: str, fmt: CostFileFormat) -> CostFileFormat:
    """Add a cost file format of ``provider`` (which must declare the FILE cost capability)."""
    from providers.adapters.spec import CostCapability

    spec = provider_spec(provider)
    if CostCapability.FILE not in spec.capabilities.costs:
        raise ValueError(f"{spec.name} does not declare cost files")
    if fmt.kind in cost_file_formats():
        raise ValueError(f"cost file format {fmt.kind!r} registered twice")
    _extra_cost_files[fmt.kind] = (spec.key, fmt)
    return fmt


def unregister_cost_file_format(kind: str) -> None:
    _extra_cost_files.pop(kind, None)


def cost_file_formats() -> dict[str, tuple[str, CostFileFormat]]:
    """Every cost file format: kind -> (provider key, format)."""
    formats = {fmt.kind: (spec.key, fmt) for spec in provider_specs() for fmt in spec.cost_files}
    return {**formats, **_extra_cost_files}


def cost_file_format(kind: str) -> tuple[str, CostFileFormat]:
    """(provider key, format) of a file kind; KeyError for an unknown kind."""
    return cost_file_formats()[kind]


def region_names() -> dict[str, str]:
    """Region id -> display name, over every provider's regions (FOCUS RegionName)."""
    names: dict[str, str] = {}
    for spec in provider_specs():
        names.update(spec.region_names)
    return names
