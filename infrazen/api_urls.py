"""/api/v1/: every app contributes its router here."""

from django.urls import include, path

urlpatterns = [
    path("", include("core.api.urls")),
]
