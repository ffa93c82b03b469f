"""Views whose refusals come from DRF itself, for the RFC 6750 exception handler."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.urls import include, path
from rest_framework import exceptions, serializers
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class _Never(BasePermission):
    message = "Only the owner may do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        return False


class _NoChallenge(BaseAuthentication):
    """Authenticates no one and offers no challenge: DRF answers 403 for a missing credential."""

    def authenticate(self, request: Request) -> None:
        return None


class _Denied(APIView):
    permission_classes = [_Never]

    def get(self, request: Request) -> Response:
        raise AssertionError("never reached")


class _Anonymous(_Denied):
    authentication_classes: list[Any] = []


class _NoChallengeView(APIView):
    authentication_classes = [_NoChallenge]

    def get(self, request: Request) -> Response:
        raise AssertionError("never reached")


class _Raises(APIView):
    """Raises the exception named by ``?kind=`` from an authenticated handler."""

    def get(self, request: Request) -> Response:
        kind = request.query_params["kind"]
        if kind == "django-denied":
            raise DjangoPermissionDenied
        if kind == "failed":
            raise exceptions.AuthenticationFailed
        if kind == "structured-denied":
            raise exceptions.PermissionDenied({"reason": ["structured"]})
        if kind == "not-found":
            raise exceptions.NotFound
        if kind == "invalid":
            class Form(serializers.Serializer[Any]):
                name = serializers.CharField()

            Form(data={}).is_valid(raise_exception=True)
        raise exceptions.Throttled(wait=7)


class _Unauthenticated(APIView):
    """Raises ``NotAuthenticated`` with a structured detail, whoever calls."""

    permission_classes: list[Any] = []

    def get(self, request: Request) -> Response:
        raise exceptions.NotAuthenticated({"hint": ["log in"]})


urlpatterns = [
    path("denied/", _Denied.as_view()),
    path("anonymous-denied/", _Anonymous.as_view()),
    path("no-challenge/", _NoChallengeView.as_view()),
    path("raises/", _Raises.as_view()),
    path("unauthenticated/", _Unauthenticated.as_view()),
    path("scoped/", include("tests.testapp.scope_urls")),
]
