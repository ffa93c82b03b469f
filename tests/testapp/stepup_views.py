"""Views that exercise the step-up permission (RFC 9470) end to end."""

from __future__ import annotations

from typing import Any

from rest_framework import viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from django_bearer_guard.permissions import HasScopes, RequiresAuthenticationLevel

SILVER = "urn:mace:incommon:iap:silver"
GOLD = "urn:mace:incommon:iap:gold"


class _Echo(APIView):
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response({"ok": True})

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response({"created": True}, status=201)

    def delete(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(status=204)


class SilverView(_Echo):
    permission_classes = [RequiresAuthenticationLevel]
    required_acr = [SILVER]


class RecentView(_Echo):
    permission_classes = [RequiresAuthenticationLevel]
    max_auth_age = 300


class GoldOrSilverRecentView(_Echo):
    """Gold preferred, silver accepted, and an authentication at most five minutes old."""

    permission_classes = [RequiresAuthenticationLevel]
    required_acr = [GOLD, SILVER]
    max_auth_age = 300


class DeleteNeedsGoldView(_Echo):
    permission_classes = [RequiresAuthenticationLevel]
    required_acr = [SILVER]
    required_acr_by_method = {"delete": [GOLD]}


class OnlyGetDeclaredView(_Echo):
    permission_classes = [RequiresAuthenticationLevel]
    required_acr_by_method = {"GET": [SILVER]}


class PostNeedsGoldView(_Echo):
    permission_classes = [RequiresAuthenticationLevel]
    required_acr_by_method = {"POST": [GOLD]}


class UndeclaredView(_Echo):
    permission_classes = [RequiresAuthenticationLevel]


class MisdeclaredView(_Echo):
    permission_classes = [RequiresAuthenticationLevel]
    required_acr = SILVER  # a bare string, not a list


class ScopesAndLevelView(_Echo):
    """Both must hold: the list of permission classes."""

    permission_classes = [HasScopes, RequiresAuthenticationLevel]
    required_scopes = ["payments:write"]
    required_acr = [GOLD]
    max_auth_age = 300


class ScopesAndLevelOperatorView(ScopesAndLevelView):
    """Both must hold: ``&``."""

    permission_classes = [HasScopes & RequiresAuthenticationLevel]


class ScopesOrLevelView(ScopesAndLevelView):
    """Either is enough: ``|``."""

    permission_classes = [HasScopes | RequiresAuthenticationLevel]


class LocalSilverView(SilverView):
    """SilverView for the issuers a test names (``allowed_issuers`` is set per test)."""

    allowed_issuers: list[str] | None = None


class SilverViewSet(viewsets.ViewSet):
    permission_classes = [RequiresAuthenticationLevel]
    required_acr_by_method = {"GET": [SILVER], "POST": [GOLD]}

    def list(self, request: Request) -> Response:
        return Response([])

    def create(self, request: Request) -> Response:
        return Response({}, status=201)
