"""A URLconf of misdeclared views, for the ``bearer_guard.E020``/``E021`` checks."""

from __future__ import annotations

from typing import Any

from django.urls import include, path
from rest_framework import viewsets
from rest_framework.permissions import IsAdminUser, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.views import APIView

from django_bearer_guard.permissions import AllowedWorkloads, HasScopes


class Undeclared(APIView):
    permission_classes = [HasScopes]

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response()


class Configurable(Undeclared):
    required_scopes: list[str] | None = None


class PostOnlyDeclared(APIView):
    permission_classes = [IsAuthenticated & (HasScopes | IsAdminUser)]
    required_scopes_by_method = {"GET": ["a"]}

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response()

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response()


class Declared(APIView):
    permission_classes = [IsAuthenticated | IsAdminUser, HasScopes, AllowedWorkloads]
    required_scopes = ["a"]
    allowed_workloads = ["spiffe://td/a"]

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response()


class NoWorkloads(APIView):
    permission_classes = [AllowedWorkloads]

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response()


class PartlyDeclaredViewSet(viewsets.ViewSet):
    permission_classes = [HasScopes]
    required_scopes_by_action = {"list": ["a"]}

    def list(self, request: Request) -> Response:
        return Response()

    def create(self, request: Request) -> Response:
        return Response()


def plain(request: Any) -> Any:
    return None


router = SimpleRouter()
router.register("things", PartlyDeclaredViewSet, basename="thing")

urlpatterns = [
    path("undeclared/", Undeclared.as_view()),
    path("post-only/", PostOnlyDeclared.as_view()),
    path("declared/", Declared.as_view()),
    path("by-initkwargs/", Configurable.as_view(required_scopes=["a"])),
    path("no-workloads/", NoWorkloads.as_view()),
    path("plain/", plain),
    path("nested/", include(router.urls)),
]
