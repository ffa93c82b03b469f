from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIRequestFactory, force_authenticate

from django_bearer_guard.identity.principal import TokenUser
from django_bearer_guard.tokens.verified import VerifiedToken


@pytest.fixture
def call() -> Callable[..., Any]:
    """Call a view as a token-authenticated request (``token=None``: not authenticated)."""
    factory = APIRequestFactory()

    def run(view: Any, method: str = "get", token: VerifiedToken | None = None, **kwargs: Any) -> Any:
        request = factory.generic(method.upper(), "/")
        if token is not None:
            # DRF takes any user and credentials; the stubs know only Django's users and authtoken's Token.
            user: Any = TokenUser(token)
            credentials: Any = token
            force_authenticate(request, user=user, token=credentials)
        return view(request, **kwargs)

    return run

