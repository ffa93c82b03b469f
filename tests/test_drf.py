"""The adapter from library errors to DRF exceptions."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from django.test import override_settings

from django_bearer_guard._drf import api_exception, realm, token_exception
from django_bearer_guard.exceptions import ExpiredToken, InsufficientScope
from django_bearer_guard.tokens.verified import Binding, VerifiedToken


class Unreadable(Mapping[str, Any]):
    """A settings value that fails when read, as a lazy settings source whose backend is down."""

    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("settings backend unreachable")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("settings backend unreachable")

    def __len__(self) -> int:
        raise RuntimeError("settings backend unreachable")


def test_realm_follows_the_realm_setting() -> None:
    with override_settings(BEARER_GUARD={"REALM": "files"}):
        assert realm() == "files"


def test_realm_with_unreadable_settings_is_api() -> None:
    with override_settings(BEARER_GUARD=Unreadable()):
        assert realm() == "api"


def test_api_exception_with_unreadable_settings_still_answers_its_status_and_challenge() -> None:
    # The 401 stays a 401: a settings failure never turns it into a 500.
    with override_settings(BEARER_GUARD=Unreadable()):
        exc = api_exception(ExpiredToken())
    assert exc.status_code == 401
    assert exc.auth_header == (
        'Bearer realm="api", error="invalid_token", error_description="The access token has expired."'
    )


def test_api_exception_for_insufficient_scope_names_the_needed_scopes() -> None:
    exc = api_exception(InsufficientScope("needs a:read", scopes=("a:read", "b:write")))
    assert exc.status_code == 403
    assert isinstance(exc.detail, dict)
    assert exc.detail["error"] == "insufficient_scope"
    assert exc.auth_header is not None and exc.auth_header.endswith(', scope="a:read b:write"')


def _dpop_token(issuer: str) -> VerifiedToken:
    binding = Binding(methods=frozenset({"jkt"}), jkt="thumbprint")
    return VerifiedToken({}, {}, issuer, frozenset(), None, None, 0.0, binding)


def test_token_exception_answers_a_dpop_request_with_its_issuers_proof_algorithms() -> None:
    issuer = {"issuer": "https://idp.example/", "audiences": ["api"], "algorithms": ["PS256", "ES256"],
              "jwks_uri": "https://idp.example/jwks"}
    with override_settings(BEARER_GUARD={"ISSUERS": [issuer]}):
        exc = token_exception(InsufficientScope(scopes=["a"]), _dpop_token("https://idp.example/"))
    assert exc.auth_header is not None and exc.auth_header.startswith('DPoP realm="api", error="insufficient_scope"')
    assert exc.auth_header.endswith('scope="a", algs="ES256 PS256"')


def test_token_exception_for_an_issuer_no_longer_trusted_offers_every_proof_algorithm() -> None:
    with override_settings(BEARER_GUARD={"ISSUERS": []}):
        exc = token_exception(InsufficientScope(scopes=["a"]), _dpop_token("https://gone.example/"))
    assert exc.auth_header is not None and "ES256" in exc.auth_header and "EdDSA" in exc.auth_header


def test_token_exception_for_a_bearer_token_keeps_the_bearer_challenge() -> None:
    token = VerifiedToken({}, {}, "https://idp.example/", frozenset(), None, None, 0.0)
    assert token_exception(ExpiredToken(), token).auth_header == api_exception(ExpiredToken()).auth_header
