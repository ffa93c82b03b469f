"""The verified-token cache is never a way around the signature, the issuer's state or the binding."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from django_bearer_guard.models import TrustedIssuer
from django_bearer_guard.runtime import get_runtime, refresh_now
from django_bearer_guard.testing import LocalIssuer
from django_bearer_guard.testing.keys import SigningKey, generate_key
from tests.support.client import assert_refused, bearer, call


def test_forged_signature_on_a_cached_header_and_payload_is_refused(
    client: Client, idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    token = idp.mint(scope="admin")
    assert bearer(client, token).status_code == 200
    header, payload, _ = token.split(".")
    forged = base64.urlsafe_b64encode(b"\x00" * 256).rstrip(b"=").decode()
    assert_refused(bearer(client, f"{header}.{payload}.{forged}"), 401, "invalid_token")
    # Another valid token's signature transplanted onto the cached header and payload.
    other = idp.mint(scope="read").split(".")[2]
    assert_refused(bearer(client, f"{header}.{payload}.{other}"), 401, "invalid_token")
    assert bearer(client, token).status_code == 200


@pytest.mark.parametrize("variant", ["{t}.", "{t}=", "{t}A", "A{t}"])
def test_a_variant_of_a_cached_token_is_validated_on_its_own(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], variant: str
) -> None:
    token = idp.mint()
    assert bearer(client, token).status_code == 200
    response = call(client, "Bearer " + variant.format(t=token))
    assert response.status_code in (400, 401)


def test_a_withdrawn_key_stops_its_cached_tokens_at_the_next_key_refresh(
    client: Client, idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    # The key leaked: the issuer removes it. A token cached before must not outlive the removal.
    leaked = idp.mint(scope="admin")
    assert bearer(client, leaked).status_code == 200
    idp.rotate(drop_old=True)
    refresh_now(get_runtime().settings.issuers[0])
    assert_refused(bearer(client, leaked), 401, "invalid_token")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "change", [{"enabled": False}, {"audiences": ["https://another-api.example"]}], ids=["disabled", "narrowed"]
)
def test_a_changed_database_issuer_checks_its_cached_tokens_again(
    client: Client, make_idp: Callable[..., LocalIssuer], guard: Callable[..., None], change: dict[str, Any]
) -> None:
    # The admin disables a partner's row, or narrows it: a token cached a moment ago must not pass.
    partner = make_idp()
    guard(ISSUERS=[])
    row = TrustedIssuer.objects.create(**partner.issuer_settings())
    token = partner.mint()
    for _ in range(2):
        assert bearer(client, token).status_code == 200
    for name, value in change.items():
        setattr(row, name, value)
    row.save()
    assert_refused(bearer(client, token), 401, "invalid_token")


def test_an_issuer_removed_from_the_settings_stops_its_cached_tokens(
    client: Client, make_idp: Callable[..., LocalIssuer], guard: Callable[..., None], idp: LocalIssuer
) -> None:
    partner = make_idp()
    guard(issuers=[idp.issuer_settings(), partner.issuer_settings()])
    token = partner.mint()
    assert bearer(client, token).status_code == 200
    guard(issuers=[idp.issuer_settings()])
    assert_refused(bearer(client, token), 401, "invalid_token")


def test_a_key_replaced_under_the_same_kid_refuses_tokens_cached_with_the_old_one(
    client: Client, idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    # The issuer replaces a compromised key but keeps its kid: the cached verification was made
    # with the old key and must not stand for the new one.
    token = idp.mint()
    assert bearer(client, token).status_code == 200
    old = idp.keys[0]
    replacement = generate_key(old.alg)
    idp.keys = [SigningKey(old.kid, old.alg, replacement.private_key)]
    refresh_now(get_runtime().settings.issuers[0])
    assert_refused(bearer(client, token), 401, "invalid_token")
    assert bearer(client, idp.mint()).status_code == 200
