"""The claim rules as a caller meets them: required claims, numeric times, ``typ``, the exact issuer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from django_bearer_guard.testing import Clock, LocalIssuer
from tests.support.client import assert_refused, bearer


@pytest.mark.parametrize("claim", ["exp", "iss", "aud"])
def test_exp_iss_aud_are_always_required(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], claim: str
) -> None:
    missing: dict[str, Any] = {claim: None}
    assert_refused(bearer(client, idp.mint(**missing)), 401, "invalid_token")


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("kind", ["numeric-string", "boolean", "null-in-list"])
def test_time_claims_must_be_numbers(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], *, clock: Clock, claim: str, kind: str
) -> None:
    good: Any = int(clock.now) + (100 if claim == "exp" else -100)
    value: Any = {"numeric-string": str(good), "boolean": True, "null-in-list": [good]}[kind]
    assert bearer(client, idp.mint(**{claim: good})).status_code == 200
    assert_refused(bearer(client, idp.mint(**{claim: value})), 401, "invalid_token")


def test_fractional_exp_is_a_number(client: Client, idp: LocalIssuer, guard: Callable[..., None], clock: Clock) -> None:
    assert bearer(client, idp.mint(exp=clock.now + 60.5)).status_code == 200


def test_required_claims_must_be_present_and_non_empty(
    client: Client, idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    guard(issuers=[idp.issuer_settings(required_claims=["client_id", "jti"])])
    assert bearer(client, idp.mint(client_id="app")).status_code == 200
    assert_refused(bearer(client, idp.mint()), 401, "invalid_token")
    assert_refused(bearer(client, idp.mint(client_id="")), 401, "invalid_token")
    assert_refused(bearer(client, idp.mint(client_id="app", jti=None)), 401, "invalid_token")


@pytest.mark.parametrize(
    ("typ", "accepted"),
    [
        ("at+jwt", True),
        ("application/at+jwt", True),
        ("AT+JWT", True),
        ("Application/At+JWT", True),
        ("JWT", False),
        ("application/jwt", False),
        ("at+jwt ", False),
        ("dpop+jwt", False),
        (None, False),
    ],
)
def test_required_typ_at_jwt(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], typ: str | None, accepted: bool
) -> None:
    guard(issuers=[idp.issuer_settings(required_typ="at+jwt")])
    response = bearer(client, idp.mint(headers={"typ": typ}))
    if accepted:
        assert response.status_code == 200
    else:
        assert_refused(response, 401, "invalid_token")


def test_without_required_typ_any_typ_passes(client: Client, idp: LocalIssuer, guard: Callable[..., None]) -> None:
    assert bearer(client, idp.mint(headers={"typ": None})).status_code == 200
    assert bearer(client, idp.mint(headers={"typ": "at+jwt"})).status_code == 200


def test_exact_issuer_match_only(client: Client, idp: LocalIssuer, guard: Callable[..., None]) -> None:
    assert idp.issuer.endswith("/")
    assert_refused(bearer(client, idp.mint(iss=idp.issuer.rstrip("/"))), 401, "invalid_token")
    assert_refused(bearer(client, idp.mint(iss=idp.issuer.upper())), 401, "invalid_token")
