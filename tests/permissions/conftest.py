from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory, force_authenticate

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


@pytest.fixture
def call() -> Callable[..., Any]:
    """Call a view as a token-authenticated request (``token=None``: not authenticated)."""
    factory = APIRequestFactory()

    def run(view: Any, method: str = "get", token: VerifiedToken | None = None, **kwargs: Any) -> Any:
        request = factory.generic(method.upper(), "/")
        if token is not None:
            force_authenticate(request, user=TokenUser(token), token=token)
        return view(request, **kwargs)

    return run


def drf_request(token: Any, method: str = "GET") -> Request:
    request = Request(getattr(APIRequestFactory(), method.lower())("/"))
    request._authenticator = None
    request.user, request.auth = (TokenUser(token) if isinstance(token, VerifiedToken) else None), token
    return request
