"""The portal's registries: its views (what the cross-tenant isolation matrix iterates) and its
navigation bar.

Each app owns its portal pages in ``<app>/portal/urls.py``; ``infrazen/portal_urls.py`` lists
those modules (as ``infrazen/api_urls.py`` lists the API modules) and mounts them in the one
``portal`` namespace. A module declares its routes with ``portal_path``, which both builds the
Django ``path()`` and records a ``PortalView`` in ``PORTAL_VIEWS``, and may declare
``NAVIGATION``: the ``NavEntry`` items it adds to the bar. A test checks that every named URL in
the ``portal`` namespace is registered, so a view cannot be added without declaring how it takes
object ids. Core keeps the shell (layout, auth, tenancy); it never imports a feature app.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.urls import get_resolver, path


@dataclass(frozen=True)
class PortalView:
    # URL name inside the "portal" namespace: reverse(f"portal:{name}", kwargs=...).
    name: str
    # HTTP methods the view answers (others get 405).
    methods: tuple[str, ...] = ("GET",)
    # Reachable without logging in (login, password reset); everything else redirects to login.
    public: bool = False
    # Uses the current tenant (``request.portal_tenant``): shows or changes that tenant's data.
    tenant_scoped: bool = True
    # When the view takes an object id: the model it names ("app_label.ModelName"), the parameter
    # carrying it and where ("url" = a URL kwarg, "post" = a form field). Another tenant's id must
    # answer 404 and change nothing.
    object_model: str | None = None
    object_param: str | None = None
    object_in: str = "url"
    # A valid POST body (besides the object id) so a matrix can make a request that would succeed
    # for an object of the user's own tenant.
    post_data: dict = field(default_factory=dict)
    # The capability the view needs on the current tenant beyond viewing it (None = view only).
    capability: str | None = None

    @property
    def takes_object_id(self) -> bool:
        return self.object_model is not None


@dataclass(frozen=True)
class NavEntry:
    # Also the prefix of the section's URL names: "costs" is active on "portal:costs_upload".
    key: str
    label: str
    # Until a URL of this name exists the entry is shown as "coming soon", so an app can announce
    # a section before it serves it.
    url_name: str
    # Position in the bar, lowest first (core: dashboard 10, team 90).
    order: int


PORTAL_VIEWS: list[PortalView] = []
PORTAL_NAV: list[NavEntry] = []


def portal_path(route: str, view, name: str, **spec):
    """``django.urls.path`` plus registration in ``PORTAL_VIEWS``."""
    if any(entry.name == name for entry in PORTAL_VIEWS):
        raise ValueError(f"portal view {name!r} registered twice")
    PORTAL_VIEWS.append(PortalView(name=name, **spec))
    return path(route, view, name=name)


def register_navigation(entries: Iterable[NavEntry]) -> None:
    for entry in entries:
        if any(known.key == entry.key for known in PORTAL_NAV):
            raise ValueError(f"portal navigation entry {entry.key!r} registered twice")
        PORTAL_NAV.append(entry)


def _load() -> None:
    # Both registries fill up as the portal URL modules are imported, i.e. when the root URLconf
    # loads; reading them before that (at test collection, say) must not find them half empty.
    get_resolver().url_patterns  # noqa: B018  (loading is the point)


def portal_views() -> list[PortalView]:
    _load()
    return list(PORTAL_VIEWS)


def navigation() -> list[NavEntry]:
    _load()
    return sorted(PORTAL_NAV, key=lambda entry: (entry.order, entry.key))
