"""DRF's DjangoModelPermissions driven by token scopes: SCOPE_PERMISSIONS grants, the token narrows."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from tests.testapp.models import Document

pytestmark = pytest.mark.urls("tests.testapp.permission_urls")


SCOPE_PERMISSIONS = {
    "docs:read": ["testapp.view_document"],
    "docs:write": ["testapp.add_document", "testapp.change_document"],
    "docs:delete": ["testapp.delete_document"],
}


@pytest.mark.django_db
def test_token_user_drives_django_model_permissions_for_every_verb(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    guard(SCOPE_PERMISSIONS=SCOPE_PERMISSIONS)
    doc = Document.objects.create(title="t")
    url = f"/model-docs/{doc.pk}/"
    assert client.get("/model-docs/", **bearer(scope="docs:write")).status_code == 403
    assert client.get("/model-docs/", **bearer(scope="docs:read")).status_code == 200
    assert client.post("/model-docs/", {"title": "n"}, **bearer(scope="docs:read")).status_code == 403
    assert client.post("/model-docs/", {"title": "n"}, **bearer(scope="docs:write")).status_code == 201
    body = json.dumps({"title": "x"})
    assert client.put(url, body, "application/json", **bearer(scope="docs:read")).status_code == 403
    assert client.patch(url, body, "application/json", **bearer(scope="docs:write")).status_code == 200
    assert client.delete(url, **bearer(scope="docs:write")).status_code == 403
    assert client.delete(url, **bearer(scope="docs:delete")).status_code == 204


@pytest.mark.django_db
def test_superuser_is_narrowed_to_token_scopes(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    guard(SCOPE_PERMISSIONS=SCOPE_PERMISSIONS, USER_LOOKUP={"claim": "sub", "field": "username"})
    User.objects.create_superuser("root", password=None)
    doc = Document.objects.create(title="t")
    assert client.get("/model-docs/", **bearer(sub="root")).status_code == 403
    assert client.post("/model-docs/", {"title": "n"}, **bearer(sub="root", scope="docs:write")).status_code == 201
    assert client.delete(f"/model-docs/{doc.pk}/", **bearer(sub="root", scope="docs:write")).status_code == 403
    assert client.delete(f"/model-docs/{doc.pk}/", **bearer(sub="root", scope="docs:delete")).status_code == 204


@pytest.mark.django_db
def test_scope_never_widens_a_looked_up_user(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    guard(SCOPE_PERMISSIONS=SCOPE_PERMISSIONS, USER_LOOKUP={"claim": "sub", "field": "username"})
    user = User.objects.create_user("carol")
    user.user_permissions.add(Permission.objects.get(codename="view_document"))
    everything = bearer(sub="carol", scope="docs:read docs:write docs:delete")
    assert client.get("/model-docs/", **everything).status_code == 200
    assert client.post("/model-docs/", {"title": "n"}, **everything).status_code == 403
