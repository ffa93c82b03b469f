"""The example API."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from rest_framework import serializers, viewsets
from rest_framework.permissions import DjangoModelPermissions, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from django_bearer_guard.permissions import HasScopes, RequiresAuthenticationLevel
from django_bearer_guard.tokens.verified import Binding, VerifiedToken
from django_bearer_guard.views import ProtectedFileView

from .models import Document

files_storage = FileSystemStorage(location=settings.DEMO_FILES_DIR)


def _token(request: Request) -> VerifiedToken:
    # BearerTokenAuthentication is the only authentication class: request.auth is its token.
    assert isinstance(request.auth, VerifiedToken)
    return request.auth


def _binding(binding: Binding | None) -> dict[str, Any] | None:
    # None for a plain Bearer token.
    if binding is None:
        return None
    return {
        "methods": sorted(binding.methods),
        "spiffe_id": binding.spiffe_id,
        "certificate_thumbprint": binding.certificate_thumbprint,
        "jkt": binding.jkt,
    }


class WhoAmI(APIView):
    """Who the token says the caller is, and what the request proved: any valid token of a trusted issuer."""

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        token = _token(request)
        return Response(
            {
                "issuer": token.issuer,
                "subject": token.subject,
                "scopes": sorted(token.scopes),
                "workload": token.workload,
                "binding": _binding(token.binding),
                "claims": token.claims,
            }
        )


class AdminOnly(APIView):
    """Needs the ``admin`` scope: other tokens get 403 ``insufficient_scope``."""

    permission_classes = [IsAuthenticated, HasScopes]
    required_scopes = ["admin"]

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response({"ok": True, "subject": _token(request).subject})


class StepUp(APIView):
    """Needs a user who signed in at the InCommon "silver" level within the last ten minutes (RFC 9470)."""

    permission_classes = [IsAuthenticated, RequiresAuthenticationLevel]
    required_acr = ["urn:mace:incommon:iap:silver"]
    max_auth_age = 600

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        token = _token(request)
        return Response({"ok": True, "acr": token.claims["acr"], "auth_time": token.claims["auth_time"]})


class ViewDocumentPermissions(DjangoModelPermissions):
    """DRF's model permissions, plus ``view_`` for reading."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }


class DocumentSerializer(serializers.ModelSerializer[Document]):
    class Meta:
        model = Document
        fields = ["id", "title", "body", "owner", "created"]
        read_only_fields = ["owner", "created"]


class DocumentViewSet(viewsets.ModelViewSet[Document]):
    """Documents: ``documents:read`` lists them, ``documents:write`` changes them.

    The scopes become Django permissions through ``BEARER_GUARD["SCOPE_PERMISSIONS"]``.
    """

    queryset = Document.objects.all()
    serializer_class = DocumentSerializer
    permission_classes = [IsAuthenticated, ViewDocumentPermissions]

    def perform_create(self, serializer: serializers.BaseSerializer[Document]) -> None:
        serializer.save(owner=_token(self.request).workload or "")


# Any holder of files:read reads the public area.
public_files = ProtectedFileView.as_view(storage=files_storage, root="public", required_scopes=["files:read"])
# Each workload reads only its own folder; the folders belong to the plain issuer's workloads, so
# a workload named by the bound issuers' tokens cannot claim one (bearer_guard.W006).
workload_files = ProtectedFileView.as_view(
    storage=files_storage,
    root="workloads/{workload}",
    required_scopes=["files:read"],
    allowed_issuers=[settings.DEMO_ISSUER],
)
