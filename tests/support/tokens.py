"""Verified tokens and DRF requests built by hand, for permission checks without an issuer."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from django_bearer_guard.identity.principal import TokenUser
from django_bearer_guard.tokens.verified import VerifiedToken


def make_token(scopes: tuple[str, ...] = (), workload: str | None = None, **claims: Any) -> VerifiedToken:
    claims.setdefault("sub", "alice")
    return VerifiedToken(
        claims=claims,
        header={"alg": "RS256"},
        issuer="https://idp.example.test/",
        scopes=frozenset(scopes),
        workload=workload,
        token_id=None,
        expires_at=0.0,
    )


def drf_request(token: Any, method: str = "GET") -> Request:
    request = Request(getattr(APIRequestFactory(), method.lower())("/"))
    request._authenticator = None  # type: ignore[attr-defined]  # set by DRF's _authenticate(), not in the stubs
    # DRF takes any user object; the stubs know only Django's user classes.
    user: Any = TokenUser(token) if isinstance(token, VerifiedToken) else None
    request.user, request.auth = user, token
    return request
