"""/portal/: one URL namespace and one navigation bar for every app's portal pages.

Each app's ``portal/urls.py`` declares ``urlpatterns`` (built with ``core.portal.registry.
portal_path``, so each page is in the isolation matrix) and may declare ``NAVIGATION``
(``NavEntry`` items). Core provides the shell, sign-in and tenancy and imports no feature app;
this project-level module is where the apps are put together, as ``infrazen/api_urls.py`` does
for the API.
"""

from importlib import import_module

from core.portal.registry import register_navigation

PORTAL_MODULES = (
    "core.portal.urls",
    "providers.portal.urls",
    "allocation.portal.urls",
    "optimization.portal.urls",
)

app_name = "portal"

urlpatterns = []
for module_name in PORTAL_MODULES:
    module = import_module(module_name)
    urlpatterns += module.urlpatterns
    register_navigation(getattr(module, "NAVIGATION", ()))
