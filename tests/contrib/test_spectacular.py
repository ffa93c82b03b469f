from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

pytest.importorskip("drf_spectacular", reason="drf-spectacular is not installed")

from drf_spectacular.generators import SchemaGenerator

from django_bearer_guard.contrib.spectacular import (  # importing it registers the extension
    LEVEL,
    REFUSED,
    RESOURCE_METADATA,
)
from tests.testapp.permission_urls import alternatives_view


def _generate(urlconf: str) -> dict[str, Any]:
    # drf-spectacular ships py.typed but leaves its schema generator unannotated.
    generator = SchemaGenerator(urlconf=urlconf)  # type: ignore[no-untyped-call]
    schema: dict[str, Any] = generator.get_schema(request=None, public=True)  # type: ignore[no-untyped-call]
    return schema


@pytest.fixture
def schema(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    return scope_schema(monkeypatch)


def scope_schema(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    from drf_spectacular.openapi import AutoSchema

    from tests.testapp.scope_views import file_info

    # @api_view fixes a function view's schema class when the module is imported; projects set
    # DEFAULT_SCHEMA_CLASS in their settings, the tests only around schema generation.
    monkeypatch.setattr(file_info.cls, "schema", AutoSchema())
    rest_framework = {
        "DEFAULT_AUTHENTICATION_CLASSES": ["django_bearer_guard.authentication.BearerTokenAuthentication"],
        "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
        "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    }
    with override_settings(REST_FRAMEWORK=rest_framework):
        return _generate("tests.testapp.scope_urls")


def security(schema: dict[str, Any], path: str, method: str) -> list[dict[str, list[str]]]:
    requirements: list[dict[str, list[str]]] = schema["paths"][path][method]["security"]
    return requirements


def test_schema_declares_http_bearer_jwt_scheme(schema: dict[str, Any]) -> None:
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }


def test_scheme_names_the_resource_metadata_when_served(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "https://api.example.com/.well-known/oauth-protected-resource/v1"
    metadata = {"resource": "https://api.example.com/v1"}
    with override_settings(BEARER_GUARD={"RESOURCE_METADATA": metadata}):
        scheme = scope_schema(monkeypatch)["components"]["securitySchemes"]["bearerAuth"]
    assert scheme[RESOURCE_METADATA] == url
    assert url in scheme["description"]


def test_schema_lists_scopes_per_method(schema: dict[str, Any]) -> None:
    assert security(schema, "/reports/", "get") == [{"bearerAuth": ["reports:read"]}]
    assert security(schema, "/reports/", "post") == [
        {"bearerAuth": ["reports:write", "reports:read"]},
        {"bearerAuth": ["admin"]},
    ]


def test_schema_lists_scopes_per_action(schema: dict[str, Any]) -> None:
    assert security(schema, "/scoped-documents/", "get") == [{"bearerAuth": ["docs:read"]}]
    assert security(schema, "/scoped-documents/", "post") == [{"bearerAuth": ["docs:write"]}]
    assert security(schema, "/scoped-documents/{id}/", "delete") == [{"bearerAuth": ["docs:admin"]}]


def test_schema_lists_function_view_scopes(schema: dict[str, Any]) -> None:
    assert security(schema, "/file-info/", "get") == [{"bearerAuth": ["files:read"]}]
    assert security(schema, "/file-info/", "delete") == [{"bearerAuth": ["files:delete"]}]


def test_schema_without_has_scopes_requires_bare_bearer(schema: dict[str, Any]) -> None:
    assert security(schema, "/workload/", "get") == [{"bearerAuth": []}]
    assert security(schema, "/documents/", "post") == [{"bearerAuth": []}]


def test_schema_of_undeclared_operation_lists_the_refused_role(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.testapp.bad_scope_urls import Undeclared

    rest_framework = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}
    with override_settings(REST_FRAMEWORK=rest_framework):
        result = _generate("tests.testapp.bad_scope_urls")
    assert Undeclared.permission_classes
    assert result["paths"]["/undeclared/"]["get"]["security"] == [{"bearerAuth": [REFUSED]}]
    assert "Undeclared uses HasScopes but declares no valid scopes for GET" in capsys.readouterr().err


def test_schema_is_valid_openapi(schema: dict[str, Any]) -> None:
    from drf_spectacular.validation import validate_schema

    validate_schema(schema)  # type: ignore[no-untyped-call]  # drf-spectacular leaves it unannotated


@pytest.fixture
def openapi(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The schema of the permission test routes."""
    from drf_spectacular.openapi import AutoSchema

    # @api_view fixed the function view's schema class at import, before these settings.
    monkeypatch.setattr(alternatives_view.cls, "schema", AutoSchema())
    rest_framework = {
        "DEFAULT_AUTHENTICATION_CLASSES": ["django_bearer_guard.authentication.BearerTokenAuthentication"],
        "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
        "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    }
    with override_settings(REST_FRAMEWORK=rest_framework):
        schema = _generate("tests.testapp.permission_urls")
    return schema


def test_schema_lists_scopes_per_action_method_and_alternative(openapi: dict[str, Any]) -> None:
    security = {(m.upper(), p): op["security"] for p, ops in openapi["paths"].items() for m, op in ops.items()}
    assert openapi["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    assert security[("GET", "/docs/")] == [{"bearerAuth": ["docs:read"]}]
    assert security[("POST", "/docs/{id}/publish/")] == [{"bearerAuth": ["docs:publish"]}]
    assert security[("GET", "/method/")] == [{"bearerAuth": ["api://files-app/files.read"]}]
    assert security[("POST", "/method/")] == [{"bearerAuth": ["files:write", "files:read"]}, {"bearerAuth": ["admin"]}]
    assert security[("POST", "/alternatives/")] == [
        {"bearerAuth": ["reports:read", "reports:list"]},
        {"bearerAuth": ["admin"]},
    ]


def test_schema_does_not_advertise_fail_closed_operation_as_open_to_any_token(openapi: dict[str, Any]) -> None:
    assert openapi["paths"]["/docs/stats/"]["get"]["security"] == [{"bearerAuth": [REFUSED]}]


@pytest.fixture
def step_up_schema() -> dict[str, Any]:
    rest_framework = {
        "DEFAULT_AUTHENTICATION_CLASSES": ["django_bearer_guard.authentication.BearerTokenAuthentication"],
        "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    }
    with override_settings(REST_FRAMEWORK=rest_framework):
        return _generate("tests.testapp.stepup_urls")


def test_schema_lists_the_authentication_level_of_each_operation(step_up_schema: dict[str, Any]) -> None:
    from tests.testapp.stepup_views import GOLD, SILVER

    paths = step_up_schema["paths"]
    assert paths["/silver/"]["get"][LEVEL] == {"acr_values": [SILVER]}
    assert paths["/recent/"]["get"][LEVEL] == {"max_age": 300}
    assert paths["/gold-or-silver-recent/"]["get"][LEVEL] == {"acr_values": [GOLD, SILVER], "max_age": 300}
    assert paths["/delete-needs-gold/"]["get"][LEVEL] == {"acr_values": [SILVER]}
    assert paths["/delete-needs-gold/"]["delete"][LEVEL] == {"acr_values": [GOLD]}
    assert paths["/things/"]["get"][LEVEL] == {"acr_values": [SILVER]}
    assert paths["/things/"]["post"][LEVEL] == {"acr_values": [GOLD]}
    assert paths["/scopes-and-level/"]["post"][LEVEL] == {"acr_values": [GOLD], "max_age": 300}
    assert paths["/scopes-and-level/"]["post"]["security"] == [{"bearerAuth": ["payments:write"]}]
    assert paths["/silver/"]["get"]["security"] == [{"bearerAuth": []}]


def test_schema_lists_no_level_where_the_method_has_none(step_up_schema: dict[str, Any]) -> None:
    only_get = step_up_schema["paths"]["/post-needs-gold/"]
    assert LEVEL not in only_get["get"]
    assert only_get["post"][LEVEL] == {"acr_values": [_gold()]}


def _gold() -> str:
    from tests.testapp.stepup_views import GOLD

    return GOLD


def test_schema_lists_operation_with_unreadable_level_as_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with override_settings(REST_FRAMEWORK={"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}):
        paths = _generate("tests.testapp.stepup_urls")["paths"]
    assert paths["/undeclared/"]["get"]["security"] == [{"bearerAuth": [REFUSED]}]
    assert paths["/misdeclared/"]["get"]["security"] == [{"bearerAuth": [REFUSED]}]
    assert LEVEL not in paths["/misdeclared/"]["get"]
    assert "MisdeclaredView declares no valid authentication level for GET" in capsys.readouterr().err


def test_step_up_schema_is_valid_openapi(step_up_schema: dict[str, Any]) -> None:
    from drf_spectacular.validation import validate_schema

    validate_schema(step_up_schema)  # type: ignore[no-untyped-call]  # drf-spectacular leaves it unannotated
