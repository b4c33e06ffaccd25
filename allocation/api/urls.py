"""Allocation API routes, registered on the shared /api/v1/ router (infrazen/api_urls.py)."""

from django.urls import path

from allocation.api import views

ROUTES = [
    ("business-units", views.BusinessUnitViewSet, "businessunit"),
    ("projects", views.ProjectViewSet, "project"),
    ("features", views.FeatureViewSet, "feature"),
    ("environments", views.EnvironmentViewSet, "environment"),
    ("cost-centers", views.CostCenterViewSet, "costcenter"),
    ("tag-aliases", views.TagAliasViewSet, "tagalias"),
    ("required-tags", views.RequiredTagViewSet, "requiredtag"),
    ("virtual-tags", views.VirtualTagViewSet, "virtualtag"),
    ("tag-rules", views.TagRuleViewSet, "tagrule"),
    ("mapping-runs", views.MappingRunViewSet, "mappingrun"),
    ("allocation-rules", views.AllocationRuleViewSet, "allocationrule"),
    ("allocation-runs", views.AllocationRunViewSet, "allocationrun"),
    ("allocated-costs", views.AllocatedCostViewSet, "allocatedcost"),
    ("business-metrics", views.BusinessMetricViewSet, "businessmetric"),
    ("business-metric-values", views.BusinessMetricValueViewSet, "businessmetricvalue"),
    ("price-books", views.PriceBookViewSet, "pricebook"),
    ("price-book-rules", views.PriceBookRuleViewSet, "pricebookrule"),
    ("price-book-charges", views.PriceBookChargeViewSet, "pricebookcharge"),
    ("invoices", views.InvoiceViewSet, "invoice"),
]

# Reports (aggregates, not model collections): plain views beside the router.
urlpatterns = [
    path("tag-discovery/", views.TagDiscoveryView.as_view(), name="tag-discovery"),
    path("tag-compliance/", views.TagComplianceView.as_view(), name="tag-compliance"),
    path("unit-costs/", views.UnitCostView.as_view(), name="unit-costs"),
    path("chargeback/", views.ChargebackView.as_view(), name="chargeback"),
]
