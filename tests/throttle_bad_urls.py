"""Views whose ``throttle_rates_by_scope`` cannot be read, for ``bearer_guard.E033``."""

from __future__ import annotations

from django.urls import path
from rest_framework.throttling import UserRateThrottle

from tests.throttle_urls import Reports, ThreePerMinuteToken, Throttled


class RatesAsList(Throttled):
    throttle_classes = [ThreePerMinuteToken]
    throttle_rates_by_scope = [("reports:read", "2/min")]


class MisspeltPeriod(Throttled):
    throttle_classes = [ThreePerMinuteToken]
    throttle_rates_by_scope = {"reports:read": "2/fortnight"}


class NotThrottledByToken(Throttled):
    """Not the check's business: no TokenRateThrottle reads the declaration."""

    throttle_classes = [UserRateThrottle]
    throttle_rates_by_scope = {"reports:read": "often"}


urlpatterns = [
    path("whoami/", Throttled.as_view()),
    path("as-list/", RatesAsList.as_view()),
    path("misspelt/", MisspeltPeriod.as_view()),
    path("numeric-rate/", Reports.as_view(throttle_rates_by_scope={"reports:read": 100})),
    path("user-throttled/", NotThrottledByToken.as_view()),
]
