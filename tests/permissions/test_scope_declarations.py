"""Scopes declared per method, per action and as alternatives, on class, viewset and function views."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from tests.support.client import challenge
from tests.testapp.models import Document

pytestmark = pytest.mark.urls("tests.testapp.permission_urls")


@pytest.mark.parametrize("method", ["get", "head", "options"])
def test_head_and_options_follow_get_declaration(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]], method: str
) -> None:
    granted = getattr(client, method)("/method/", **bearer(scope="api://files-app/files.read"))
    refused = getattr(client, method)("/method/", **bearer(scope="files:write files:read"))
    assert granted.status_code == 200
    assert refused.status_code == 403
    assert refused["WWW-Authenticate"] == challenge("api://files-app/files.read")


def test_options_metadata_lists_post_only_when_token_may_post(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    reader = client.options("/method/", **bearer(scope="api://files-app/files.read"))
    both = client.options("/method/", **bearer(scope="api://files-app/files.read admin"))
    assert reader.status_code == both.status_code == 200
    assert "actions" not in reader.json()
    assert "POST" in both.json()["actions"]


@pytest.mark.parametrize(
    ("scope", "status"),
    [("files:write files:read", 201), ("admin", 201), ("files:write", 403), ("files:read", 403)],
)
def test_alternatives_need_one_whole_set(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]], scope: str, status: int
) -> None:
    assert client.post("/method/", **bearer(scope=scope)).status_code == status


@pytest.mark.django_db
def test_viewset_scopes_follow_action_including_extra_routes(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    doc = Document.objects.create(title="t")
    reader, writer, publisher = (bearer(scope=s) for s in ("docs:read", "docs:write", "docs:publish"))
    assert client.get("/docs/", **reader).status_code == 200
    assert client.get(f"/docs/{doc.pk}/", **reader).status_code == 200
    assert client.head(f"/docs/{doc.pk}/", **reader).status_code == 200
    assert client.post("/docs/", {"title": "n"}, **reader).status_code == 403
    assert client.post("/docs/", {"title": "n"}, **writer).status_code == 201
    assert client.post(f"/docs/{doc.pk}/publish/", **writer)["WWW-Authenticate"] == challenge("docs:publish")
    assert client.post(f"/docs/{doc.pk}/publish/", **publisher).status_code == 200


@pytest.mark.django_db
def test_viewset_undeclared_action_fails_closed(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    everything = bearer(scope="docs:read docs:write docs:publish docs:admin admin")
    for response in (
        client.get("/docs/stats/", **everything),
        client.delete(f"/docs/{Document.objects.create(title='t').pk}/", **everything),
    ):
        assert response.status_code == 403
        assert response.json()["error"] == "access_denied"
        assert "WWW-Authenticate" not in response


@pytest.mark.django_db
def test_viewset_options_follows_get_action(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    assert client.options("/docs/", **bearer(scope="docs:read")).status_code == 200


def test_unimplemented_method_is_405_not_a_declaration_error(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    response = client.put("/method/", **bearer(scope="api://files-app/files.read admin"))
    assert response.status_code == 405


def test_undeclared_view_fails_closed_for_every_token(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    response = client.get("/undeclared/", **bearer(scope="admin openid"))
    assert response.status_code == 403
    assert response.json() == {"error": "access_denied", "error_description": "This resource declares no scopes."}


@pytest.mark.parametrize(
    ("scope", "status"), [("reports:read reports:list", 200), ("admin", 200), ("reports:read", 403)]
)
def test_function_view_alternatives(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]], scope: str, status: int
) -> None:
    assert client.get("/alternatives/", **bearer(scope=scope)).status_code == status
    assert client.post("/alternatives/", **bearer(scope=scope)).status_code == status
