"""The test URLs, with the metrics of ``contrib.prometheus`` at ``metrics/``."""

from __future__ import annotations

from django.urls import path

from django_bearer_guard.contrib.prometheus import metrics_view
from tests.urls import urlpatterns as _base

urlpatterns = [*_base, path("metrics/", metrics_view)]
