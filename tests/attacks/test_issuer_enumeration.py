"""Issuer and key enumeration: refusals before the signature is verified all look the same.

A caller without a valid token must not learn from a 401 whether an ``iss`` is trusted, a
``kid`` exists, an issuer's keys are reachable or an algorithm is allowed. The specific reason
still reaches the log and the ``token_rejected`` signal.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client

from django_bearer_guard.exceptions import (
    BadSignature,
    DisallowedAlgorithm,
    ExpiredToken,
    ForbiddenHeader,
    InvalidToken,
    KeysUnavailable,
    MalformedToken,
    MissingClaim,
    TokenTooLarge,
    UnknownKey,
    UntrustedIssuer,
)
from django_bearer_guard.signals import token_rejected
from django_bearer_guard.testing import LocalIssuer
from tests.support.keys import pooled_key

GENERIC_CHALLENGE = 'Bearer realm="api", error="invalid_token", error_description="The access token is invalid."'
GENERIC_BODY = {"error": "invalid_token", "error_description": "The access token is invalid."}


def b64(data: str) -> str:
    return base64.urlsafe_b64encode(data.encode()).rstrip(b"=").decode()


def resign(token: str, other: str) -> str:
    """``token``'s header and payload with ``other``'s signature."""
    return token.rsplit(".", 1)[0] + "." + other.rsplit(".", 1)[1]


def with_header(token: str, **members: Any) -> str:
    header_b64, rest = token.split(".", 1)
    header = json.loads(base64.urlsafe_b64decode(header_b64 + "=="))
    return b64(json.dumps({**header, **members})) + "." + rest


# name → (token built from the trusted issuer and a trusted-but-unreachable one, expected error)
CASES: dict[str, tuple[Callable[[LocalIssuer, LocalIssuer], str], type[InvalidToken]]] = {
    "untrusted issuer": (lambda idp, down: idp.mint(iss="https://partner.example/"), UntrustedIssuer),
    "untrusted issuer, unknown kid": (
        lambda idp, down: idp.mint(iss="https://other-partner.example/", key=pooled_key("RS256", 1)),
        UntrustedIssuer,
    ),
    "unknown kid": (lambda idp, down: idp.mint(key=pooled_key("RS256", 1)), UnknownKey),
    "bad signature": (lambda idp, down: resign(idp.mint(), idp.mint(sub="other")), BadSignature),
    "disallowed algorithm": (lambda idp, down: with_header(idp.mint(), alg="ES256"), DisallowedAlgorithm),
    "forbidden header": (lambda idp, down: with_header(idp.mint(), jku="https://evil.example/jwks"), ForbiddenHeader),
    "malformed": (lambda idp, down: "e30.e30.e30", MalformedToken),
    "missing iss": (lambda idp, down: idp.mint(iss=""), MissingClaim),
    "oversized": (lambda idp, down: "a" * 9000, TokenTooLarge),
    "trusted issuer without keys": (lambda idp, down: down.mint(), KeysUnavailable),
}


@pytest.fixture
def unreachable(make_idp: Callable[..., LocalIssuer], idp: LocalIssuer, guard: Callable[..., None]) -> LocalIssuer:
    """A second trusted issuer whose key URL answers 503."""
    down = make_idp(issuer_path="/down/")
    down.mode = "down"
    guard(issuers=[idp.issuer_settings(), down.issuer_settings()])
    return down


@pytest.fixture
def rejections() -> Iterator[list[tuple[type[Exception], str]]]:
    seen: list[tuple[type[Exception], str]] = []

    def record(sender: Any, error: Exception, reason: str, request: Any, **kwargs: Any) -> None:
        seen.append((type(error), reason))

    token_rejected.connect(record)
    yield seen
    token_rejected.disconnect(record)


def send(client: Client, token: str) -> tuple[int, bytes, dict[str, str]]:
    response = client.get("/whoami/", HTTP_AUTHORIZATION=f"Bearer {token}")
    return response.status_code, response.content, dict(response.headers)


def test_issuer_enumeration_every_pre_signature_refusal_answers_byte_identically(
    client: Client,
    idp: LocalIssuer,
    unreachable: LocalIssuer,
    rejections: list[tuple[type[Exception], str]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert client.get("/whoami/", HTTP_AUTHORIZATION=f"Bearer {idp.mint()}").status_code == 200
    with caplog.at_level(logging.INFO, logger="django_bearer_guard"):
        answers = {name: send(client, build(idp, unreachable)) for name, (build, _) in CASES.items()}

    status, body, headers = answers["untrusted issuer"]
    assert status == 401
    assert json.loads(body) == GENERIC_BODY
    assert headers["WWW-Authenticate"] == GENERIC_CHALLENGE
    for name, answer in answers.items():
        assert answer == (status, body, headers), name

    # The specific reasons still reach the signal and the log, one per case.
    assert [error for error, _ in rejections] == [error for _, error in CASES.values()]
    reasons = [reason for _, reason in rejections]
    assert len(set(reasons)) == len(reasons)
    for reason in reasons:
        assert reason in caplog.text


def test_issuer_enumeration_refusals_after_the_signature_stay_specific(
    client: Client, idp: LocalIssuer, guard: Any
) -> None:
    status, body, headers = send(client, idp.mint(exp=1))
    assert status == 401
    assert json.loads(body)["error_description"] == ExpiredToken.default_description
    assert headers["WWW-Authenticate"] != GENERIC_CHALLENGE
