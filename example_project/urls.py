"""URLs of the example project: the API, the file areas, the resource metadata, the admin and the
development issuer."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("example_project.demo.urls")),
    # RFC 9728 protected resource metadata, at the site root.
    path("", include("django_bearer_guard.urls")),
    path("admin/", admin.site.urls),
    # Development only: the issuer whose keys sign the demo tokens.
    path("dev-issuer/", include("example_project.demo.dev_issuer")),
]
