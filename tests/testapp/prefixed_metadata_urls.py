"""The RFC 9728 document included below a prefix, where no client looks for it."""

from __future__ import annotations

from django.urls import include, path

urlpatterns = [path("api/", include("django_bearer_guard.urls"))]
