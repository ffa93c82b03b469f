"""Throttled views for the throttling tests, in-process and across gunicorn processes.

``user/`` and ``token/`` take their rates from ``DEFAULT_THROTTLE_RATES`` (``user`` and
``bearer_token``); the others fix theirs on a subclass. Every answer names the caller's
``request.user.pk``.
"""

from __future__ import annotations

from typing import Any

from django.urls import path
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from django_bearer_guard.authentication import BearerTokenAuthentication
from django_bearer_guard.throttling import TokenRateThrottle
from tests.testapp.views import WhoAmI


class ThreePerMinuteUser(UserRateThrottle):
    rate = "3/min"


class ThreePerMinuteToken(TokenRateThrottle):
    rate = "3/min"


class Throttled(APIView):
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response({"pk": request.user.pk if request.user is not None else None})


class Reports(Throttled):
    throttle_classes = [ThreePerMinuteToken]
    throttle_rates_by_scope = {"reports:read": "2/min", "reports:bulk": "5/min", "reports:frozen": "0/day"}


class FastReports(Throttled):
    """The scope of ``Reports`` at another rate: its own buckets, never a shorter window on Reports' count."""

    throttle_classes = [ThreePerMinuteToken]
    throttle_rates_by_scope = {"reports:read": "10/sec"}


class Open(Throttled):
    """Open to anyone: anonymous and session callers reach the throttle too."""

    authentication_classes = [BearerTokenAuthentication, SessionAuthentication]
    permission_classes = [AllowAny]
    throttle_classes = [ThreePerMinuteToken]


urlpatterns = [
    path("whoami/", WhoAmI.as_view()),
    path("user/", Throttled.as_view(throttle_classes=[UserRateThrottle])),
    path("user-3/", Throttled.as_view(throttle_classes=[ThreePerMinuteUser])),
    path("token/", Throttled.as_view(throttle_classes=[TokenRateThrottle])),
    path("token-3/", Throttled.as_view(throttle_classes=[ThreePerMinuteToken])),
    path("reports/", Reports.as_view()),
    path("reports-fast/", FastReports.as_view()),
    path("reports-default/", Reports.as_view(throttle_classes=[TokenRateThrottle])),
    path("open/", Open.as_view()),
]
