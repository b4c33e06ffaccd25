"""Core API routes, registered on the shared /api/v1/ router (infrazen/api_urls.py)."""

from django.urls import path

from core.api import views

ROUTES = [
    ("tenants", views.TenantViewSet, "tenant"),
    ("memberships", views.MembershipViewSet, "membership"),
    ("audit-events", views.AuditEventViewSet, "auditevent"),
    ("tokens", views.ApiTokenViewSet, "apitoken"),
]

urlpatterns = [path("me/", views.MeView.as_view(), name="me")]
