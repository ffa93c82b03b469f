"""Views declared the ways a project declares scopes, routed as a project would route them.

The permission tests use this URLconf (``pytest.mark.urls``), with DRF's default exception handler:
``/method/`` needs ``api://files-app/files.read`` for GET and (``files:write`` and ``files:read``)
or ``admin`` for POST; ``/alternatives/`` (``reports:read`` and ``reports:list``) or ``admin``;
``/workload/`` admits ``spiffe://td/ns/a`` and ``spiffe://td/ns/b/*``; ``/docs/`` declares its
scopes per action.
"""

from __future__ import annotations

from django.urls import path
from rest_framework import viewsets
from rest_framework.decorators import action, api_view
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import DjangoModelPermissions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.views import APIView

from django_bearer_guard.permissions import AllowedWorkloads, HasScopes, require_scopes
from django_bearer_guard.tokens.verified import VerifiedToken
from tests.testapp.models import Document
from tests.testapp.scope_views import DocumentSerializer


class ActionScopedViewSet(viewsets.ModelViewSet[Document]):
    """Per-action scopes only: no ``required_scopes`` fallback."""

    queryset = Document.objects.order_by("id")
    serializer_class = DocumentSerializer
    permission_classes = [HasScopes]
    required_scopes_by_action = {
        "list": ["docs:read"],
        "retrieve": ["docs:read"],
        "create": ["docs:write"],
        "publish": ["docs:publish"],
    }

    @action(detail=True, methods=["post"])
    def publish(self, request: Request, pk: str | None = None) -> Response:
        return Response({"published": pk})

    @action(detail=False, methods=["get"])
    def stats(self, request: Request) -> Response:
        return Response({"count": 0})


class MethodScopedView(GenericAPIView[Document]):
    serializer_class = DocumentSerializer
    permission_classes = [HasScopes]
    required_scopes_by_method = {
        "GET": ["api://files-app/files.read"],
        "POST": [["files:write", "files:read"], ["admin"]],
    }

    def get(self, request: Request) -> Response:
        return Response({"ok": True})

    def post(self, request: Request) -> Response:
        return Response({"created": True}, status=201)


class UndeclaredView(APIView):
    permission_classes = [HasScopes]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class WorkloadOrScopeView(APIView):
    """Either the billing workload or the ``billing:export`` scope, composed with ``|``."""

    permission_classes = [AllowedWorkloads | HasScopes]
    allowed_workloads = ["spiffe://td/ns/billing/*"]
    required_scopes = ["billing:export"]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class WorkloadView(APIView):
    permission_classes = [AllowedWorkloads]
    allowed_workloads = ["spiffe://td/ns/a", "spiffe://td/ns/b/*"]

    def get(self, request: Request) -> Response:
        token = request.auth
        assert isinstance(token, VerifiedToken)
        return Response({"workload": token.workload})


class ViewPermissions(DjangoModelPermissions):
    """The documented recipe: reading needs the model's ``view`` permission."""

    perms_map = {**DjangoModelPermissions.perms_map, "GET": ["%(app_label)s.view_%(model_name)s"]}


class ModelPermissionViewSet(viewsets.ModelViewSet[Document]):
    queryset = Document.objects.order_by("id")
    serializer_class = DocumentSerializer
    permission_classes = [ViewPermissions]


@require_scopes(["reports:read", "reports:list"], ["admin"])
@api_view(["GET", "POST"])
def alternatives_view(request: Request) -> Response:
    return Response({"method": request.method})


router = SimpleRouter()
router.register("docs", ActionScopedViewSet, basename="scoped-doc")
router.register("model-docs", ModelPermissionViewSet, basename="model-doc")

urlpatterns = [
    path("method/", MethodScopedView.as_view()),
    path("undeclared/", UndeclaredView.as_view()),
    path("either/", WorkloadOrScopeView.as_view()),
    path("workload/", WorkloadView.as_view()),
    path("alternatives/", alternatives_view),
    *router.urls,
]
