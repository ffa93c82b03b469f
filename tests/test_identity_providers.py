"""Tokens and key sets shaped like those of real identity providers (Auth0, Okta, Keycloak, Entra ID)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from django_bearer_guard.testing import Clock, LocalIssuer
from tests.support.client import bearer
from tests.support.keys import pooled_key
from tests.support.metadata import MetadataServer as _MetadataServer

_API = "https://api.example.test"


IDP_SHAPES: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any], set[str], str]] = {
    # name: (issuer overrides, header, claims, expected scopes, expected workload)
    "auth0-rfc9068": (
        {"required_typ": "at+jwt", "scope_claim": "permissions", "workload_claim": "client_id",
         "required_claims": ["sub", "client_id", "iat", "jti"]},
        {"typ": "at+jwt"},
        {"aud": [_API, "https://tenant.eu.auth0.com/userinfo"], "azp": "Ab12Cd34", "client_id": "Ab12Cd34",
         "scope": "openid profile read:files", "permissions": ["read:files", "write:files"],
         "gty": "client-credentials", "sub": "Ab12Cd34@clients"},
        {"read:files", "write:files"}, "Ab12Cd34",
    ),
    "okta": (
        {"scope_claim": "scp", "workload_claim": "cid"},
        {"typ": "application/at+jwt"},
        {"aud": _API, "cid": "0oa1bcd2efGHIJK3l4m5", "uid": "00u1", "scp": ["files.read", "offline_access"],
         "ver": 1, "auth_time": 1_799_999_000, "sub": "user@example.com"},
        {"files.read", "offline_access"}, "0oa1bcd2efGHIJK3l4m5",
    ),
    "keycloak": (
        {"scope_claim": "realm_access.roles", "workload_claim": "azp"},
        {"typ": "JWT"},
        {"aud": [_API, "account"], "azp": "files-cli", "typ": "Bearer", "session_state": "abc",
         "realm_access": {"roles": ["offline_access", "files-reader"]},
         "resource_access": {"account": {"roles": ["manage-account"]}},
         "scope": "openid email profile", "sid": "abc", "email_verified": False,
         "preferred_username": "svc-files"},
        {"offline_access", "files-reader"}, "files-cli",
    ),
    "entra-v2": (
        {"scope_claim": "scp", "workload_claim": "azp", "required_claims": ["tid", "oid"]},
        {"typ": "JWT", "x5t": "nOo3ZDrODXEK1jKWhXslHR_KXEg"},
        {"aud": _API, "azp": "6e74172b-be56-4843-9ff4-e66a39bb12e3", "azpacr": "1", "ver": "2.0",
         "scp": "Files.Read Files.ReadWrite", "roles": ["Admin"],
         "tid": "72f988bf-86f1-41af-91ab-2d7cd011db47", "oid": "b9a6c2f1-0000-0000-0000-000000000000",
         "uti": "AbCdEf", "rh": "0.AAAA", "name": "Service"},
        {"Files.Read", "Files.ReadWrite"}, "6e74172b-be56-4843-9ff4-e66a39bb12e3",
    ),
    # The documented entry for an API called by users and applications: scp and roles united.
    "entra-v2-app-only": (
        {"scope_claim": ["scp", "roles"], "workload_claim": "azp", "required_claims": ["tid", "azp"]},
        {"typ": "JWT", "x5t": "nOo3ZDrODXEK1jKWhXslHR_KXEg"},
        {"aud": _API, "azp": "0f4e2c1a-9d3b-4c6e-8a7f-1b2c3d4e5f60", "azpacr": "1", "ver": "2.0",
         "roles": ["Files.ReadWrite.All"], "idtyp": "app",
         "tid": "72f988bf-86f1-41af-91ab-2d7cd011db47", "oid": "5d1f0a77-0000-0000-0000-000000000000",
         "sub": "5d1f0a77-0000-0000-0000-000000000000", "uti": "GhIjKl", "rh": "0.AAAA"},
        {"Files.ReadWrite.All"}, "0f4e2c1a-9d3b-4c6e-8a7f-1b2c3d4e5f60",
    ),
    "entra-v1": (
        {"scope_claim": ["scp", "roles"], "workload_claim": "appid", "required_claims": ["tid", "appid"]},
        {"typ": "JWT", "x5t": "nOo3ZDrODXEK1jKWhXslHR_KXEg"},
        {"aud": _API, "appid": "6e74172b-be56-4843-9ff4-e66a39bb12e3", "appidacr": "1", "ver": "1.0",
         "scp": "Files.Read", "tid": "72f988bf-86f1-41af-91ab-2d7cd011db47",
         "oid": "b9a6c2f1-0000-0000-0000-000000000000", "upn": "user@example.com", "uti": "MnOpQr"},
        {"Files.Read"}, "6e74172b-be56-4843-9ff4-e66a39bb12e3",
    ),
}


@pytest.mark.parametrize("shape", sorted(IDP_SHAPES))
def test_identity_provider_shaped_tokens_pass(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], shape: str
) -> None:
    overrides, header, claims, scopes, workload = IDP_SHAPES[shape]
    guard(issuers=[idp.issuer_settings(**overrides)])
    response = bearer(client, idp.mint(headers=header, **claims))
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body["scopes"]) == scopes
    assert body["workload"] == workload


@pytest.mark.parametrize("shape", ["entra-v2", "entra-v2-app-only"])
def test_entra_multi_tenant_tokens_pass_for_listed_tenants_only(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], shape: str
) -> None:
    overrides, header, claims, scopes, _ = IDP_SHAPES[shape]
    listed, unlisted = claims["tid"], "9188040d-6c67-4c5b-b112-36a304b66dad"
    guard(issuers=[idp.issuer_settings(issuer=idp.url + "/{tenantid}/v2.0", tenants=[listed], **overrides)])
    response = bearer(client, idp.mint(headers=header, **{**claims, "iss": f"{idp.url}/{listed}/v2.0"}))
    assert response.status_code == 200, response.content
    assert (response.json()["issuer"], set(response.json()["scopes"])) == (f"{idp.url}/{listed}/v2.0", scopes)
    other = {**claims, "iss": f"{idp.url}/{unlisted}/v2.0", "tid": unlisted}
    assert bearer(client, idp.mint(headers=header, **other)).status_code == 401


def test_identity_provider_token_with_nbf_and_long_lifetime_passes(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    guard(issuers=[idp.issuer_settings(required_typ="at+jwt")])
    token = idp.mint(headers={"typ": "at+jwt"}, nbf=int(clock.now) - 5, lifetime=86400, client_id="c")
    assert bearer(client, token).status_code == 200


def test_ec_and_rsa_keys_in_one_published_set(
    client: Client, make_idp: Callable[..., LocalIssuer], guard: Callable[..., None]
) -> None:
    idp = make_idp(("RS256", "ES256"))
    guard(issuers=[idp.issuer_settings()])
    assert bearer(client, idp.mint(alg="RS256")).status_code == 200
    assert bearer(client, idp.mint(alg="ES256")).status_code == 200


def _published(index: int, **members: Any) -> dict[str, Any]:
    jwk = {k: v for k, v in pooled_key("RS256", index).public_jwk().items() if k not in ("alg", "use")}
    return {**jwk, **members}


@pytest.mark.parametrize(
    "shape",
    [
        # Entra ID: no alg, x5t and x5c, a non-standard issuer member.
        lambda: [_published(0, use="sig", x5t="nOo3ZDrODXEK1jKWhXslHR_KXEg", x5c=["MIIDBTCCAe2gAwIBAgIQ"],
                            issuer="https://login.microsoftonline.com/tid/v2.0")],
        # Keycloak: a signing key beside an encryption key (RSA-OAEP).
        lambda: [_published(1, alg="RSA-OAEP", use="enc", kid="enc-1"), _published(0, alg="RS256", use="sig")],
        # Auth0 / Okta: alg and use on every key, x5c on some.
        lambda: [_published(0, alg="RS256", use="sig", x5c=["MIIDHTCCAgWgAwIBAgIJ"]),
                 _published(1, alg="RS256", use="sig")],
    ],
    ids=["entra", "keycloak", "auth0"],
)
def test_identity_provider_shaped_key_sets_verify_their_tokens(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], metadata_server: _MetadataServer,
    shape: Callable[[], list[dict[str, Any]]],
) -> None:
    metadata_server.documents["/keys"] = {"keys": shape()}
    guard(issuers=[idp.issuer_settings(jwks_uri=metadata_server.url + "/keys")])
    assert bearer(client, idp.mint(key=pooled_key("RS256", 0))).status_code == 200
