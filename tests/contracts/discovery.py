"""Find everything the contracts must cover, from the live registries (URLs, admin, apps).

Nothing here lists models or endpoints by hand: a model, admin, viewset or service added later is
picked up automatically, and the contract tests fail until it has a sample or a case registered in
``tests/contracts/samples.py``.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from dataclasses import dataclass

from django.contrib import admin
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.viewsets import GenericViewSet

from core.models import tenant_scoped_models

PROJECT_APPS = ("core", "providers", "allocation", "optimization")


@dataclass(frozen=True)
class Endpoint:
    basename: str
    viewset: type
    list_actions: frozenset[str]  # HTTP methods on the list route
    detail_actions: frozenset[str]

    @property
    def model(self):
        return self.viewset.queryset.model

    @property
    def list_url(self) -> str:
        from django.urls import reverse

        return reverse(f"api:{self.basename}-list")

    def detail_url(self, pk) -> str:
        from django.urls import reverse

        return reverse(f"api:{self.basename}-detail", kwargs={"pk": pk})


def _walk(patterns, namespace=None):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, pattern.namespace or namespace)
        elif isinstance(pattern, URLPattern):
            yield pattern, namespace


def api_endpoints() -> list[Endpoint]:
    found: dict[str, dict] = {}
    for pattern, namespace in _walk(get_resolver().url_patterns):
        cls = getattr(pattern.callback, "cls", None)
        actions = getattr(pattern.callback, "actions", None)
        if namespace != "api" or cls is None or not issubclass(cls, GenericViewSet) or not actions:
            continue
        basename, _, kind = pattern.name.rpartition("-")
        if kind not in ("list", "detail"):
            continue
        entry = found.setdefault(basename, {"viewset": cls, "list": set(), "detail": set()})
        entry[kind].update(method.upper() for method in actions)
    return [
        Endpoint(name, e["viewset"], frozenset(e["list"]), frozenset(e["detail"]))
        for name, e in sorted(found.items())
    ]


def scoped_models() -> list[type]:
    return [m for m in tenant_scoped_models() if m._meta.app_label in PROJECT_APPS]


def registered_admins() -> list[tuple[type, admin.ModelAdmin]]:
    return [
        (model, model_admin)
        for model, model_admin in admin.site._registry.items()
        if model._meta.app_label in PROJECT_APPS
    ]


def project_modules() -> list:
    """Every module of the project's apps (migrations aside), imported."""
    modules = []
    for label in PROJECT_APPS:
        package = importlib.import_module(label)
        modules.append(package)
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{label}."):
            if ".migrations" not in info.name:
                modules.append(importlib.import_module(info.name))
    return modules


# Functions that take a keyword-only ``actor`` but are not services, and why.
NOT_SERVICES = {
    # The audit primitive itself: services call it inside their transaction.
    "core.audit.record_event": "audit primitive",
    # A read: streams the tenant's costs to a file after checking view_costs; it changes no row.
    "providers.costs.export.focus_export": "read",
}


def service_functions() -> list[tuple[str, object]]:
    """Public functions with a keyword-only ``actor``, wherever they are defined: the write path.

    Not only ``<app>.services``: a write path defined anywhere else is found too, and
    ``test_services_live_in_services_packages`` then asks for it to move (so that one place
    holds every write, and the audit contract sees all of them).
    """
    functions = []
    for module in project_modules():
        for attr, func in inspect.getmembers(module, inspect.isfunction):
            if attr.startswith("_") or func.__module__ != module.__name__:
                continue
            # Services take keyword-only arguments, one of them ``actor`` (helpers don't).
            actor = inspect.signature(func).parameters.get("actor")
            name = f"{module.__name__}.{attr}"
            if name in NOT_SERVICES:
                continue
            if actor is not None and actor.kind is inspect.Parameter.KEYWORD_ONLY:
                functions.append((name, func))
    return sorted(functions, key=lambda item: item[0])
