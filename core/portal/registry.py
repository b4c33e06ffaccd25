"""The registry of portal views: what the cross-tenant isolation matrix iterates.

Every portal URL is declared with ``portal_path``, which both builds the Django ``path()`` and
records a ``PortalView`` in ``PORTAL_VIEWS``. A test checks that every named URL in the ``portal``
namespace is registered, so a view cannot be added without declaring how it takes object ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.urls import path


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


PORTAL_VIEWS: list[PortalView] = []


def portal_path(route: str, view, name: str, **spec):
    """``django.urls.path`` plus registration in ``PORTAL_VIEWS``."""
    if any(entry.name == name for entry in PORTAL_VIEWS):
        raise ValueError(f"portal view {name!r} registered twice")
    PORTAL_VIEWS.append(PortalView(name=name, **spec))
    return path(route, view, name=name)


def portal_view_spec(name: str) -> PortalView:
    for entry in PORTAL_VIEWS:
        if entry.name == name:
            return entry
    raise KeyError(name)
