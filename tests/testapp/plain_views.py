"""Plain Django views guarded by ``@bearer_required``: twins of the DRF views of the face tests."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import View

from django_bearer_guard.decorators import bearer_required
from django_bearer_guard.tokens.verified import VerifiedToken

LOCAL = "https://local.example/"
"""The one issuer the ``allowed_issuers`` views accept."""

REPORT_SCOPES: dict[str, Any] = {"GET": ["reports:read"], "POST": [["reports:write", "reports:read"], ["admin"]]}
"""``ReportView``'s ``required_scopes_by_method``, declared again for the other faces."""


def _report(request: HttpRequest) -> JsonResponse:
    if request.method == "POST":
        return JsonResponse({"created": True}, status=201)
    return JsonResponse({"report": "ok"})


def _caller(request: HttpRequest, user: Any) -> JsonResponse:
    token = getattr(request, "auth", None)
    assert isinstance(token, VerifiedToken)
    return JsonResponse(
        {
            "issuer": token.issuer,
            "scopes": sorted(token.scopes),
            "user": type(user).__name__,
            "username": user.get_username(),
            "same_user": user is request.user,
        }
    )


@bearer_required(scopes_by_method=REPORT_SCOPES)
def reports(request: HttpRequest) -> HttpResponse:
    return _report(request)


@bearer_required(scopes_by_method=REPORT_SCOPES)
async def async_reports(request: HttpRequest) -> HttpResponse:
    return _report(request)


class ReportsView(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return _report(request)

    def post(self, request: HttpRequest) -> HttpResponse:
        return _report(request)


class AsyncReportsView(View):
    async def get(self, request: HttpRequest) -> HttpResponse:
        return _report(request)


@bearer_required(scopes_by_method=REPORT_SCOPES, allowed_issuers=[LOCAL])
def local_reports(request: HttpRequest) -> HttpResponse:
    return _report(request)


@bearer_required
def whoami(request: HttpRequest) -> HttpResponse:
    return _caller(request, request.user)


@bearer_required()
async def async_whoami(request: HttpRequest) -> HttpResponse:
    return _caller(request, await request.auser())


@bearer_required(scopes=[])
def any_token(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"ok": True})
