from __future__ import annotations

from typing import Any

import pytest

from django_bearer_guard.exceptions import (
    ExpiredToken,
    InvalidClaim,
    InvalidToken,
    IssuedInFuture,
    MissingClaim,
    NotYetValid,
    WrongAudience,
    WrongType,
)
from django_bearer_guard.issuers.config import IssuerConfig
from django_bearer_guard.tokens.claims import check_claims, check_type

NOW = 1_800_000_000.0
ISSUER = IssuerConfig(issuer="https://idp.example/", audiences=("api", "https://api.example"))


def claims(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"iss": ISSUER.issuer, "aud": "api", "exp": NOW + 60, "iat": NOW, "sub": "s"}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def test_check_claims_accepts_valid_claims_and_returns_exp() -> None:
    assert check_claims(claims(), ISSUER, now=NOW, leeway=0) == NOW + 60


@pytest.mark.parametrize(
    ("overrides", "leeway", "error"),
    [
        ({"exp": None}, 0, MissingClaim),
        ({"exp": NOW}, 0, ExpiredToken),
        ({"exp": NOW - 1}, 0, ExpiredToken),
        ({"exp": NOW - 30}, 30, ExpiredToken),
        ({"exp": str(int(NOW + 60))}, 0, InvalidClaim),
        ({"exp": True}, 0, InvalidClaim),
        ({"exp": [NOW + 60]}, 0, InvalidClaim),
        ({"exp": float("inf")}, 0, InvalidClaim),
        ({"nbf": NOW + 10}, 0, NotYetValid),
        ({"nbf": NOW + 31}, 30, NotYetValid),
        ({"nbf": "0"}, 0, InvalidClaim),
        ({"iat": NOW + 10}, 0, IssuedInFuture),
        ({"iat": NOW + 31}, 30, IssuedInFuture),
        ({"iat": "now"}, 0, InvalidClaim),
        ({"aud": None}, 0, MissingClaim),
        ({"aud": "other"}, 0, WrongAudience),
        ({"aud": ["other", "another"]}, 0, WrongAudience),
        ({"aud": "API"}, 0, WrongAudience),
        ({"aud": "https://api.example/"}, 0, WrongAudience),
        ({"aud": []}, 0, InvalidClaim),
        ({"aud": ["api", 1]}, 0, InvalidClaim),
        ({"aud": {"api": True}}, 0, InvalidClaim),
    ],
)
def test_check_claims_refuses(overrides: dict[str, Any], leeway: int, error: type[InvalidToken]) -> None:
    data = claims(**overrides)
    if "exp" in overrides and overrides["exp"] is None:
        data.pop("exp", None)
    with pytest.raises(error):
        check_claims(data, ISSUER, now=NOW, leeway=leeway)


@pytest.mark.parametrize(
    "overrides",
    [
        {"exp": NOW - 29},
        {"nbf": NOW + 30},
        {"iat": NOW + 30},
        {"aud": ["other", "https://api.example"]},
        {"exp": NOW + 60.5},
    ],
)
def test_check_claims_accepts_within_leeway_and_any_listed_audience(overrides: dict[str, Any]) -> None:
    check_claims(claims(**overrides), ISSUER, now=NOW, leeway=30)


def test_check_claims_null_time_claim_is_invalid_not_absent() -> None:
    with pytest.raises(InvalidClaim):
        check_claims({**claims(), "nbf": None}, ISSUER, now=NOW, leeway=0)


@pytest.mark.parametrize("value", [None, "", "   "])
def test_check_claims_refuses_missing_or_empty_required_claim(value: Any) -> None:
    issuer = IssuerConfig(issuer="i", audiences=("api",), required_claims=("sub", "client_id"))
    data = claims(client_id=value) if value is not None else claims()
    with pytest.raises(MissingClaim):
        check_claims(data, issuer, now=NOW, leeway=0)
    check_claims(claims(client_id="c"), issuer, now=NOW, leeway=0)


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt", "Application/AT+JWT"])
def test_check_type_accepts_explicit_access_token_type(typ: str) -> None:
    check_type({"typ": typ}, "at+jwt")
    check_type({"typ": typ}, "application/at+jwt")


@pytest.mark.parametrize(
    "header", [{}, {"typ": "JWT"}, {"typ": "dpop+jwt"}, {"typ": "at+jwt2"}, {"typ": "application/jwt"}]
)
def test_check_type_refuses_other_types_when_required(header: dict[str, Any]) -> None:
    with pytest.raises(WrongType):
        check_type(header, "at+jwt")


def test_check_type_is_silent_without_requirement() -> None:
    check_type({"typ": "anything"}, None)


@pytest.mark.parametrize("name", ["sub", "jti", "client_id", "azp"])
@pytest.mark.parametrize("value", [1234, 0, 1.5, True, None, ["s"], {"id": "s"}])
def test_check_claims_refuses_non_string_registered_claim(name: str, value: Any) -> None:
    with pytest.raises(InvalidClaim, match=name):
        check_claims({**claims(), name: value}, ISSUER, now=NOW, leeway=0)


@pytest.mark.parametrize("name", ["sub", "jti", "client_id", "azp"])
@pytest.mark.parametrize("value", ["s", "", "https://idp.example/users/1"])
def test_check_claims_accepts_string_registered_claim_or_its_absence(name: str, value: str) -> None:
    check_claims({**claims(), name: value}, ISSUER, now=NOW, leeway=0)
    check_claims({k: v for k, v in claims().items() if k != name}, ISSUER, now=NOW, leeway=0)
