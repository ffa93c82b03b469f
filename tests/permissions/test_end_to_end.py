"""Scopes, model permissions, workloads and ownership through real tokens and the test client."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from django_bearer_guard.testing import LocalIssuer
from tests.testapp.models import Document

SCOPE_PERMISSIONS = {
    "docs:write": ["testapp.add_document", "testapp.change_document"],
    "docs:delete": ["testapp.delete_document"],
}


def test_no_token_is_401_without_error_code(client: Client, guard: Callable[..., None]) -> None:
    response = client.get("/scoped/reports/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_scope_string_grants_access(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    response = client.get("/scoped/reports/", **bearer(scope="openid reports:read"))
    assert response.status_code == 200


def test_missing_scope_is_403_insufficient_scope(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    response = client.post("/scoped/reports/", **bearer(scope="reports:read"))
    assert response.status_code == 403
    assert response["WWW-Authenticate"] == (
        'Bearer realm="api", error="insufficient_scope", '
        'error_description="The access token lacks a required scope.", scope="reports:write reports:read"'
    )
    assert response.json() == {
        "error": "insufficient_scope",
        "error_description": "The access token lacks a required scope.",
    }


def test_auth0_permissions_claim(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    guard(issuers=[idp.issuer_settings(scope_claim="permissions")])
    claims = {"scope": "openid reports:read", "permissions": ["admin"]}
    assert client.get("/scoped/reports/", **bearer(**claims)).status_code == 403
    assert client.post("/scoped/reports/", **bearer(**claims)).status_code == 201


def test_entra_scp_with_application_id_prefix(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    guard(issuers=[idp.issuer_settings(scope_claim="scp", scope_prefixes={"api://app-id/": ""})])
    assert client.get("/scoped/reports/", **bearer(scp="api://app-id/reports:read")).status_code == 200
    assert client.get("/scoped/reports/", **bearer(scp="api://other/reports:read")).status_code == 403


def test_keycloak_client_roles(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]], db: None
) -> None:
    guard(issuers=[idp.issuer_settings(scope_claim="resource_access.files-api.roles")])
    roles = {"resource_access": {"files-api": {"roles": ["docs:read"]}, "account": {"roles": ["docs:write"]}}}
    assert client.get("/scoped/scoped-documents/", **bearer(**roles)).status_code == 200
    assert client.post("/scoped/scoped-documents/", {"title": "t"}, **bearer(**roles)).status_code == 403


def test_malformed_scope_claim_is_401_invalid_token(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    response = client.get("/scoped/reports/", **bearer(scope=["reports:read", 7]))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


@pytest.mark.django_db
def test_model_permissions_follow_scope_permissions(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    guard(SCOPE_PERMISSIONS=SCOPE_PERMISSIONS)
    assert client.get("/scoped/documents/", **bearer()).status_code == 200
    assert client.post("/scoped/documents/", {"title": "t"}, **bearer(scope="docs:read")).status_code == 403
    created = client.post("/scoped/documents/", {"title": "t"}, **bearer(scope="docs:write"))
    assert created.status_code == 201
    url = f"/scoped/documents/{created.json()['id']}/"
    assert client.delete(url, **bearer(scope="docs:write")).status_code == 403
    assert client.delete(url, **bearer(scope="docs:delete")).status_code == 204
    assert not Document.objects.exists()


@pytest.mark.django_db
def test_model_permissions_of_looked_up_user_are_narrowed_by_scopes(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    guard(SCOPE_PERMISSIONS=SCOPE_PERMISSIONS, USER_LOOKUP={"claim": "sub", "field": "username"})
    user = User.objects.create_user("alice")
    user.user_permissions.add(Permission.objects.get(codename="add_document"))
    assert client.post("/scoped/documents/", {"title": "t"}, **bearer(sub="alice")).status_code == 403
    assert (
        client.post(
            "/scoped/documents/", {"title": "t"}, **bearer(sub="alice", scope="docs:write")
        ).status_code
        == 201
    )
    # The scope maps to delete, but the user lacks it.
    doc = Document.objects.get()
    assert (
        client.delete(f"/scoped/documents/{doc.pk}/", **bearer(sub="alice", scope="docs:delete")).status_code
        == 403
    )
    assert (
        client.post("/scoped/documents/", {"title": "t"}, **bearer(sub="bob", scope="docs:write")).status_code
        == 401
    )


def test_spiffe_svid_workload(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    assert (
        client.get("/scoped/workload/", **bearer(sub="spiffe://example.org/ns/batch/sa/nightly")).status_code
        == 200
    )
    response = client.get("/scoped/workload/", **bearer(sub="spiffe://example.org/ns/batch"))
    assert response.status_code == 403
    assert response.json()["error"] == "access_denied"


@pytest.mark.django_db
def test_ownership_by_subject(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    doc = Document.objects.create(title="mine", owner="alice")
    assert client.get(f"/scoped/owned/{doc.pk}/", **bearer(sub="alice")).status_code == 200
    assert client.get(f"/scoped/owned/{doc.pk}/", **bearer(sub="mallory")).status_code == 403


def test_function_view_scopes(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    assert client.get("/scoped/file-info/", **bearer(scope="files:read")).status_code == 200
    assert client.delete("/scoped/file-info/", **bearer(scope="files:read")).status_code == 403
