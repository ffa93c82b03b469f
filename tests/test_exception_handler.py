"""DRF's own 401s and 403s in the RFC 6750 body shape (``exceptions.exception_handler``)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import Client, override_settings

from django_bearer_guard import exceptions
from django_bearer_guard._exception_handler import MISSING_TOKEN, exception_handler
from django_bearer_guard.testing import LocalIssuer
from tests.support.client import challenge_params

pytestmark = pytest.mark.urls("tests.testapp.handler_urls")

HANDLER = "django_bearer_guard.exceptions.exception_handler"
SCOPE_PERMISSIONS = {"docs:write": ["testapp.add_document"]}


@pytest.fixture(autouse=True)
def handler() -> Iterator[None]:
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "EXCEPTION_HANDLER": HANDLER}):
        yield


@pytest.fixture
def auth(idp: LocalIssuer) -> Callable[..., dict[str, Any]]:
    return lambda **claims: {"HTTP_AUTHORIZATION": f"Bearer {idp.mint(**claims)}"}


def test_public_name_is_the_handler() -> None:
    assert exceptions.exception_handler is exception_handler
    with pytest.raises(AttributeError, match="no attribute 'exception_hook'"):
        exceptions.exception_hook  # noqa: B018


def test_error_tree_imports_no_drf() -> None:
    code = "import sys, django_bearer_guard.exceptions; print('rest_framework' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"


def test_missing_token_has_error_in_body_and_none_in_challenge(client: Client, guard: Callable[..., None]) -> None:
    response = client.get("/scoped/reports/")
    assert response.status_code == 401
    description = "Authentication credentials were not provided."
    assert response.json() == {"error": MISSING_TOKEN, "error_description": description}
    # RFC 6750 §3.1: a request without credentials gets a challenge without an error code.
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_missing_token_without_challenge_keeps_drf_403(client: Client, guard: Callable[..., None]) -> None:
    response = client.get("/no-challenge/")
    assert response.status_code == 403
    assert response.json()["error"] == MISSING_TOKEN
    assert "WWW-Authenticate" not in response


def test_structured_not_authenticated_gets_the_generic_description(client: Client, guard: Callable[..., None]) -> None:
    response = client.get("/unauthenticated/")
    assert response.json() == {"error": MISSING_TOKEN, "error_description": "The request carries no access token."}


def test_library_refusal_is_unchanged(client: Client, guard: Callable[..., None]) -> None:
    response = client.get("/scoped/reports/", HTTP_AUTHORIZATION="Bearer a.b.c")
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_token", "error_description": "The access token is invalid."}
    assert challenge_params(response["WWW-Authenticate"])["error"] == "invalid_token"


def test_scope_refusal_is_unchanged(
    client: Client, guard: Callable[..., None], auth: Callable[..., dict[str, Any]]
) -> None:
    response = client.get("/scoped/reports/", **auth(scope="other"))
    assert response.status_code == 403
    assert challenge_params(response["WWW-Authenticate"])["scope"] == "reports:read"


@pytest.mark.django_db
def test_model_permission_refusal_is_insufficient_scope_with_challenge(
    client: Client, guard: Callable[..., None], auth: Callable[..., dict[str, Any]]
) -> None:
    guard(SCOPE_PERMISSIONS=SCOPE_PERMISSIONS)
    response = client.post("/scoped/documents/", {"title": "t"}, **auth(scope="docs:read"))
    assert response.status_code == 403
    description = "You do not have permission to perform this action."
    assert response.json() == {"error": "insufficient_scope", "error_description": description}
    assert response["WWW-Authenticate"] == (
        f'Bearer realm="api", error="insufficient_scope", error_description="{description}"'
    )
    assert client.post("/scoped/documents/", {"title": "t"}, **auth(scope="docs:write")).status_code == 201


def test_permission_message_of_the_class_is_the_description(
    client: Client, guard: Callable[..., None], auth: Callable[..., dict[str, Any]]
) -> None:
    response = client.get("/denied/", **auth())
    assert response.json() == {"error": "insufficient_scope", "error_description": "Only the owner may do this."}


def test_refusal_without_token_is_access_denied_without_challenge(client: Client, guard: Callable[..., None]) -> None:
    response = client.get("/anonymous-denied/")
    assert response.status_code == 403
    assert response.json() == {"error": "access_denied", "error_description": "Only the owner may do this."}
    assert "WWW-Authenticate" not in response


@pytest.mark.parametrize(
    "case",
    [
        ("django-denied", 403,
         {"error": "insufficient_scope", "error_description": "You do not have permission to perform this action."}),
        ("structured-denied", 403,
         {"error": "insufficient_scope", "error_description": "You do not have permission to perform this action."}),
        ("failed", 401, {"error": "invalid_token", "error_description": "Incorrect authentication credentials."}),
        ("not-found", 404, {"detail": "Not found."}),
        ("invalid", 400, {"name": ["This field is required."]}),
        ("throttled", 429, {"detail": "Request was throttled. Expected available in 7 seconds."}),
    ],
)
def test_drf_exceptions_of_an_authenticated_view(
    client: Client,
    guard: Callable[..., None],
    auth: Callable[..., dict[str, Any]],
    case: tuple[str, int, dict[str, Any]],
) -> None:
    kind, status, body = case
    response = client.get("/raises/", {"kind": kind}, **auth())
    assert response.status_code == status
    assert response.json() == body
