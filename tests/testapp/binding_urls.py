"""Views for the binding tests: what the request proved, and a workload allowlist."""

from __future__ import annotations

from typing import Any

from django.urls import path, re_path
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from django_bearer_guard.permissions import AllowedWorkloads
from django_bearer_guard.tokens.verified import VerifiedToken


class Bound(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        token = request.auth
        assert isinstance(token, VerifiedToken)
        binding = token.binding
        return Response(
            {
                "workload": token.workload,
                "methods": sorted(binding.methods) if binding else None,
                "spiffe_id": binding.spiffe_id if binding else None,
                "thumbprint": binding.certificate_thumbprint if binding else None,
                "jkt": binding.jkt if binding else None,
            }
        )

    post = get


class OnlySvcA(Bound):
    permission_classes = [AllowedWorkloads]
    allowed_workloads = ["spiffe://example.test/ns/default/sa/svc-a"]


urlpatterns = [
    path("bound/", Bound.as_view()),
    path("only-svc-a/", OnlySvcA.as_view()),
    # Any other path: where a request path could try to reshape the URL a DPoP proof must name.
    re_path(r"^any/.*$", Bound.as_view()),
    re_path(r"^/", Bound.as_view()),
]
