"""RFC 9470 step-up: ``RequiresAuthenticationLevel`` through real tokens and the test client."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from django_bearer_guard._declarations import (
    InvalidDeclaration,
    declares_authentication_level,
    max_auth_age,
    required_acr_values,
)
from django_bearer_guard.exceptions import InsufficientUserAuthentication, InvalidClaim
from django_bearer_guard.testing import Clock, DPoPKey, LocalIssuer
from django_bearer_guard.tokens.levels import authentication_shortfall
from django_bearer_guard.tokens.verified import VerifiedToken
from tests.testapp.stepup_views import GOLD, SILVER, RecentView

pytestmark = pytest.mark.urls("tests.testapp.stepup_urls")

NOW = 1_800_000_000
ACR_CHALLENGE = (
    'Bearer realm="api", error="insufficient_user_authentication", '
    'error_description="A stronger or more recent authentication is required."'
)


def challenge(response: Any) -> str:
    assert response.status_code == 401, response.content
    return str(response["WWW-Authenticate"])


# -- the acceptance test ---------------------------------------------------------------


def test_silver_view_refuses_a_token_without_silver_and_admits_one_with_it(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    refused = client.get("/silver/", **bearer(acr="urn:mace:incommon:iap:bronze"))
    assert challenge(refused) == f'{ACR_CHALLENGE}, acr_values="{SILVER}"'
    assert refused.json() == {
        "error": "insufficient_user_authentication",
        "error_description": "A stronger or more recent authentication is required.",
    }
    assert client.get("/silver/", **bearer(acr=SILVER)).status_code == 200


def test_token_without_acr_is_asked_for_the_required_level(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    assert challenge(client.get("/silver/", **bearer())).endswith(f'acr_values="{SILVER}"')


def test_no_token_is_401_without_error_code(client: Client, guard: Callable[..., None]) -> None:
    response = client.get("/silver/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_acr_values_are_listed_in_the_views_order_of_preference(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]], clock: Clock
) -> None:
    response = client.get("/gold-or-silver-recent/", **bearer(acr="bronze", auth_time=NOW))
    assert challenge(response) == f'{ACR_CHALLENGE}, acr_values="{GOLD} {SILVER}"'
    assert client.get("/gold-or-silver-recent/", **bearer(acr=SILVER, auth_time=NOW)).status_code == 200


# -- max_auth_age ------------------------------------------------------------------------------


def test_recent_authentication_is_admitted_up_to_max_auth_age(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]], clock: Clock
) -> None:
    assert client.get("/recent/", **bearer(auth_time=NOW - 300)).status_code == 200
    response = client.get("/recent/", **bearer(auth_time=NOW - 301))
    assert challenge(response) == f'{ACR_CHALLENGE}, max_age="300"'


def test_token_without_auth_time_is_asked_for_a_fresh_authentication(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]], clock: Clock
) -> None:
    assert challenge(client.get("/recent/", **bearer())) == f'{ACR_CHALLENGE}, max_age="300"'


def test_float_auth_time_is_a_numeric_date(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]], clock: Clock
) -> None:
    assert client.get("/recent/", **bearer(auth_time=NOW - 10.5)).status_code == 200


def test_both_parameters_when_both_requirements_fail(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]], clock: Clock
) -> None:
    response = client.get("/gold-or-silver-recent/", **bearer(acr="bronze", auth_time=NOW - 3600))
    assert challenge(response) == f'{ACR_CHALLENGE}, acr_values="{GOLD} {SILVER}", max_age="300"'
    only_age = client.get("/gold-or-silver-recent/", **bearer(acr=GOLD, auth_time=NOW - 3600))
    assert challenge(only_age) == f'{ACR_CHALLENGE}, max_age="300"'


def test_auth_time_within_the_leeway_ahead_is_admitted(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]], clock: Clock
) -> None:
    assert client.get("/recent/", **bearer(auth_time=NOW + 30)).status_code == 200
    guard(issuers=[idp.issuer_settings(leeway=5)])
    response = client.get("/recent/", **bearer(auth_time=NOW + 30))
    assert 'error="invalid_token"' in challenge(response)
    assert client.get("/recent/", **bearer(auth_time=NOW + 5)).status_code == 200


def test_max_auth_age_from_initkwargs(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]], clock: Clock
) -> None:
    assert client.get("/by-initkwargs/", **bearer(auth_time=NOW - 60)).status_code == 200
    assert challenge(client.get("/by-initkwargs/", **bearer(auth_time=NOW - 61))).endswith('max_age="60"')


# -- per method ------------------------------------------------------------------------------


def test_required_acr_by_method_replaces_required_acr_for_that_method(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    silver, gold = bearer(acr=SILVER), bearer(acr=GOLD)
    assert client.get("/delete-needs-gold/", **silver).status_code == 200
    assert client.post("/delete-needs-gold/", **silver).status_code == 201
    assert challenge(client.delete("/delete-needs-gold/", **silver)).endswith(f'acr_values="{GOLD}"')
    assert client.delete("/delete-needs-gold/", **gold).status_code == 204
    # Gold is not silver: the values are a list of what is accepted, not a ladder.
    assert challenge(client.get("/delete-needs-gold/", **gold)).endswith(f'acr_values="{SILVER}"')


def test_head_and_options_follow_get(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    assert client.head("/only-get/", **bearer(acr=SILVER)).status_code == 200
    assert client.head("/only-get/", **bearer()).status_code == 401
    assert client.options("/only-get/", **bearer()).status_code == 401
    assert client.options("/only-get/", **bearer(acr=SILVER)).status_code == 200


def test_method_without_a_level_of_a_view_that_declares_one_needs_none(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    assert client.post("/only-get/", **bearer()).status_code == 201


def test_unhandled_method_is_405_not_a_step_up(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    assert client.put("/silver/", **bearer()).status_code == 405
    assert client.put("/undeclared/", **bearer()).status_code == 405


def test_viewset_levels_by_http_method(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]]
) -> None:
    assert client.get("/things/", **bearer(acr=SILVER)).status_code == 200
    assert challenge(client.post("/things/", **bearer(acr=SILVER))).endswith(f'acr_values="{GOLD}"')
    assert client.post("/things/", **bearer(acr=GOLD)).status_code == 201


# -- fail closed -----------------------------------------------------------------------------


def test_view_that_declares_no_level_refuses_every_token(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="django_bearer_guard.permissions"):
        response = client.get("/undeclared/", **bearer(acr=GOLD, auth_time=1))
    assert response.status_code == 403
    assert response.json() == {
        "error": "access_denied",
        "error_description": "This resource declares no authentication level.",
    }
    assert "UndeclaredView uses RequiresAuthenticationLevel but declares no level" in caplog.text


def test_view_with_an_invalid_level_refuses_every_token(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="django_bearer_guard.permissions"):
        response = client.get("/misdeclared/", **bearer(acr=SILVER))
    assert response.status_code == 403
    assert response.json()["error_description"] == "This resource declares no valid authentication level."
    assert "required_acr must be a non-empty list" in caplog.text


def test_refusal_reason_is_logged(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="django_bearer_guard.permissions"):
        client.get("/silver/", **bearer(acr="bronze"))
    assert f"acr 'bronze' is not one of ['{SILVER}']" in caplog.text


def test_dpop_bound_caller_gets_a_dpop_challenge(
    client: Client, idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    guard(issuers=[idp.issuer_settings(binding="dpop", algorithms=["RS256", "ES256"])])
    key = DPoPKey("ES256")
    token = idp.mint(acr="bronze", cnf={"jkt": key.jkt})
    proof = key.proof("GET", "http://testserver/silver/", access_token=token)
    response = client.get("/silver/", HTTP_AUTHORIZATION=f"DPoP {token}", HTTP_DPOP=proof)
    assert challenge(response).startswith('DPoP realm="api", error="insufficient_user_authentication"')
    assert challenge(response).endswith(f'acr_values="{SILVER}"')


def test_token_of_an_issuer_no_longer_trusted_gets_no_leeway(
    call: Callable[..., Any], guard: Callable[..., None], clock: Clock
) -> None:
    token = VerifiedToken(
        claims={"auth_time": NOW + 1}, header={}, issuer="https://gone.example", scopes=frozenset(),
        workload=None, token_id=None, expires_at=NOW + 60,
    )
    response = call(RecentView.as_view(), token=token)
    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


# -- the readers -------------------------------------------------------------------------------


class Declared:
    def __init__(self, **attrs: Any) -> None:
        self.__dict__.update(attrs)


@pytest.mark.parametrize(
    ("attrs", "method", "expected"),
    [
        ({}, "GET", None),
        ({"required_acr": ["a"]}, "GET", ("a",)),
        ({"required_acr": ("a", "b")}, "post", ("a", "b")),
        ({"required_acr": ["a"], "required_acr_by_method": {"POST": ["b"]}}, "POST", ("b",)),
        ({"required_acr": ["a"], "required_acr_by_method": {"post": ["b"]}}, "GET", ("a",)),
        ({"required_acr_by_method": {"GET": ["b"]}}, "HEAD", ("b",)),
        ({"required_acr_by_method": {"GET": ["b"]}}, "OPTIONS", ("b",)),
        ({"required_acr_by_method": {"GET": ["b"], "HEAD": ["c"]}}, "HEAD", ("c",)),
        ({"required_acr": ["a"], "required_acr_by_method": {"GET": ["b"]}}, "DELETE", ("a",)),
        ({"required_acr_by_method": {"GET": ["b"]}}, "POST", None),
        ({"required_acr_by_method": {}}, "GET", None),
    ],
)
def test_required_acr_values(attrs: dict[str, Any], method: str, expected: tuple[str, ...] | None) -> None:
    assert required_acr_values(Declared(**attrs), method) == expected


@pytest.mark.parametrize(
    ("attrs", "message"),
    [
        ({"required_acr": "silver"}, "required_acr must be a non-empty list"),
        ({"required_acr": []}, "required_acr must be a non-empty list"),
        ({"required_acr": [1]}, "required_acr holds 1"),
        ({"required_acr": [""]}, "required_acr holds ''"),
        ({"required_acr": ["gold silver"]}, "without spaces"),
        ({"required_acr": ['a"b']}, "without spaces, quotes"),
        ({"required_acr": ["a\\b"]}, "backslashes"),
        ({"required_acr": ["\u00e9"]}, "printable ASCII"),
        ({"required_acr_by_method": [("GET", ["a"])]}, "required_acr_by_method must be a dict, not list"),
        ({"required_acr_by_method": {"GRT": ["a"]}}, "names 'GRT', which is not an HTTP method"),
        ({"required_acr_by_method": {1: ["a"]}}, "names 1, which is not an HTTP method"),
        ({"required_acr_by_method": {"GET": None}}, "required_acr_by_method['GET'] must be a non-empty list"),
        # Invalid for one method is invalid for every method.
        ({"required_acr": ["a"], "required_acr_by_method": {"DELETE": "gold"}}, "required_acr_by_method['DELETE']"),
        ({"required_acr_by_action": {"list": ["a"]}}, "required_acr_by_action is not supported"),
    ],
)
def test_required_acr_values_refuses_invalid_declarations(attrs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidDeclaration, match=None) as info:
        required_acr_values(Declared(**attrs), "GET")
    assert message in str(info.value)


@pytest.mark.parametrize("value", [0, -1, True, 1.5, "300", [300]])
def test_max_auth_age_refuses_anything_but_positive_whole_seconds(value: Any) -> None:
    with pytest.raises(InvalidDeclaration, match="max_auth_age must be a whole number of seconds > 0"):
        max_auth_age(Declared(max_auth_age=value))


def test_max_auth_age_reader() -> None:
    assert max_auth_age(Declared()) is None
    assert max_auth_age(Declared(max_auth_age=60)) == 60


@pytest.mark.parametrize(
    ("attrs", "declared"),
    [
        ({}, False),
        ({"required_acr_by_method": {}}, False),
        ({"required_acr": ["a"]}, True),
        ({"required_acr": "bad"}, True),
        ({"required_acr_by_method": {"GET": ["a"]}}, True),
        ({"max_auth_age": 1}, True),
    ],
)
def test_declares_authentication_level(attrs: dict[str, Any], declared: bool) -> None:
    assert declares_authentication_level(Declared(**attrs)) is declared


# -- the rule, as a plain function -----------------------------------------------------------


def shortfall(claims: dict[str, Any], acr: tuple[str, ...] | None = None, age: int | None = None) -> Any:
    return authentication_shortfall(claims, acr, age, now=NOW, leeway=30)


def test_shortfall_is_none_when_nothing_is_required() -> None:
    assert shortfall({}) is None


def test_shortfall_names_only_what_failed() -> None:
    error = shortfall({"acr": "a", "auth_time": NOW - 100}, ("a",), 60)
    assert isinstance(error, InsufficientUserAuthentication)
    assert (error.acr_values, error.max_age) == ((), 60)
    assert error.challenge_params() == {"max_age": "60"}
    error = shortfall({"acr": "b", "auth_time": NOW}, ("a", "c"), 60)
    assert error.challenge_params() == {"acr_values": "a c"}
    assert error.reason == "acr 'b' is not one of ['a', 'c']"
    assert shortfall({"acr": "b"}, ("a",), 60).reason == "acr 'b' is not one of ['a']; no auth_time"


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"acr": ["a"]}, "'acr' must be a string, got list"),
        ({"acr": 1}, "'acr' must be a string, got int"),
        ({"auth_time": "1799999990"}, "'auth_time' must be a NumericDate, got str"),
        ({"auth_time": True}, "'auth_time' must be a NumericDate, got bool"),
        ({"auth_time": float("nan")}, "'auth_time' must be a NumericDate, got float"),
        ({"auth_time": float("inf")}, "'auth_time' must be a NumericDate, got float"),
        ({"auth_time": NOW + 31}, "'auth_time' is in the future (beyond the leeway)"),
        ({"auth_time": 10**400}, "'auth_time' is in the future (beyond the leeway)"),
    ],
)
def test_shortfall_refuses_malformed_claims(claims: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidClaim) as info:
        shortfall({"acr": "a", "auth_time": NOW, **claims}, ("a",), 60)
    assert info.value.reason == message


def test_shortfall_compares_huge_past_auth_time_without_overflow() -> None:
    assert shortfall({"auth_time": -(10**400)}, None, 60).challenge_params() == {"max_age": "60"}
