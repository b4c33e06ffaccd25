"""Provider API routes, registered on the shared /api/v1/ router (infrazen/api_urls.py)."""

from providers.api import views

ROUTES = [
    ("connections", views.ConnectionViewSet, "connection"),
    ("resources", views.ResourceViewSet, "resource"),
    ("resource-events", views.ResourceEventViewSet, "resourceevent"),
    ("sync-runs", views.SyncRunViewSet, "syncrun"),
    ("resource-metrics-daily", views.ResourceMetricDailyViewSet, "resourcemetricdaily"),
]

urlpatterns = []
