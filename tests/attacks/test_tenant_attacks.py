"""Attacks on a multi-tenant issuer template, by a tenant of the same identity provider.

Every tenant's tokens are signed by the provider's one key set, so any customer of the provider
holds validly signed tokens: only ``iss``, ``tid`` and the ``tenants`` list tell them apart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from django_bearer_guard.exceptions import UntrustedIssuer, WrongTenant
from django_bearer_guard.models import TrustedIssuer
from django_bearer_guard.testing import LocalIssuer, generate_key

VICTIM = "72f988bf-86f1-41af-91ab-2d7cd011db47"
ATTACKER = "0b5b6c1e-33a1-4a8e-9a5b-5d1f5e0d6e11"


def template(idp: LocalIssuer, tenants: Any = (VICTIM,)) -> dict[str, Any]:
    listed = tenants if tenants == "any" else list(tenants)
    return idp.issuer_settings(issuer=idp.url + "/{tenantid}/v2.0", tenants=listed)


def status(token: str, path: str = "/whoami/") -> int:
    return int(APIClient().get(path, HTTP_AUTHORIZATION=f"Bearer {token}").status_code)


def test_a_tenant_not_listed_is_refused_although_the_provider_signed_its_token(
    idp: LocalIssuer, guard: Callable[..., None], rejected: list[Any]
) -> None:
    guard(issuers=[template(idp)])
    assert status(idp.mint(iss=f"{idp.url}/{ATTACKER}/v2.0", tid=ATTACKER)) == 401
    assert isinstance(rejected[-1], UntrustedIssuer)


def test_an_allowed_tenant_in_iss_with_the_attackers_tid_is_refused(
    idp: LocalIssuer, guard: Callable[..., None], rejected: list[Any]
) -> None:
    # Tenant confusion: a token minted for the attacker's tenant, its iss rewritten to the victim's.
    guard(issuers=[template(idp, "any")])
    assert status(idp.mint(iss=f"{idp.url}/{VICTIM}/v2.0", tid=ATTACKER)) == 401
    assert isinstance(rejected[-1], WrongTenant)


def test_the_template_string_itself_is_no_issuer(
    idp: LocalIssuer, guard: Callable[..., None], rejected: list[Any]
) -> None:
    guard(issuers=[template(idp, "any")])
    assert status(idp.mint(iss=idp.url + "/{tenantid}/v2.0", tid="{tenantid}")) == 401
    assert isinstance(rejected[-1], UntrustedIssuer)


@pytest.mark.parametrize(
    "iss_tenant",
    [f"{VICTIM}/../{ATTACKER}", f"{ATTACKER}%2F..%2F{VICTIM}", f"{VICTIM}/x", f"{VICTIM} ", f"{VICTIM}\u0000"],
)
def test_an_iss_that_only_contains_an_allowed_tenant_is_refused(
    idp: LocalIssuer, guard: Callable[..., None], iss_tenant: str
) -> None:
    guard(issuers=[template(idp)])
    assert status(idp.mint(iss=f"{idp.url}/{iss_tenant}/v2.0", tid=VICTIM)) == 401


@pytest.mark.django_db(transaction=True)
def test_a_row_cannot_replace_the_keys_of_a_templates_tenant(
    idp: LocalIssuer, make_idp: Callable[..., LocalIssuer], guard: Callable[..., None], rejected: list[Any]
) -> None:
    # An admin-screen user adds a row for the victim tenant's exact iss, with keys of their own.
    guard(issuers=[template(idp)])
    rogue = make_idp(keys=[generate_key("RS256")])
    victim_iss = f"{idp.url}/{VICTIM}/v2.0"
    TrustedIssuer.objects.create(**rogue.issuer_settings(issuer=victim_iss, name="rogue"))
    assert status(rogue.mint(iss=victim_iss, tid=VICTIM)) == 401
    assert status(idp.mint(iss=victim_iss, tid=VICTIM)) == 200


@pytest.mark.django_db(transaction=True)
def test_a_row_cannot_be_a_template(
    make_idp: Callable[..., LocalIssuer], guard: Callable[..., None], rejected: list[Any]
) -> None:
    partner = make_idp()
    TrustedIssuer.objects.create(**partner.issuer_settings(issuer=partner.url + "/{tenantid}/v2.0"))
    assert status(partner.mint(iss=f"{partner.url}/{ATTACKER}/v2.0", tid=ATTACKER)) == 401
    assert status(partner.mint(iss=partner.url + "/{tenantid}/v2.0", tid=ATTACKER)) == 401
    assert [type(error) for error in rejected] == [UntrustedIssuer, UntrustedIssuer]


@pytest.mark.django_db
def test_tenant_tokens_never_map_to_django_users_by_a_bare_claim(
    idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    # USER_LOOKUP's default issuers are the settings' exact ones: another customer's "admin" is not yours.
    get_user_model().objects.create_user(username="admin", is_superuser=True)
    guard(issuers=[template(idp, "any")], USER_LOOKUP={"claim": "sub"})
    token = idp.mint(iss=f"{idp.url}/{ATTACKER}/v2.0", tid=ATTACKER, sub="admin")
    response = APIClient().get("/scoped/user/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    assert (response.json()["class"], response.json()["is_superuser"]) == ("TokenUser", False)


def test_one_tenants_caller_is_not_another_tenants_caller(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    # The same sub in two tenants is two identities: request.auth.issuer names the tenant.
    guard(issuers=[template(idp, "any")])
    seen = set()
    for tenant in (VICTIM, ATTACKER):
        token = idp.mint(iss=f"{idp.url}/{tenant}/v2.0", tid=tenant, sub="same-subject")
        response = APIClient().get("/whoami/", HTTP_AUTHORIZATION=f"Bearer {token}")
        seen.add(response.json()["issuer"])
    assert seen == {f"{idp.url}/{VICTIM}/v2.0", f"{idp.url}/{ATTACKER}/v2.0"}
