"""``A | B`` of the library's permissions: the other operand is tried before a refusal stands."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from django_bearer_guard.permissions import AccessDenied, AllowedWorkloads, HasScopes, TokenOwnsObject
from tests.support.tokens import drf_request, make_token

VIEW = SimpleNamespace(allowed_workloads=["spiffe://example.org/ns/prod/sa/billing"], required_scopes=["reports:read"])
OUTSIDER = make_token(workload="spiffe://example.org/ns/other/sa/x", sub="alice")


def test_either_object_permission_admits_the_owner_when_the_workload_is_refused() -> None:
    either = (AllowedWorkloads | TokenOwnsObject)()
    assert either.has_object_permission(drf_request(OUTSIDER), VIEW, SimpleNamespace(owner="alice"))


def test_either_object_permission_admits_an_allowed_workload_on_an_object_it_does_not_own() -> None:
    either = (TokenOwnsObject | AllowedWorkloads)()
    billing = make_token(workload="spiffe://example.org/ns/prod/sa/billing", sub="svc")
    assert either.has_object_permission(drf_request(billing), VIEW, SimpleNamespace(owner="alice"))


def test_either_object_permission_when_neither_allows_raises_the_first_refusal() -> None:
    either = (AllowedWorkloads | TokenOwnsObject)()
    with pytest.raises(AccessDenied) as caught:
        either.has_object_permission(drf_request(OUTSIDER), VIEW, SimpleNamespace(owner="bob"))
    assert isinstance(caught.value.detail, dict)
    assert caught.value.detail["error_description"] == "The calling workload is not allowed to use this resource."


@pytest.mark.parametrize("method", ["has_permission", "has_object_permission"])
def test_either_without_a_bearer_token_is_false_so_drf_answers_401(method: str) -> None:
    either = (HasScopes | AllowedWorkloads)()
    args = (drf_request(None), VIEW) + ((SimpleNamespace(owner="alice"),) if method == "has_object_permission" else ())
    assert getattr(either, method)(*args) is False
