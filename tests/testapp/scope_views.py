"""Views that exercise the scope, workload and ownership permissions end to end."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers, viewsets
from rest_framework.decorators import api_view
from rest_framework.generics import RetrieveAPIView
from rest_framework.permissions import DjangoModelPermissions, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from django_bearer_guard.permissions import AllowedWorkloads, HasScopes, TokenOwnsObject, require_scopes
from django_bearer_guard.tokens.verified import VerifiedToken
from tests.testapp.models import Document


class DocumentSerializer(serializers.ModelSerializer[Document]):
    class Meta:
        model = Document
        fields = ["id", "title", "owner"]


class DocumentViewSet(viewsets.ModelViewSet[Document]):
    """Driven by Django model permissions only (SCOPE_PERMISSIONS)."""

    queryset = Document.objects.order_by("id")
    serializer_class = DocumentSerializer
    permission_classes = [DjangoModelPermissions]


class ScopedDocumentViewSet(viewsets.ModelViewSet[Document]):
    queryset = Document.objects.order_by("id")
    serializer_class = DocumentSerializer
    permission_classes = [HasScopes]
    required_scopes = ["docs:admin"]
    required_scopes_by_action = {"list": ["docs:read"], "retrieve": ["docs:read"], "create": ["docs:write"]}


class ReportView(APIView):
    permission_classes = [HasScopes]
    required_scopes_by_method = {
        "GET": ["reports:read"],
        "POST": [["reports:write", "reports:read"], ["admin"]],
    }

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response({"report": "ok"})

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response({"created": True}, status=201)


class WorkloadView(APIView):
    permission_classes = [AllowedWorkloads]
    allowed_workloads = ["spiffe://example.org/ns/prod/sa/billing", "spiffe://example.org/ns/batch/*"]

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        token = request.auth
        assert isinstance(token, VerifiedToken)
        return Response({"workload": token.workload})


class OwnedDocumentView(RetrieveAPIView[Document]):
    queryset = Document.objects.all()
    serializer_class = DocumentSerializer
    permission_classes = [IsAuthenticated, TokenOwnsObject]


class TenantDocumentView(RetrieveAPIView[Document]):
    queryset = Document.objects.all()
    serializer_class = DocumentSerializer
    permission_classes = [TokenOwnsObject]
    owner_claim = "org.tenant"
    owner_field = "project.tenant"


@require_scopes("files:read", by_method={"DELETE": ["files:delete"]})
@api_view(["GET", "DELETE"])
def file_info(request: Request) -> Response:
    return Response({"method": request.method})


class IssuerOwnedDocumentView(RetrieveAPIView[Document]):
    """Ownership qualified by issuer: the token's (iss, sub) must equal (owner_issuer, owner)."""

    queryset = Document.objects.all()
    serializer_class = DocumentSerializer
    permission_classes = [TokenOwnsObject]
    owner_issuer_field = "owner_issuer"


class LocalReportView(ReportView):
    """ReportView for the issuers a test names (``allowed_issuers`` is set per test)."""

    allowed_issuers: list[str] | None = None


class LocalWorkloadView(WorkloadView):
    allowed_issuers: list[str] | None = None


class WhoIsUser(APIView):
    """What ``request.user`` is: a Django user or a stateless token user."""

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        user = request.user
        return Response(
            {
                "class": type(user).__name__,
                "pk": user.pk,
                "username": user.get_username(),
                "is_superuser": user.is_superuser,
                "is_staff": user.is_staff,
                "can_delete": user.has_perm("testapp.delete_document"),
            }
        )


class LocalComposedView(APIView):
    """Scopes or any authenticated caller: ``allowed_issuers`` must still hold for the whole view."""

    permission_classes = [HasScopes | IsAuthenticated]
    required_scopes = ["reports:read"]
    allowed_issuers: list[str] | None = None

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response({"ok": True})


class LocalAuthenticatedView(LocalComposedView):
    permission_classes = [IsAuthenticated]


class MisconfiguredOwnerView(IssuerOwnedDocumentView):
    owner_issuer_field: Any = None
