"""Requests through Django's test client with a bearer credential, and checks of RFC 6750 refusals."""

from __future__ import annotations

import re
from typing import Any

from django.test import Client

_PARAM = re.compile(r'([a-z_]+)="((?:[^"\\]|\\.)*)"')
_ERROR_CHALLENGE = re.compile(
    r'^Bearer realm="api", error="(invalid_request|invalid_token|insufficient_scope)"'
    r'(, error_description="[ -!#-\[\]-~]*")?(, scope="[^"]+")?$'
)
INSUFFICIENT = (
    'Bearer realm="{realm}", error="insufficient_scope", '
    'error_description="The access token lacks a required scope.", scope="{scope}"'
)


def challenge_params(value: str) -> dict[str, str]:
    assert value.startswith("Bearer "), value
    return dict(_PARAM.findall(value))


def call(client: Client, header: str | None, path: str = "/whoami/", **extra: Any) -> Any:
    if header is not None:
        extra["HTTP_AUTHORIZATION"] = header
    return client.get(path, **extra)


def bearer(client: Client, token: str, path: str = "/whoami/") -> Any:
    return call(client, f"Bearer {token}", path)


def assert_refused(response: Any, status: int, error: str) -> dict[str, str]:
    assert response.status_code == status, (response.status_code, response.content[:300])
    header = response["WWW-Authenticate"]
    assert _ERROR_CHALLENGE.match(header), header
    params = challenge_params(header)
    assert params["error"] == error
    return params


def challenge(scope: str, realm: str = "api") -> str:
    """The exact challenge of an ``insufficient_scope`` refusal that names ``scope``."""
    return INSUFFICIENT.format(realm=realm, scope=scope)
