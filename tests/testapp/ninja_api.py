"""A django-ninja API with the resources of the DRF and plain Django face tests."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import NinjaAPI, Router
from ninja.security import APIKeyHeader

from django_bearer_guard.contrib.ninja import BearerGuard, install
from django_bearer_guard.tokens.verified import VerifiedToken
from tests.testapp.plain_views import LOCAL, REPORT_SCOPES

api = install(NinjaAPI(urls_namespace="bearer-guard-tests"))
reports = BearerGuard(scopes_by_method=REPORT_SCOPES)


@api.get("/reports/", auth=reports)
def read_reports(request: HttpRequest) -> dict[str, Any]:
    return {"report": "ok"}


@api.post("/reports/", auth=reports, response={201: dict[str, Any]})
def create_report(request: HttpRequest) -> dict[str, Any]:
    return {"created": True}


@api.get("/async-reports/", auth=BearerGuard(scopes=["reports:read"]))
async def async_reports(request: HttpRequest) -> dict[str, Any]:
    return {"report": "ok"}


@api.get("/local-reports/", auth=BearerGuard(scopes_by_method=REPORT_SCOPES, allowed_issuers=[LOCAL]))
def local_reports(request: HttpRequest) -> dict[str, Any]:
    return {"report": "ok"}


@api.get("/whoami/", auth=BearerGuard())
def whoami(request: HttpRequest) -> dict[str, Any]:
    token = request.auth  # type: ignore[attr-defined]
    assert isinstance(token, VerifiedToken)
    user = request.user
    return {"issuer": token.issuer, "scopes": sorted(token.scopes), "user": type(user).__name__,
            "username": user.get_username()}


class _Key(APIKeyHeader):
    """Another scheme beside the guard: an API key in ``X-Key``."""

    param_name = "X-Key"

    def authenticate(self, request: HttpRequest, key: str | None) -> str | None:
        return "key" if key == "open-sesame" else None


@api.get("/either/", auth=[BearerGuard(scopes=["reports:read"]), _Key()])
def either(request: HttpRequest) -> dict[str, Any]:
    return {"auth": "key" if request.auth == "key" else "token"}  # type: ignore[attr-defined]


@api.get("/key-only/", auth=_Key())
def key_only(request: HttpRequest) -> dict[str, Any]:
    return {"auth": "key"}


guarded = Router(auth=BearerGuard(scopes=["admin"]))


@guarded.get("/admin/")
def admin(request: HttpRequest) -> dict[str, Any]:
    return {"admin": True}


@api.get("/public/")
def public(request: HttpRequest) -> dict[str, Any]:
    return {"public": True}


api.add_router("/router", guarded)

bare = NinjaAPI(urls_namespace="bearer-guard-bare")
"""An API without :func:`install`: refusals keep their status in ninja's own body."""


@bare.get("/reports/", auth=BearerGuard(scopes=["reports:read"]))
def bare_reports(request: HttpRequest) -> dict[str, Any]:
    return {"report": "ok"}
