from django.urls import path
from rest_framework.routers import DefaultRouter

from core.api import views

router = DefaultRouter()
router.register("tenants", views.TenantViewSet, basename="tenant")
router.register("memberships", views.MembershipViewSet, basename="membership")
router.register("audit-events", views.AuditEventViewSet, basename="auditevent")
router.register("tokens", views.ApiTokenViewSet, basename="apitoken")

urlpatterns = [path("me/", views.MeView.as_view(), name="me"), *router.urls]
