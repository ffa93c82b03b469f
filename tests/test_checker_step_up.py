"""The token checker explains a view's step-up level (RFC 9470): ``acr`` and ``auth_time``."""

from __future__ import annotations

from typing import Any

import pytest

from django_bearer_guard.checker import Step, check_token
from django_bearer_guard.testing import Clock, LocalIssuer
from tests.testapp.stepup_views import GOLD, SILVER

pytestmark = [pytest.mark.urls("tests.testapp.stepup_urls"), pytest.mark.usefixtures("guard", "clock")]

NOW = 1_800_000_000
LEVEL = "view authentication level"
VIEWS = "tests.testapp.stepup_views."
NOT_MET = ("InsufficientUserAuthentication", "A stronger or more recent authentication is required.")


@pytest.mark.parametrize(
    ("path", "claims", "ok", "detail"),
    [
        ("/silver/", {"acr": SILVER}, True, f"{VIEWS}SilverView needs acr '{SILVER}' for GET: met"),
        ("/silver/", {"acr": "bronze"}, False,
         f"{VIEWS}SilverView needs acr '{SILVER}' for GET; acr 'bronze' is not one of ['{SILVER}']"),
        ("/gold-or-silver-recent/", {"acr": GOLD, "auth_time": NOW - 400}, False,
         f"{VIEWS}GoldOrSilverRecentView needs acr '{GOLD}' or '{SILVER}' and auth_time at most 300 s old "
         "for GET; auth_time is over 300 s old"),
        ("/recent/", {}, False, f"{VIEWS}RecentView needs auth_time at most 300 s old for GET; no auth_time"),
        ("/post-needs-gold/", {}, True, f"{VIEWS}PostNeedsGoldView needs no authentication level for GET: met"),
    ],
)
def test_check_token_says_whether_the_token_meets_the_views_level(
    idp: LocalIssuer, path: str, claims: dict[str, Any], ok: bool, detail: str
) -> None:
    verdict = check_token(idp.mint(**claims), view_path=path)
    assert verdict.steps[-2].name == "view scopes"
    assert verdict.steps[-1] == Step(LEVEL, ok, detail)
    assert verdict.accepted is ok
    assert (verdict.error, verdict.description) == ((None, "accepted") if ok else NOT_MET)


def test_check_token_judges_auth_time_at_the_given_moment(idp: LocalIssuer, clock: Clock) -> None:
    token = idp.mint(auth_time=NOW - 100)
    assert check_token(token, view_path="/recent/").accepted
    assert not check_token(token, view_path="/recent/", now=NOW + 250).accepted


def test_check_token_says_a_malformed_acr_is_an_invalid_claim(idp: LocalIssuer) -> None:
    verdict = check_token(idp.mint(acr=[SILVER]), view_path="/silver/")
    assert verdict.steps[-1] == Step(
        LEVEL, False, f"{VIEWS}SilverView needs acr '{SILVER}' for GET; 'acr' must be a string, got list"
    )
    assert (verdict.error, verdict.description) == ("InvalidClaim", "The access token has an invalid claim.")


@pytest.mark.parametrize(
    ("path", "detail", "description"),
    [
        ("/undeclared/",
         f"{VIEWS}UndeclaredView uses RequiresAuthenticationLevel but declares no level: it refuses every token",
         "This resource declares no authentication level."),
        ("/misdeclared/",
         f"{VIEWS}MisdeclaredView declares an invalid level (required_acr must be a non-empty list of acr values, "
         f"not '{SILVER}'): it refuses every token",
         "This resource declares no valid authentication level."),
    ],
)
def test_check_token_says_a_view_without_a_readable_level_refuses_every_token(
    idp: LocalIssuer, path: str, detail: str, description: str
) -> None:
    verdict = check_token(idp.mint(acr=GOLD, auth_time=NOW), view_path=path)
    assert verdict.steps[-1] == Step(LEVEL, False, detail)
    assert (verdict.error, verdict.description) == ("AccessDenied", description)


def test_check_token_stops_at_the_scopes_before_the_level(idp: LocalIssuer) -> None:
    verdict = check_token(idp.mint(acr=GOLD, auth_time=NOW), view_path="/scopes-and-level/")
    assert verdict.steps[-1].name == "view scopes"
    assert verdict.error == "InsufficientScope"
    held = check_token(idp.mint(scope="payments:write", acr=GOLD, auth_time=NOW), view_path="/scopes-and-level/")
    assert held.steps[-1].ok and held.steps[-1].name == LEVEL
