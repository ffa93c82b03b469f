"""Scopes as each identity provider writes them, through the scoped routes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from django_bearer_guard.testing import LocalIssuer
from tests.support.client import challenge

pytestmark = pytest.mark.urls("tests.testapp.permission_urls")


def test_auth0_permissions_list_not_scope_string(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    guard(issuers=[idp.issuer_settings(scope_claim="permissions")])
    auth0 = {
        "scope": "openid profile admin",
        "permissions": ["reports:read", "reports:list"],
        "azp": "c1",
        "gty": "client-credentials",
        "sub": "c1@clients",
    }
    assert client.get("/alternatives/", **bearer(**auth0)).status_code == 200
    assert client.post("/method/", **bearer(**auth0)).status_code == 403


def test_auth0_scope_string_by_default(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    assert client.get("/alternatives/", **bearer(scope="openid admin", permissions=[])).status_code == 200


def test_entra_v1_scp_string_with_api_prefix(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    guard(issuers=[idp.issuer_settings(scope_claim="scp", scope_prefixes={"api://files-app/": "files:"})])
    entra_v1 = {"ver": "1.0", "scp": "read write", "appid": "0000", "tid": "t", "oid": "o", "sub": "s"}
    assert client.post("/method/", **bearer(**entra_v1)).status_code == 403
    entra_v1["scp"] = "api://files-app/write api://files-app/read"
    assert client.post("/method/", **bearer(**entra_v1)).status_code == 201


def test_entra_v2_app_roles_list(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    guard(issuers=[idp.issuer_settings(scope_claim="roles")])
    entra_v2 = {"ver": "2.0", "roles": ["admin"], "azp": "0000", "azpacr": "1", "tid": "t", "oid": "o"}
    assert client.post("/method/", **bearer(**entra_v2)).status_code == 201
    assert client.post("/method/", **bearer(**{**entra_v2, "roles": ["Reader"]})).status_code == 403


def test_keycloak_realm_roles(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    guard(issuers=[idp.issuer_settings(scope_claim="realm_access.roles")])
    keycloak = {
        "realm_access": {"roles": ["admin", "offline_access"]},
        "scope": "openid email",
        "typ": "Bearer",
        "azp": "web",
    }
    assert client.post("/method/", **bearer(**keycloak)).status_code == 201


def test_keycloak_client_roles_with_dotted_client_id(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    guard(issuers=[idp.issuer_settings(scope_claim="resource_access.api.example.com.roles")])
    roles = {
        "resource_access": {
            "api.example.com": {"roles": ["admin"]},
            "api": {"roles": ["x"]},
            "account": {"roles": ["manage-account"]},
        }
    }
    assert client.post("/method/", **bearer(**roles)).status_code == 201
    other = {"resource_access": {"api": {"example": {"com": {"roles": ["reports:read"]}}}}}
    assert client.post("/method/", **bearer(**other)).status_code == 403


def test_okta_scp_list(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    guard(issuers=[idp.issuer_settings(scope_claim="scp")])
    okta = {"ver": 1, "cid": "0oa", "uid": "00u", "scp": ["openid", "reports:read", "reports:list"]}
    assert client.get("/alternatives/", **bearer(**okta)).status_code == 200


def test_google_token_without_scopes_is_insufficient_scope(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    google = {"azp": "123.apps.googleusercontent.com", "email": "sa@p.iam.gserviceaccount.com", "email_verified": True}
    response = client.get("/alternatives/", **bearer(**google))
    assert response.status_code == 403
    assert response["WWW-Authenticate"] == challenge("reports:read reports:list")


def test_cognito_resource_server_scopes(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    cognito = {"scope": "files-app/files.read", "client_id": "abc", "token_use": "access", "version": 2}
    guard(issuers=[idp.issuer_settings(scope_prefixes={"files-app/": "api://files-app/"})])
    assert client.get("/method/", **bearer(**cognito)).status_code == 200


def test_spiffe_jwt_svid_has_no_scopes_but_a_workload(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    guard(issuers=[idp.issuer_settings(algorithms=["RS256"])])
    svid = {"sub": "spiffe://td/ns/b/sa/x", "aud": [idp.audience], "jti": None}
    assert client.get("/workload/", **bearer(**svid)).json() == {"workload": "spiffe://td/ns/b/sa/x"}
    assert client.get("/alternatives/", **bearer(**svid)).status_code == 403
