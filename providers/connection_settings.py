"""The shape of a connection's JSON settings, checked before anything is stored.

Shared by the connection services (the enforcing layer), the API serializer and the admin form
(which call it only to show errors next to the right field).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.utils.translation import gettext as _

from providers.adapters.registry import UnsupportedProvider, provider_spec


def scope_options(provider) -> dict[str, str]:
    """Scope options of a provider as declared (``ProviderSpec.scope_options``): name -> "text"
    or "list" (of text). Unknown keys are refused, because a typo ("folder_id") would otherwise
    silently widen the scope to everything the credentials can see."""
    try:
        spec = provider_spec(provider)
    except UnsupportedProvider:
        return {}
    return {option.name: option.kind for option in spec.scope_options}


def settings_shape_errors(provider, *, credentials=None, scope=None, endpoints=None) -> dict:
    """Field -> message for JSON settings of the wrong shape (shared by the API and the admin).

    Provider-specific checks (credential kinds, endpoint names) stay in the service; this only
    refuses shapes no provider accepts, so that garbage never reaches storage.
    """
    errors = {}
    if credentials is not None:
        if not isinstance(credentials, dict):
            errors["credentials"] = _("Credentials must be a JSON object.")
        elif any(not isinstance(v, str | int | bool) for v in credentials.values()):
            errors["credentials"] = _("Credential values must be text (no nested objects).")
    if endpoints is not None:
        if not isinstance(endpoints, dict):
            errors["endpoints"] = _("Endpoint overrides must be a JSON object.")
        else:
            bad = sorted(name for name, url in endpoints.items() if not _is_http_url(url))
            if bad:
                errors["endpoints"] = _("These endpoints need an http(s) URL: %(names)s") % {
                    "names": ", ".join(bad)
                }
    if scope is not None:
        if not isinstance(scope, dict):
            errors["scope"] = _("Scope must be a JSON object.")
        else:
            message = _scope_error(provider, scope)
            if message:
                errors["scope"] = message
    return errors


def _is_http_url(url) -> bool:
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _scope_error(provider, scope: dict) -> str | None:
    options = scope_options(provider)
    unknown = sorted(set(scope) - set(options))
    if unknown:
        known = ", ".join(options) or _("none yet")
        return _("Unknown scope option(s): %(unknown)s (supported: %(known)s).") % {
            "unknown": ", ".join(unknown),
            "known": known,
        }
    for key, kind in options.items():
        value = scope.get(key)
        if value in (None, "", []):
            continue
        if kind == "text" and not isinstance(value, str):
            return _("%(key)s must be text.") % {"key": key}
        if kind == "list" and (
            not isinstance(value, list) or not all(isinstance(v, str) and v for v in value)
        ):
            return _("%(key)s must be a list of ids.") % {"key": key}
    return None
