"""USER_LOOKUP through requests: inactive users refused, users created once, also when requests race."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connections
from django.test import Client

from django_bearer_guard.identity.principal import resolve_user
from django_bearer_guard.testing import LocalIssuer
from django_bearer_guard.tokens.verified import VerifiedToken

pytestmark = pytest.mark.urls("tests.testapp.permission_urls")


@pytest.mark.django_db
def test_inactive_looked_up_user_is_401_invalid_token(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    guard(USER_LOOKUP={"claim": "sub", "field": "username"})
    User.objects.create_user("dave", is_active=False)
    response = client.get("/alternatives/", **bearer(sub="dave", scope="admin"))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]
    assert "dave" not in response.content.decode() + response["WWW-Authenticate"]


@pytest.mark.django_db
def test_user_lookup_create_creates_once(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    guard(USER_LOOKUP={"claim": "sub", "field": "username", "create": True})
    for _ in range(3):
        assert client.get("/alternatives/", **bearer(sub="erin", scope="admin")).status_code == 200
    assert User.objects.filter(username="erin").count() == 1
    assert not User.objects.get(username="erin").has_usable_password()


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_requests_create_one_user_without_error(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    guard(USER_LOOKUP={"claim": "sub", "field": "username", "create": True})
    from django_bearer_guard.tokens.validator import TokenValidator

    tokens = [TokenValidator().validate(idp.mint(sub="frank")) for _ in range(6)]
    barrier = threading.Barrier(len(tokens))
    outcomes: list[Any] = []

    def first_request(token: VerifiedToken) -> None:
        barrier.wait()
        try:
            outcomes.append(resolve_user(token).username)
        except Exception as exc:  # recorded, asserted below
            outcomes.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first_request, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if connections["default"].vendor == "sqlite":
        # SQLite serialises writers; a lock timeout is the database's answer, not the library's.
        outcomes = [o for o in outcomes if "locked" not in str(o)]
    assert outcomes and all(o == "frank" for o in outcomes), outcomes
    assert User.objects.filter(username="frank").count() == 1
