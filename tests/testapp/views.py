from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from django_bearer_guard.tokens.verified import VerifiedToken


class WhoAmI(APIView):
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        token = request.auth
        assert isinstance(token, VerifiedToken)
        return Response(
            {
                "issuer": token.issuer,
                "scopes": sorted(token.scopes),
                "workload": token.workload,
                "claims": token.claims,
            }
        )
