"""Provider API routes, registered on the shared /api/v1/ router (infrazen/api_urls.py)."""

from django.urls import path

from providers.api import views

ROUTES = [
    ("connections", views.ConnectionViewSet, "connection"),
    ("resources", views.ResourceViewSet, "resource"),
    ("resource-events", views.ResourceEventViewSet, "resourceevent"),
    ("sync-runs", views.SyncRunViewSet, "syncrun"),
    ("resource-metrics-daily", views.ResourceMetricDailyViewSet, "resourcemetricdaily"),
    ("cost-line-items", views.CostLineItemViewSet, "costlineitem"),
    ("import-runs", views.ImportRunViewSet, "importrun"),
    ("cost-sources", views.CostSourceViewSet, "costsource"),
    ("balances", views.BalanceSnapshotViewSet, "balancesnapshot"),
]

# Not model collections (aggregates and a file), so plain views beside the router.
urlpatterns = [
    path("cost-query/", views.CostQueryView.as_view(), name="cost-query"),
    path("cost-export/", views.CostExportView.as_view(), name="cost-export"),
]
