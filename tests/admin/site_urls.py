"""A project's own admin site at /ops/, with TrustedIssuerAdmin registered on it."""

from __future__ import annotations

from django.contrib.admin import AdminSite
from django.urls import path

from django_bearer_guard.admin import TrustedIssuerAdmin
from django_bearer_guard.models import TrustedIssuer
from tests import urls

site = AdminSite(name="ops")
site.register(TrustedIssuer, TrustedIssuerAdmin)

urlpatterns = [path("ops/", site.urls), *urls.urlpatterns]
