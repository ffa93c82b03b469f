"""Attacks on step-up authentication (RFC 9470): tokens that try to pass for a stronger or more
recent authentication than they carry.

Every token here is genuinely signed by a trusted issuer; the attacker controls its claims (a
misbehaving client library, a partner IdP) or picks which permission decides.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from django_bearer_guard.checks import check_authentication_levels
from django_bearer_guard.testing import Clock, LocalIssuer
from tests.support.keys import pooled_key
from tests.testapp import stepup_views
from tests.testapp.stepup_views import GOLD, SILVER

pytestmark = pytest.mark.urls("tests.testapp.stepup_urls")

NOW = 1_800_000_000


def error_of(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]


@pytest.mark.parametrize("acr", [[SILVER], [SILVER, "bronze"], {"value": SILVER}, 1])
def test_acr_as_a_list_or_object_holding_the_required_value_is_refused(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]], acr: Any
) -> None:
    # OIDC Core §2: acr is one string; "contains" must never stand in for "equals".
    assert error_of(client.get("/silver/", **bearer(acr=acr))) == (401, "invalid_token")


@pytest.mark.parametrize(
    "acr",
    ["silver", "urn:mace:incommon:iap:silve", f"{SILVER}:weak", f" {SILVER}", SILVER.upper(), f"{SILVER} {GOLD}", ""],
)
def test_acr_that_is_a_substring_prefix_or_look_alike_of_the_required_one_is_refused(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]], acr: str
) -> None:
    response = client.get("/silver/", **bearer(acr=acr))
    assert error_of(response) == (401, "insufficient_user_authentication")
    assert response["WWW-Authenticate"].endswith(f'acr_values="{SILVER}"')


@pytest.mark.parametrize("auth_time", [str(NOW), f"{NOW}.0", True, [NOW], {"t": NOW}])
def test_auth_time_that_is_not_a_number_is_refused(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]], clock: Clock, auth_time: Any
) -> None:
    assert error_of(client.get("/recent/", **bearer(auth_time=auth_time))) == (401, "invalid_token")


@pytest.mark.parametrize("ahead", [3631, 86400, 10**12, 10**30])
def test_auth_time_far_in_the_future_does_not_defeat_max_auth_age(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]], clock: Clock, ahead: int
) -> None:
    # A future authentication would look fresh for as long as it stays ahead: refused outright.
    assert error_of(client.get("/recent/", **bearer(auth_time=NOW + ahead))) == (401, "invalid_token")
    clock.advance(3600)
    assert error_of(client.get("/recent/", **bearer(auth_time=NOW + ahead))) == (401, "invalid_token")


def test_partner_issuer_minting_a_high_acr_is_refused_by_allowed_issuers(
    client: Client,
    idp: LocalIssuer,
    make_idp: Callable[..., LocalIssuer],
    guard: Callable[..., None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    partner = make_idp(keys=[pooled_key("RS256", 1)])
    guard(issuers=[idp.issuer_settings(), partner.issuer_settings()])
    monkeypatch.setattr(stepup_views.LocalSilverView, "allowed_issuers", [idp.issuer])
    # An issuer speaks only for itself: the partner's "silver" is not ours.
    forged = client.get("/local-silver/", HTTP_AUTHORIZATION=f"Bearer {partner.mint(acr=SILVER)}")
    assert error_of(forged) == (403, "access_denied")
    ours = client.get("/local-silver/", HTTP_AUTHORIZATION=f"Bearer {idp.mint(acr=SILVER)}")
    assert ours.status_code == 200


@pytest.mark.parametrize("path", ["/scopes-and-level/", "/scopes-and-level-operator/"])
def test_scope_without_step_up_does_not_pass_a_view_that_requires_both(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]], clock: Clock, path: str
) -> None:
    scoped = bearer(scope="payments:write", acr=SILVER, auth_time=NOW)
    assert error_of(client.post(path, **scoped)) == (401, "insufficient_user_authentication")
    stepped_up = bearer(scope="openid", acr=GOLD, auth_time=NOW)
    assert error_of(client.post(path, **stepped_up)) == (403, "insufficient_scope")
    both = bearer(scope="payments:write", acr=GOLD, auth_time=NOW)
    assert client.post(path, **both).status_code == 201


def test_either_composition_is_flagged_because_the_weaker_operand_wins(
    client: Client, guard: Callable[..., None], bearer: Callable[..., dict[str, Any]], clock: Clock
) -> None:
    # `|` means either: the scope alone opens it, so the system check warns about such a view.
    scoped = bearer(scope="payments:write", acr=SILVER, auth_time=NOW)
    assert client.post("/scopes-or-level/", **scoped).status_code == 201
    flagged = [(m.id, m.obj) for m in check_authentication_levels() if m.id == "bearer_guard.W016"]
    assert flagged == [("bearer_guard.W016", stepup_views.ScopesOrLevelView)]
    # When neither holds, the first operand's refusal is the answer.
    neither = bearer(scope="openid", acr=SILVER, auth_time=NOW)
    assert error_of(client.post("/scopes-or-level/", **neither)) == (403, "insufficient_scope")
