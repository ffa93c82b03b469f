from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from django_bearer_guard.exceptions import (
    BadSignature,
    DisallowedAlgorithm,
    ExpiredToken,
    InvalidClaim,
    InvalidToken,
    MalformedToken,
    MissingClaim,
    TokenTooLarge,
    UnknownKey,
    UntrustedIssuer,
)
from django_bearer_guard.testing import LocalIssuer
from django_bearer_guard.tokens.validator import TokenValidator
from tests.support.keys import pooled_key


def test_validate_returns_verified_token(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    token = TokenValidator().validate(idp.mint(scope="a b", jti="id-1"))
    assert token.issuer == idp.issuer
    assert token.scopes == frozenset({"a", "b"})
    assert token.has_scopes("a") and not token.has_scopes("a", "c")
    assert (token.subject, token.workload, token.token_id) == ("test-user", "test-user", "id-1")
    assert token.header["kid"] == idp.signing_key().kid
    assert token.expires_at == token.claims["exp"]


def test_validate_caps_size_itself_for_direct_callers(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    with pytest.raises(TokenTooLarge):
        TokenValidator().validate(idp.mint(padding="x" * 9000))


def test_validate_refuses_non_object_payload(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    import jwt

    key = idp.signing_key()
    token = jwt.api_jws.encode(b"[1, 2]", key.private_key, algorithm="RS256", headers={"kid": key.kid})
    with pytest.raises(MalformedToken):
        TokenValidator().validate(token)


def test_validate_requires_iss(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    with pytest.raises(MissingClaim):
        TokenValidator().validate(idp.mint(iss=""))


@pytest.mark.parametrize("claim", ["jti", "sub"])
def test_validate_refuses_non_string_jti_and_sub(idp: LocalIssuer, guard: Callable[..., None], claim: str) -> None:
    claims: dict[str, Any] = {claim: 7}
    with pytest.raises(InvalidClaim, match=claim):
        TokenValidator().validate(idp.mint(**claims))


def test_validate_gives_no_token_id_or_subject_when_absent(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    token = TokenValidator().validate(idp.mint(jti=None, sub=None))
    assert (token.token_id, token.subject, token.workload) == (None, None, None)


@pytest.mark.parametrize(
    ("build", "error"),
    [
        (lambda idp: idp.mint(padding="x" * 9000), TokenTooLarge),
        (lambda idp: "e30.e30.e30", MalformedToken),
        (lambda idp: idp.mint(iss=""), MissingClaim),
        (lambda idp: idp.mint(iss="https://elsewhere.example/"), UntrustedIssuer),
        (lambda idp: idp.mint(key=pooled_key("RS256", 1)), UnknownKey),
        (lambda idp: idp.mint().rsplit(".", 1)[0] + "." + idp.mint(sub="x").rsplit(".", 1)[1], BadSignature),
    ],
)
def test_validate_gives_pre_signature_refusals_the_generic_description(
    idp: LocalIssuer, guard: Callable[..., None], build: Any, error: type[InvalidToken]
) -> None:
    with pytest.raises(error) as raised:
        TokenValidator().validate(build(idp))
    assert raised.value.description == InvalidToken.default_description
    assert raised.value.reason != InvalidToken.default_description


def test_validate_makes_any_pre_signature_description_generic(
    idp: LocalIssuer, guard: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    from django_bearer_guard.tokens import validator

    def leaky(alg: str, allowed: Any) -> None:
        raise DisallowedAlgorithm("alg 'RS256' is not in ['ES256']", description="Only ES256 is accepted.")

    # A future check that sets its own description still cannot tell an unverified caller more.
    monkeypatch.setattr(validator, "check_algorithm", leaky)
    with pytest.raises(DisallowedAlgorithm) as raised:
        TokenValidator().validate(idp.mint())
    assert raised.value.description == InvalidToken.default_description
    assert raised.value.reason == "alg 'RS256' is not in ['ES256']"


def test_validate_keeps_specific_descriptions_after_the_signature(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    with pytest.raises(ExpiredToken) as raised:
        TokenValidator().validate(idp.mint(exp=1))
    assert raised.value.description == ExpiredToken.default_description


def test_verified_claims_are_always_valid_unicode(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    token = idp.mint(name="\ud800 broken")  # json.dumps writes the escape "\ud800"
    try:
        claims = TokenValidator().validate(token).claims
    except InvalidToken:
        return
    json.dumps(claims, ensure_ascii=False).encode("utf-8")
