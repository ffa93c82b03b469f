from __future__ import annotations

import logging
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from django.test import override_settings
from rest_framework import viewsets
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from django_bearer_guard.authentication import BearerGuardAPIException
from django_bearer_guard.permissions import AccessDenied, HasScopes, require_scopes, required_scope_sets
from tests.support.tokens import drf_request, make_token
from tests.testapp.scope_views import ReportView, ScopedDocumentViewSet, file_info

CHALLENGE = (
    'Bearer realm="api", error="insufficient_scope", '
    'error_description="The access token lacks a required scope.", scope="{}"'
)


def check(view: Any, scopes: tuple[str, ...], method: str = "GET") -> bool:
    return HasScopes().has_permission(drf_request(make_token(scopes), method), view)


def test_has_scopes_allows_token_with_every_required_scope() -> None:
    assert check(
        SimpleNamespace(required_scopes=["files:read", "files:list"]), ("files:list", "files:read", "x")
    )


def test_has_scopes_refuses_token_missing_one_scope_with_insufficient_scope() -> None:
    with pytest.raises(BearerGuardAPIException) as caught:
        check(SimpleNamespace(required_scopes=["files:read", "files:list"]), ("files:read",))
    assert caught.value.status_code == 403
    assert caught.value.detail == {
        "error": "insufficient_scope",
        "error_description": "The access token lacks a required scope.",
    }
    assert caught.value.auth_header == CHALLENGE.format("files:read files:list")


def test_has_scopes_answers_403_with_rfc6750_challenge(call: Callable[..., Any]) -> None:
    response = call(ReportView.as_view(), token=make_token(("reports:write",)))
    assert response.status_code == 403
    assert response["WWW-Authenticate"] == CHALLENGE.format("reports:read")
    assert response.data == {
        "error": "insufficient_scope",
        "error_description": "The access token lacks a required scope.",
    }


def test_has_scopes_challenge_uses_configured_realm(call: Callable[..., Any]) -> None:
    with override_settings(BEARER_GUARD={"REALM": "files"}):
        response = call(ReportView.as_view(), token=make_token())
    assert response["WWW-Authenticate"].startswith('Bearer realm="files", error="insufficient_scope"')


def test_has_scopes_escapes_odd_scope_names_in_challenge() -> None:
    with pytest.raises(BearerGuardAPIException) as caught:
        check(SimpleNamespace(required_scopes=['a"b', "c\\d"]), ())
    assert caught.value.auth_header is not None
    assert caught.value.auth_header.endswith('scope="a\\"b c\\\\d"')


def test_has_scopes_lets_unauthenticated_request_reach_401(call: Callable[..., Any]) -> None:
    response = call(ReportView.as_view())
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_has_scopes_refuses_request_not_authenticated_by_token() -> None:
    view: Any = SimpleNamespace(required_scopes=[])
    assert not HasScopes().has_permission(drf_request("session-token"), view)


@pytest.mark.parametrize(
    ("method", "scopes", "allowed"),
    [
        ("GET", ("reports:read",), True),
        ("HEAD", ("reports:read",), True),
        ("OPTIONS", ("reports:read",), True),
        ("GET", ("reports:write",), False),
        ("POST", ("reports:read",), False),
        ("POST", ("reports:write", "reports:read"), True),
        ("POST", ("admin",), True),
        ("PUT", ("admin", "reports:read", "reports:write"), False),
    ],
)
def test_has_scopes_follows_per_method_declaration(
    call: Callable[..., Any], method: str, scopes: tuple[str, ...], allowed: bool
) -> None:
    response = call(ReportView.as_view(), method, token=make_token(scopes))
    # PUT is not implemented: declared nowhere, it is refused before DRF's 405.
    assert (response.status_code < 400) is allowed


def test_has_scopes_explicit_head_overrides_get() -> None:
    view = SimpleNamespace(required_scopes_by_method={"get": ["a"], "head": ["b"]})
    assert check(view, ("b",), "HEAD")
    assert check(view, ("a",), "get")
    with pytest.raises(BearerGuardAPIException):
        check(view, ("a",), "HEAD")


def test_has_scopes_alternatives_challenge_names_first_set() -> None:
    view = SimpleNamespace(required_scopes=[["a", "b"], ["admin"]])
    with pytest.raises(BearerGuardAPIException) as caught:
        check(view, ("a",))
    assert caught.value.auth_header is not None
    assert caught.value.auth_header.endswith('scope="a b"')


@pytest.mark.parametrize(
    ("method", "action", "scopes", "allowed"),
    [
        ("get", "list", ("docs:read",), True),
        ("get", "retrieve", ("docs:read",), True),
        ("post", "create", ("docs:read",), False),
        ("post", "create", ("docs:write",), True),
        ("delete", "destroy", ("docs:write",), False),
        ("delete", "destroy", ("docs:admin",), True),
    ],
)
def test_has_scopes_follows_per_action_declaration(
    method: str, action: str, scopes: tuple[str, ...], allowed: bool
) -> None:
    view = ScopedDocumentViewSet(action=action)
    if allowed:
        assert check(view, scopes, method)
    else:
        with pytest.raises(BearerGuardAPIException):
            check(view, scopes, method)


