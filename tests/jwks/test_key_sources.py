"""Keys cached for one issuer and key source never verify for another, even under the same kid."""

from __future__ import annotations

from collections.abc import Callable

from django.test import Client

from django_bearer_guard.testing import LocalIssuer, SigningKey
from tests.support.client import assert_refused, bearer
from tests.support.keys import pooled_key


def _same_kid(index: int) -> SigningKey:
    return SigningKey("shared-kid", "RS256", pooled_key("RS256", index).private_key)


def test_changed_key_source_never_reuses_cached_keys(
    client: Client, make_idp: Callable[..., LocalIssuer], guard: Callable[..., None]
) -> None:
    first = make_idp(keys=[_same_kid(0)])
    second = make_idp(keys=[_same_kid(1)])
    issuer = "https://idp.example.test/"
    entry = {"issuer": issuer, "audiences": [first.audience], "algorithms": ["RS256"]}
    guard(issuers=[{**entry, "jwks_uri": first.url + first.jwks_path}])
    assert bearer(client, first.mint(iss=issuer)).status_code == 200
    guard(issuers=[{**entry, "jwks_uri": second.url + second.jwks_path}])
    # Same issuer, same kid, other key source: the first source's cached key must not verify.
    assert_refused(bearer(client, first.mint(iss=issuer)), 401, "invalid_token")
    assert bearer(client, second.mint(iss=issuer)).status_code == 200
    assert second.fetches() == 1


def test_changed_issuer_never_reuses_cached_keys(
    client: Client, make_idp: Callable[..., LocalIssuer], guard: Callable[..., None]
) -> None:
    idp = make_idp(keys=[_same_kid(0)])
    base = {"audiences": [idp.audience], "algorithms": ["RS256"], "jwks_uri": idp.url + idp.jwks_path}
    guard(issuers=[{**base, "issuer": "https://a.example.test/"}])
    assert bearer(client, idp.mint(iss="https://a.example.test/")).status_code == 200
    guard(issuers=[{**base, "issuer": "https://b.example.test/"}])
    assert bearer(client, idp.mint(iss="https://b.example.test/")).status_code == 200
    assert idp.fetches() == 2
