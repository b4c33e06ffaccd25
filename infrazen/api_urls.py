"""/api/v1/: one router for every app, so the API root lists every endpoint.

Each app's ``api/urls.py`` declares ``ROUTES`` (prefix, viewset, basename) and may add plain
``urlpatterns`` (e.g. /me/).
"""

from importlib import import_module

from django.urls import include, path
from rest_framework.routers import DefaultRouter

API_MODULES = ("core.api.urls", "providers.api.urls", "allocation.api.urls")

router = DefaultRouter()
for module_name in API_MODULES:
    for prefix, viewset, basename in import_module(module_name).ROUTES:
        router.register(prefix, viewset, basename=basename)

urlpatterns = [
    *(path("", include(module_name)) for module_name in API_MODULES),
    *router.urls,
]
