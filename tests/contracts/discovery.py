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


def service_functions() -> list[tuple[str, object]]:
    """Public functions in ``<app>/services*.py`` with a keyword-only ``actor``: the write path."""
    functions = []
    for label in PROJECT_APPS:
        names = [f"{label}.services"]
        try:
            services_pkg = importlib.import_module(f"{label}.services")
        except ModuleNotFoundError:
            continue
        if hasattr(services_pkg, "__path__"):
            names = [
                f"{label}.services.{info.name}"
                for info in pkgutil.iter_modules(services_pkg.__path__)
            ]
        for name in names:
            module = importlib.import_module(name)
            for attr, func in inspect.getmembers(module, inspect.isfunction):
                if attr.startswith("_") or func.__module__ != module.__name__:
                    continue
                # Services take keyword-only arguments, one of them ``actor`` (helpers don't).
                actor = inspect.signature(func).parameters.get("actor")
                if actor is not None and actor.kind is inspect.Parameter.KEYWORD_ONLY:
                    functions.append((f"{module.__name__}.{attr}", func))
    return sorted(functions, key=lambda item: item[0])
