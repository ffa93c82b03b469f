"""The example project's URLs, and its OpenAPI schema at ``/api/schema/`` (open to anyone)."""

from __future__ import annotations

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import AllowAny  # noqa: TID251 - a site around the library, like the example

SCHEMA_PATH = "api/schema/"

urlpatterns = [
    path(SCHEMA_PATH, SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[AllowAny])),
    path("", include("example_project.urls")),
]
