"""The 401 and 403 answers of scoped routes and their RFC 6750 §3.1 challenge, also through real servers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from django_bearer_guard.testing import LocalIssuer
from tests.support.client import challenge
from tests.support.live import Address, send

pytestmark = pytest.mark.urls("tests.testapp.permission_urls")


def test_no_token_is_401_with_bare_challenge_on_every_scoped_route(client: Client, guard: Callable[..., None]) -> None:
    for url in ("/method/", "/undeclared/", "/docs/", "/alternatives/", "/either/", "/workload/"):
        response = client.get(url)
        assert response.status_code == 401, url
        assert response["WWW-Authenticate"] == 'Bearer realm="api"', url


def test_missing_scope_is_403_with_exact_challenge_and_body(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    response = client.get("/method/", **bearer(scope="files:read"))
    assert response.status_code == 403
    assert response["WWW-Authenticate"] == challenge("api://files-app/files.read")
    assert response.json() == {
        "error": "insufficient_scope",
        "error_description": "The access token lacks a required scope.",
    }


def test_challenge_realm_follows_setting(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    guard(REALM="files")
    response = client.get("/method/", **bearer())
    assert response["WWW-Authenticate"] == challenge("api://files-app/files.read", realm="files")


def test_refusal_leaks_neither_claims_nor_other_alternatives(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    token = bearer(scope="secret-scope-q7 files:read", email="leak-8c1@example.com", tenant="tenant-z9")
    response = client.post("/method/", **token)
    assert response.status_code == 403
    # Only the first alternative is named; "admin" (the second) and the token's claims are not.
    assert response["WWW-Authenticate"] == challenge("files:write files:read")
    exposed = response.content.decode() + str(dict(response.items()))
    for secret in ("secret-scope-q7", "leak-8c1", "tenant-z9", "admin", "test-user"):
        assert secret not in exposed


def test_scope_names_with_colon_slash_and_dot_round_trip_to_challenge(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    guard(issuers=[idp.issuer_settings(scope_claim="scp")])
    assert client.get("/method/", **bearer(scp=["api://files-app/files.read"])).status_code == 200
    response = client.get("/method/", **bearer(scp=["api://files-app/files.write"]))
    assert response["WWW-Authenticate"] == challenge("api://files-app/files.read")


def test_function_view_challenge_names_first_set(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    response = client.get("/alternatives/", **bearer(scope="reports:read"))
    assert response["WWW-Authenticate"] == challenge("reports:read reports:list")


def test_insufficient_scope_challenge_through_gunicorn_and_runserver(
    idp: LocalIssuer, gunicorn_server: Address, runserver: Address
) -> None:
    targets = [
        (gunicorn_server, "/scoped/reports/", "reports:read"),
        (runserver, "/method/", "api://files-app/files.read"),
    ]
    for address, url, needed in targets:
        status, headers = send(address, url, [f"Bearer {idp.mint(scope=needed)}".encode()])
        assert status == 200, url
        status, headers = send(address, url, [f"Bearer {idp.mint(scope='openid')}".encode()])
        assert status == 403, url
        assert headers.get_all("WWW-Authenticate") == [challenge(needed)]
        status, headers = send(address, url, [f"Bearer {idp.mint(scope=['x', {'y': 1}])}".encode()])
        assert status == 401, url
        assert headers["WWW-Authenticate"].startswith('Bearer realm="api", error="invalid_token"')
        status, headers = send(address, url, [])
        assert (status, headers["WWW-Authenticate"]) == (401, 'Bearer realm="api"')
