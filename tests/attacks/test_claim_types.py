"""Claim type confusion: registered claims carry their registered types (RFC 7519 §4.1).

A signed ``sub: 1234`` (or a list, an object, ``true``, ``null``) must not reach a user
lookup, a workload pattern or a replay cache that expects a string; it is refused with a 401.
"""

from __future__ import annotations

import json
from typing import Any

import jwt
import pytest
from django.test import Client

from django_bearer_guard.exceptions import InvalidClaim
from django_bearer_guard.signals import token_rejected
from django_bearer_guard.testing import LocalIssuer

NOT_STRINGS = [1234, 1.5, True, None, ["admin"], {"id": "admin"}]


def signed(idp: LocalIssuer, **claims: Any) -> str:
    """A token signed by ``idp`` whose claims may be JSON null (``mint()`` drops those)."""
    key = idp.signing_key()
    payload = {"iss": idp.issuer, "aud": idp.audience, "sub": "svc", "exp": 4_000_000_000, **claims}
    body = json.dumps(payload).encode()
    return jwt.api_jws.encode(body, key.private_key, algorithm=key.alg, headers={"kid": key.kid})


@pytest.fixture(autouse=True)
def _trusted(guard: Any) -> None:
    """Every attack runs against a correctly configured, trusting API."""


def test_claim_type_confusion_sanity_string_claims_are_accepted(client: Client, idp: LocalIssuer) -> None:
    token = signed(idp, sub="svc", jti="t-1", client_id="app", azp="app")
    assert client.get("/whoami/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200


@pytest.mark.parametrize("name", ["sub", "jti", "client_id", "azp"])
@pytest.mark.parametrize("value", NOT_STRINGS, ids=repr)
def test_claim_type_confusion_non_string_registered_claim_is_refused(
    client: Client, idp: LocalIssuer, name: str, value: Any
) -> None:
    errors: list[Exception] = []

    def record(sender: Any, error: Exception, **kwargs: Any) -> None:
        errors.append(error)

    token_rejected.connect(record)
    try:
        response = client.get("/whoami/", HTTP_AUTHORIZATION=f"Bearer {signed(idp, **{name: value})}")
    finally:
        token_rejected.disconnect(record)
    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]
    assert len(errors) == 1 and isinstance(errors[0], InvalidClaim) and name in errors[0].reason
