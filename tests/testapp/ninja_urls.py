"""The resources of ``plain_urls`` and the same ones behind django-ninja."""

from __future__ import annotations

from django.urls import path

from tests.testapp import plain_urls
from tests.testapp.ninja_api import api, bare

urlpatterns = [
    *plain_urls.urlpatterns,
    path("ninja/", api.urls),
    path("bare/", bare.urls),
]
