"""Statuses and challenges of every answer (RFC 6750 §3, §3.1), through the test client."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from django_bearer_guard.testing import LocalIssuer
from tests.support.client import assert_refused, bearer, call, challenge_params


def test_no_credentials_get_401_with_realm_only(client: Client, guard: Callable[..., None]) -> None:
    response = call(client, None)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_token_in_query_string_is_not_a_credential(
    client: Client, idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    response = client.get("/whoami/", {"access_token": idp.mint()})
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Bearer a b",
        "Bearer aaa.bbb.ccc, Bearer ddd.eee.fff",
        "Bearer aaa.bbb.ccc,Bearer ddd.eee.fff",
        "Bearer tok@n",
        'Bearer "quoted"',
        "Bearer a=b",
        "Bearer \u00e9t\u00e9",
    ],
    ids=["no-token", "empty-token", "two-words", "two-credentials", "two-credentials-no-space", "at-sign",
         "quoted", "inner-equals", "non-ascii"],
)
def test_malformed_authorization_gets_400_invalid_request(
    client: Client, guard: Callable[..., None], header: str
) -> None:
    params = assert_refused(call(client, header), 400, "invalid_request")
    assert "scope" not in params


def test_bearer_scheme_is_case_insensitive(client: Client, idp: LocalIssuer, guard: Callable[..., None]) -> None:
    assert call(client, f"bearer {idp.mint()}").status_code == 200
    assert call(client, f"BEARER {idp.mint()}").status_code == 200


def test_bearer_with_tab_separator_is_invalid_request(
    client: Client, idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    assert_refused(call(client, f"Bearer\t{idp.mint()}"), 400, "invalid_request")


@pytest.mark.parametrize("length", [8193, 20000])
def test_oversized_credential_gets_401_invalid_token(client: Client, guard: Callable[..., None], length: int) -> None:
    assert_refused(call(client, "Bearer " + "a" * length), 401, "invalid_token")


def test_oversized_signed_token_gets_401_although_valid(
    client: Client, idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    token = idp.mint(padding="x" * 7000)
    assert len(token) > 8192
    assert_refused(bearer(client, token), 401, "invalid_token")
    guard(MAX_TOKEN_BYTES=len(token))
    assert bearer(client, token).status_code == 200


@pytest.mark.parametrize(
    "claims",
    [{"exp": 1}, {"iss": "https://evil.example/"}, {"aud": "https://other.example"}, {"nbf": 1_900_000_000}],
    ids=["expired", "untrusted-issuer", "wrong-audience", "not-yet-valid"],
)
def test_bad_token_gets_401_invalid_token(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], claims: Any
) -> None:
    assert_refused(bearer(client, idp.mint(**claims)), 401, "invalid_token")


def test_garbage_token_gets_401_invalid_token(client: Client, guard: Callable[..., None]) -> None:
    assert_refused(bearer(client, "aaa.bbb.ccc"), 401, "invalid_token")


def test_unreachable_issuer_is_401_not_500(client: Client, idp: LocalIssuer, guard: Callable[..., None]) -> None:
    idp.mode = "down"
    assert_refused(bearer(client, idp.mint()), 401, "invalid_token")
    idp.mode = "garbage"
    assert_refused(bearer(client, idp.mint()), 401, "invalid_token")


def test_missing_scope_gets_403_insufficient_scope_naming_it(
    client: Client, idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    response = bearer(client, idp.mint(scope="other"), "/scoped/reports/")
    params = assert_refused(response, 403, "insufficient_scope")
    assert params["scope"] == "reports:read"
    assert bearer(client, idp.mint(scope="reports:read"), "/scoped/reports/").status_code == 200


def test_no_credentials_on_a_scoped_view_get_401_with_realm_only(client: Client, guard: Callable[..., None]) -> None:
    response = call(client, None, "/scoped/reports/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_token_without_scope_claim_gets_403_on_a_scoped_view(
    client: Client, idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    params = assert_refused(bearer(client, idp.mint(), "/scoped/reports/"), 403, "insufficient_scope")
    assert params["scope"] == "reports:read"


def test_realm_setting_reaches_every_challenge(client: Client, idp: LocalIssuer, guard: Callable[..., None]) -> None:
    guard(REALM="files")
    assert call(client, None)["WWW-Authenticate"] == 'Bearer realm="files"'
    assert challenge_params(call(client, "Bearer a b")["WWW-Authenticate"])["realm"] == "files"
    assert challenge_params(bearer(client, "a.b.c")["WWW-Authenticate"])["realm"] == "files"
    forbidden = bearer(client, idp.mint(), "/scoped/reports/")
    assert challenge_params(forbidden["WWW-Authenticate"])["realm"] == "files"
