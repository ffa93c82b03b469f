"""A URLconf of misdeclared step-up views, for the ``bearer_guard.E031``/``E032``/``W016`` checks."""

from __future__ import annotations

from typing import Any

from django.urls import path
from rest_framework.permissions import IsAdminUser, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from django_bearer_guard.permissions import HasScopes, RequiresAuthenticationLevel


class _Get(APIView):
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response()


class NoLevel(_Get):
    permission_classes = [RequiresAuthenticationLevel]


class StringAcr(_Get):
    permission_classes = [IsAuthenticated | IsAdminUser, RequiresAuthenticationLevel]
    required_acr = "urn:mace:incommon:iap:silver"


class ZeroAge(_Get):
    permission_classes = [RequiresAuthenticationLevel]
    max_auth_age = 0


class Alternative(_Get):
    permission_classes = [IsAuthenticated & (HasScopes | RequiresAuthenticationLevel)]
    required_scopes = ["a"]
    required_acr = ["gold"]


class Declared(_Get):
    permission_classes = [HasScopes & RequiresAuthenticationLevel]
    required_scopes = ["a"]
    required_acr = ["gold"]
    max_auth_age: int | None = None


urlpatterns = [
    path("no-level/", NoLevel.as_view()),
    path("string-acr/", StringAcr.as_view()),
    path("zero-age/", ZeroAge.as_view()),
    path("alternative/", Alternative.as_view()),
    path("declared/", Declared.as_view()),
    path("by-initkwargs/", Declared.as_view(max_auth_age=600)),
]
