"""An issuer's ``scope_claim`` as a list: the scopes of every claim named are united.

Entra ID puts a user's delegated scopes in ``scp`` and an application's roles in ``roles``;
one API called both ways must read both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from django_bearer_guard.exceptions import InvalidClaim
from django_bearer_guard.issuers.config import MAX_SCOPE_CLAIMS, IssuerConfig, parse_issuer
from django_bearer_guard.models import TrustedIssuer
from django_bearer_guard.testing import LocalIssuer
from django_bearer_guard.tokens.scopes import extract_scopes

pytestmark = pytest.mark.urls("tests.testapp.scope_urls")

def parsed(**entry: Any) -> IssuerConfig:
    return parse_issuer({**ENTRY, **entry}, allow_http_loopback=False, where="ISSUERS[0]")


ENTRY = {
    "issuer": "https://login.example.test/tenant/v2.0",
    "audiences": ["api://reports"],
    "algorithms": ["RS256"],
    "jwks_uri": "https://login.example.test/keys",
}
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
# Entra ID v2.0 access tokens for one API: a user's (delegated, scp) and an application's (roles).
USER: dict[str, Any] = {
    "scp": "reports:read", "azp": "6e74172b-be56-4843-9ff4-e66a39bb12e3", "tid": TENANT, "ver": "2.0"
}
APP_ONLY: dict[str, Any] = {
    "roles": ["reports:read"], "azp": "0f4e2c1a-9d3b-4c6e-8a7f-1b2c3d4e5f60", "tid": TENANT, "ver": "2.0"
}


@pytest.mark.parametrize(
    ("value", "claims"),
    [
        (None, ("scope",)),
        ("scp", ("scp",)),
        (["scp", "roles"], ("scp", "roles")),
        (("scope", "realm_access.roles"), ("scope", "realm_access.roles")),
        (["scp", "roles", "scp"], ("scp", "roles")),
    ],
)
def test_scope_claim_is_a_name_or_a_list(value: Any, claims: tuple[str, ...]) -> None:
    config = parsed(scope_claim=value)
    assert config.problems == ()
    assert (config.scope_claims, config.scope_claim) == (claims, claims[0])


@pytest.mark.parametrize(
    "value", ["", [], [""], ["scp", 5], {"scp": True}, 7, [f"c{i}" for i in range(MAX_SCOPE_CLAIMS + 1)]]
)
def test_a_malformed_scope_claim_makes_the_issuer_refuse_its_tokens(value: Any) -> None:
    config = parsed(scope_claim=value)
    assert [(p.id, "scope_claim" in p.msg) for p in config.problems] == [("bearer_guard.E003", True)]
    assert not config.usable


def test_the_scopes_of_every_claim_are_united_then_mapped_and_limited() -> None:
    config = parsed(
        scope_claim=["scp", "roles"],
        scope_prefixes={"api://reports/": ""},
        allowed_scopes=["reports.read", "reports.write"],
    )
    claims = {"scp": "api://reports/reports.read", "roles": ["reports.write", "Directory.ReadWrite.All"]}
    # An issuer speaks only for itself: its allowed_scopes bound every claim, roles too.
    assert extract_scopes(claims, config) == {"reports.read", "reports.write"}
    assert extract_scopes({"roles": ["reports.write"]}, config) == {"reports.write"}
    assert extract_scopes({}, config) == frozenset()


def test_a_malformed_second_claim_is_refused_like_the_first() -> None:
    config = parsed(scope_claim=["scp", "realm_access.roles"])
    with pytest.raises(InvalidClaim, match=r"realm_access\.roles"):
        extract_scopes({"scp": "a", "realm_access": "admin"}, config)
    with pytest.raises(InvalidClaim, match="'roles'"):
        extract_scopes({"scp": "a", "roles": [1]}, parsed(scope_claim=["scp", "roles"]))


def test_a_claim_not_listed_grants_nothing() -> None:
    config = parsed(scope_claim="scp")
    assert extract_scopes({"scp": "reports.read", "roles": ["admin"]}, config) == {"reports.read"}


def test_a_row_names_several_claims_separated_by_spaces() -> None:
    row = TrustedIssuer(name="Entra", scope_claim="scp roles", **ENTRY)
    assert row.to_config().scope_claims == ("scp", "roles")
    assert TrustedIssuer(name="One", scope_claim="scp", **ENTRY).to_config().scope_claims == ("scp",)


def test_user_and_app_only_tokens_pass_the_same_view(
    client: Client, idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    guard(issuers=[idp.issuer_settings(scope_claim=["scp", "roles"], workload_claim="azp")])
    for claims in (USER, APP_ONLY):
        response = client.get("/reports/", HTTP_AUTHORIZATION=f"Bearer {idp.mint(**claims)}")
        assert response.status_code == 200, (claims, response.content)
    # With scp alone (the single-claim setting), the application's roles grant nothing.
    guard(issuers=[idp.issuer_settings(scope_claim="scp", workload_claim="azp")])
    assert client.get("/reports/", HTTP_AUTHORIZATION=f"Bearer {idp.mint(**APP_ONLY)}").status_code == 403
