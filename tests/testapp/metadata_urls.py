"""The RFC 9728 document at the site root, beside views that declare scopes."""

from __future__ import annotations

from django.urls import include, path

urlpatterns = [
    path("", include("django_bearer_guard.urls")),
    path("scoped/", include("tests.testapp.scope_urls")),
    path("", include("tests.testapp.binding_urls")),
]
