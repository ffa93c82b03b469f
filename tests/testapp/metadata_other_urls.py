"""Another URLconf with the RFC 9728 document: its one view declares other scopes."""

from __future__ import annotations

from typing import Any

from django.urls import include, path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from django_bearer_guard.permissions import HasScopes


class Profile(APIView):
    permission_classes = [HasScopes]
    required_scopes = ["profile:read"]

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response({"ok": True})


class Unscoped(APIView):
    """Declares scopes without HasScopes: nothing enforces them, so the document leaves them out."""

    required_scopes = ["never:enforced"]

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response({"ok": True})


urlpatterns = [
    path("", include("django_bearer_guard.urls")),
    path("profile/", Profile.as_view()),
    path("unscoped/", Unscoped.as_view()),
]
