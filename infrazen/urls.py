from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from providers.webhooks import ConnectionWebhookView, ResourceRefreshWebhookView

handler404 = "core.api.errors.page_not_found"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="portal:dashboard", permanent=False)),
    path("admin/", admin.site.urls),
    path("portal/", include("infrazen.portal_urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include(("infrazen.api_urls", "api"), namespace="api")),
    path(
        "webhooks/connections/<int:pk>/",
        ConnectionWebhookView.as_view(),
        name="connection-webhook",
    ),
    path(
        "webhooks/connections/<int:pk>/refresh/",
        ResourceRefreshWebhookView.as_view(),
        name="resource-refresh-webhook",
    ),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger's init script as a file, so the docs need no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
]
