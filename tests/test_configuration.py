"""BEARER_GUARD as a project writes it.

``override_settings`` controls everything, the documented keys pass the checks, and a
misconfiguration fails closed, is logged and is reported by ``manage.py check``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from django.core.checks import Error
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client, override_settings

from django_bearer_guard.checks import check_settings
from django_bearer_guard.testing import LocalIssuer
from tests.support.client import assert_refused, bearer, challenge_params


def test_override_settings_fully_controls_behaviour(client: Client, idp: LocalIssuer, guard: Any) -> None:
    token = idp.mint()
    assert bearer(client, token).status_code == 200
    with override_settings(BEARER_GUARD={"ISSUERS": [], "REALM": "other", "ALLOW_HTTP_LOOPBACK": True}):
        response = bearer(client, token)
        assert response.status_code == 401
        assert challenge_params(response["WWW-Authenticate"])["realm"] == "other"
    with override_settings(BEARER_GUARD={"ISSUERS": [idp.issuer_settings()], "ALLOW_HTTP_LOOPBACK": True,
                                         "MAX_TOKEN_BYTES": 300}):
        assert bearer(client, token).status_code == 401
    with override_settings(BEARER_GUARD={"ISSUERS": [idp.issuer_settings(audiences=["urn:other"])],
                                         "ALLOW_HTTP_LOOPBACK": True}):
        assert bearer(client, token).status_code == 401
    assert bearer(client, token).status_code == 200


def test_documented_settings_keys_are_accepted(guard: Callable[..., None], idp: LocalIssuer) -> None:
    guard(
        issuers=[idp.issuer_settings(scope_claim="scp", workload_claim="azp", required_typ="at+jwt",
                                     required_claims=["exp", "iat", "sub"], leeway=10)],
        LEEWAY=30, REALM="api", MAX_TOKEN_BYTES=8192, CACHE_ALIAS="default", JWKS_TIMEOUT=2.0,
        JWKS_MAX_BYTES=262144, JWKS_MIN_TTL=300, JWKS_MAX_TTL=86400, JWKS_REFETCH_COOLDOWN=30,
        JWKS_STALE_WINDOW=86400, USER_LOOKUP=None, SCOPE_PERMISSIONS={},
        TRANSPORT_IDENTITY={"source": None, "header": "X-Forwarded-Client-Cert", "trusted_proxies": []},
    )
    assert [m for m in check_settings() if isinstance(m, Error)] == []


def test_small_timing_values_are_legal(guard: Callable[..., None]) -> None:
    guard(JWKS_TIMEOUT=1, JWKS_MIN_TTL=1, JWKS_MAX_TTL=1, JWKS_REFETCH_COOLDOWN=1, JWKS_STALE_WINDOW=1, LEEWAY=1)
    assert [m for m in check_settings() if isinstance(m, Error)] == []


@pytest.mark.parametrize("timeout", [float("nan"), float("inf")])
def test_non_finite_jwks_timeout_is_a_check_error(guard: Callable[..., None], timeout: float) -> None:
    guard(JWKS_TIMEOUT=timeout)
    assert any(isinstance(m, Error) and "JWKS_TIMEOUT" in m.msg for m in check_settings())


def test_user_lookup_on_a_missing_field_is_a_check_error(guard: Callable[..., None]) -> None:
    guard(USER_LOOKUP={"claim": "sub", "field": "no_such_field", "create": False})
    assert any(isinstance(m, Error) and "USER_LOOKUP" in m.msg for m in check_settings())


# Django 6.1 hands every database to the checks, which then read TrustedIssuer rows.
@pytest.mark.django_db
def test_http_key_url_without_loopback_setting_fails_closed_logged_and_checked(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> None:
    guard(ALLOW_HTTP_LOOPBACK=False)
    with caplog.at_level(logging.INFO, logger="django_bearer_guard"):
        assert_refused(bearer(client, idp.mint()), 401, "invalid_token")
    assert idp.fetches() == 0
    assert any("http" in record.getMessage() and record.name.startswith("django_bearer_guard")
               for record in caplog.records)
    assert any(isinstance(m, Error) for m in check_settings())
    with pytest.raises(SystemCheckError):
        call_command("check")


# Django 6.1 hands every database to the checks, which then read TrustedIssuer rows.
@pytest.mark.django_db
def test_global_misconfiguration_fails_closed_not_500(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> None:
    guard(LEEWAY="thirty")
    with caplog.at_level(logging.INFO, logger="django_bearer_guard"):
        assert_refused(bearer(client, idp.mint()), 401, "invalid_token")
    assert any(record.name.startswith("django_bearer_guard") for record in caplog.records)
    assert any(isinstance(m, Error) and "LEEWAY" in m.msg for m in check_settings())
    with pytest.raises(SystemCheckError):
        call_command("check")