def test_has_scopes_action_wins_over_method() -> None:
    view = SimpleNamespace(
        action="export", required_scopes_by_action={"export": ["x"]}, required_scopes_by_method={"GET": ["y"]}
    )
    assert required_scope_sets(view, "GET") == (("x",),)


@pytest.mark.parametrize(
    "view",
    [
        pytest.param(SimpleNamespace(), id="nothing"),
        pytest.param(SimpleNamespace(required_scopes=None), id="none"),
        pytest.param(SimpleNamespace(required_scopes="files:read"), id="bare-string"),
        pytest.param(SimpleNamespace(required_scopes=["a", ["b"]]), id="mixed"),
        pytest.param(SimpleNamespace(required_scopes=[""]), id="empty-scope"),
        pytest.param(SimpleNamespace(required_scopes=["files read"]), id="space-in-scope"),
        pytest.param(SimpleNamespace(required_scopes=[["a"], "b"]), id="mixed-alternatives"),
        pytest.param(SimpleNamespace(required_scopes={"a"}), id="set"),
        pytest.param(SimpleNamespace(required_scopes_by_method={"POST": ["a"]}), id="other-method-only"),
        pytest.param(SimpleNamespace(required_scopes_by_method=[("GET", ["a"])]), id="by-method-not-a-dict"),
        pytest.param(
            SimpleNamespace(required_scopes_by_action=["list"], required_scopes=["a"]), id="by-action-list"
        ),
    ],
)
def test_has_scopes_fails_closed_without_valid_declaration(view: Any, caplog: pytest.LogCaptureFixture) -> None:
    with (
        caplog.at_level(logging.ERROR, "django_bearer_guard.permissions"),
        pytest.raises(AccessDenied) as caught,
    ):
        check(view, ("a", "b", "files:read"))
    assert caught.value.status_code == 403
    assert isinstance(caught.value.detail, dict)
    assert caught.value.detail["error"] == "access_denied"
    assert "declares no valid scopes" in caplog.text


def test_has_scopes_empty_declaration_needs_only_a_valid_token() -> None:
    assert check(SimpleNamespace(required_scopes=[]), ())


def test_require_scopes_declares_function_view_scopes(call: Callable[..., Any]) -> None:
    assert call(file_info, token=make_token(("files:read",))).status_code == 200
    assert call(file_info, "delete", token=make_token(("files:read",))).status_code == 403
    assert call(file_info, "delete", token=make_token(("files:delete",))).status_code == 200
    response = call(file_info, token=make_token(("files:delete",)))
    assert response["WWW-Authenticate"] == CHALLENGE.format("files:read")


def test_require_scopes_adds_has_scopes_once_and_keeps_other_permissions() -> None:
    @require_scopes(["a", "b"], ["admin"])
    @api_view(["GET"])
    @permission_classes([IsAuthenticated, HasScopes])
    def view(request: Request) -> Response:
        return Response()

    declared: Any = view.cls  # the subclass require_scopes made, with its required_scopes
    assert declared.permission_classes == [IsAuthenticated, HasScopes]
    assert declared.required_scopes == [["a", "b"], ["admin"]]


def test_require_scopes_without_arguments_needs_only_a_token(call: Callable[..., Any]) -> None:
    @require_scopes()
    @api_view(["GET"])
    def view(request: Request) -> Response:
        return Response()

    declared: Any = view.cls
    assert declared.required_scopes == []
    assert call(view, token=make_token()).status_code == 200


def test_require_scopes_by_method_only_leaves_other_methods_undeclared(call: Callable[..., Any]) -> None:
    @require_scopes(by_method={"POST": ["a"]})
    @api_view(["GET", "POST"])
    def view(request: Request) -> Response:
        return Response()

    declared: Any = view.cls
    assert declared.required_scopes is None
    assert call(view, "post", token=make_token(("a",))).status_code == 200
    assert call(view, token=make_token(("a",))).data["error"] == "access_denied"


def test_require_scopes_below_api_view_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="above @api_view"):

        @api_view(["GET"])
        @require_scopes("a")
        def view(request: Request) -> Response:
            return Response()


def test_require_scopes_works_on_class_based_view(call: Callable[..., Any]) -> None:
    class Plain(APIView):
        def get(self, request: Request) -> Response:
            return Response()

    view = require_scopes("plain:read")(Plain.as_view())
    assert call(view, token=make_token(("plain:read",))).status_code == 200
    assert call(view, token=make_token()).status_code == 403
    # The decorated route gets a subclass: other routes of Plain are unchanged.
    assert not hasattr(Plain, "required_scopes")
    assert HasScopes not in Plain.permission_classes


def test_require_scopes_works_on_viewset_route(call: Callable[..., Any]) -> None:
    class Things(viewsets.ViewSet):
        def list(self, request: Request) -> Response:
            return Response([])

    view = require_scopes("things:read")(Things.as_view({"get": "list"}, basename="thing"))
    assert view.cls.__name__ == "Things"
    assert call(view, token=make_token(("things:read",))).status_code == 200
    assert call(view, token=make_token()).status_code == 403
