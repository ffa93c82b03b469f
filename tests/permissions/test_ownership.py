from __future__ import annotations

import uuid
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from django_bearer_guard.permissions import AccessDenied, TokenOwnsObject
from tests.support.tokens import drf_request, make_token
from tests.testapp.models import Document, Project
from tests.testapp.scope_views import OwnedDocumentView, TenantDocumentView


@pytest.fixture
def document(db: None) -> Document:
    created: Document = Document.objects.create(title="q3", owner="alice", project=Project.objects.create(tenant="t-1"))
    return created


def test_token_owns_object_admits_owner(call: Callable[..., Any], document: Document) -> None:
    response = call(OwnedDocumentView.as_view(), token=make_token(), pk=document.pk)
    assert response.status_code == 200
    assert response.data["title"] == "q3"


def test_token_owns_object_refuses_other_subject(call: Callable[..., Any], document: Document) -> None:
    response = call(OwnedDocumentView.as_view(), token=make_token(sub="mallory"), pk=document.pk)
    assert response.status_code == 403
    assert response.data == {
        "error": "access_denied",
        "error_description": "The access token does not own this object.",
    }


def test_token_owns_object_follows_dotted_claim_and_related_field(call: Callable[..., Any], document: Document) -> None:
    view = TenantDocumentView.as_view()
    assert call(view, token=make_token(org={"tenant": "t-1"}), pk=document.pk).status_code == 200
    assert call(view, token=make_token(org={"tenant": "t-2"}), pk=document.pk).status_code == 403
    assert call(view, token=make_token(org="t-1"), pk=document.pk).status_code == 403


def test_token_owns_object_lets_unauthenticated_request_reach_401(call: Callable[..., Any], document: Document) -> None:
    assert call(TenantDocumentView.as_view(), pk=document.pk).status_code == 401


def owns(claim: str, field: str, obj: Any, **token: Any) -> bool:
    view: Any = SimpleNamespace(owner_claim=claim, owner_field=field)
    try:
        return TokenOwnsObject().has_object_permission(drf_request(make_token(**token)), view, obj)
    except AccessDenied:
        return False


ID = uuid.UUID("6e74172b-be56-4843-9ff4-e66a39bb12e3")


@pytest.mark.parametrize(
    ("claim", "field", "obj", "token", "expected"),
    [
        ("workload", "caller", SimpleNamespace(caller="spiffe://td/a"), {"workload": "spiffe://td/a"}, True),
        ("workload", "caller", SimpleNamespace(caller="spiffe://td/b"), {"workload": "spiffe://td/a"}, False),
        ("workload", "caller", SimpleNamespace(caller=None), {}, False),
        ("tenant", "tenant_id", SimpleNamespace(tenant_id=7), {"tenant": 7}, True),
        ("tenant", "tenant_id", SimpleNamespace(tenant_id=ID), {"tenant": str(ID)}, True),
        ("tenant", "tenant_id", SimpleNamespace(tenant_id=1), {"tenant": True}, False),
        ("tenant", "tenant_id", SimpleNamespace(tenant_id=True), {"tenant": "True"}, False),
        ("tenant", "tenant_id", SimpleNamespace(tenant_id=""), {"tenant": ""}, False),
        ("tenant", "tenant_id", SimpleNamespace(tenant_id=["a"]), {"tenant": ["a"]}, False),
        ("tenant", "tenant_id", SimpleNamespace(), {}, False),
        ("sub", "owner.name", SimpleNamespace(owner=SimpleNamespace(name="alice")), {}, True),
        ("sub", "owner", SimpleNamespace(owner=SimpleNamespace(name="alice")), {}, False),
    ],
)
def test_token_owns_object_compares_plain_identifiers(
    claim: str, field: str, obj: object, token: dict[str, Any], expected: bool
) -> None:
    assert owns(claim, field, obj, **token) is expected


def test_token_owns_object_defaults_to_sub_and_owner() -> None:
    request = drf_request(make_token())
    view: Any = SimpleNamespace()
    assert TokenOwnsObject().has_object_permission(request, view, SimpleNamespace(owner="alice"))


def test_token_owns_object_refuses_request_not_authenticated_by_token() -> None:
    permission = TokenOwnsObject()
    view: Any = SimpleNamespace()
    assert not permission.has_object_permission(drf_request(None), view, SimpleNamespace(owner=""))
