from __future__ import annotations

from typing import Any

import pytest

from django_bearer_guard.exceptions import MalformedToken, MissingClaim, TokenTooLarge
from django_bearer_guard.testing import LocalIssuer
from django_bearer_guard.tokens.validator import TokenValidator


def test_validate_returns_verified_token(idp: LocalIssuer, guard: Any) -> None:
    token = TokenValidator().validate(idp.mint(scope="a b", jti="id-1"))
    assert token.issuer == idp.issuer
    assert token.scopes == frozenset({"a", "b"})
    assert token.has_scopes("a") and not token.has_scopes("a", "c")
    assert (token.subject, token.workload, token.token_id) == ("test-user", "test-user", "id-1")
    assert token.header["kid"] == idp.signing_key().kid
    assert token.expires_at == token.claims["exp"]


def test_validate_caps_size_itself_for_direct_callers(idp: LocalIssuer, guard: Any) -> None:
    with pytest.raises(TokenTooLarge):
        TokenValidator().validate(idp.mint(padding="x" * 9000))


def test_validate_refuses_non_object_payload(idp: LocalIssuer, guard: Any) -> None:
    import jwt

    key = idp.signing_key()
    token = jwt.api_jws.encode(b"[1, 2]", key.private_key, algorithm="RS256", headers={"kid": key.kid})
    with pytest.raises(MalformedToken):
        TokenValidator().validate(token)


def test_validate_requires_iss(idp: LocalIssuer, guard: Any) -> None:
    with pytest.raises(MissingClaim):
        TokenValidator().validate(idp.mint(iss=""))


def test_validate_gives_no_token_id_for_non_string_jti(idp: LocalIssuer, guard: Any) -> None:
    assert TokenValidator().validate(idp.mint(jti=7)).token_id is None
