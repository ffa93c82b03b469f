"""The verified-token cache: a hit skips parsing and the signature, and nothing else."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from django_bearer_guard.exceptions import ExpiredToken, InvalidToken, UnknownKey, UnverifiedBinding
from django_bearer_guard.jose import compact
from django_bearer_guard.runtime import get_runtime, refresh_now
from django_bearer_guard.testing import Clock, LocalIssuer
from django_bearer_guard.tokens import validator as validator_module
from django_bearer_guard.tokens.trace import Trace
from django_bearer_guard.tokens.validator import TokenValidator
from tests.support.client import assert_refused, bearer


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The signature verifications of the validator, counted (each still runs)."""
    seen: list[str] = []
    real = compact.verify_signature

    def counting(jws: Any, key: Any) -> None:
        seen.append(jws.alg)
        real(jws, key)

    monkeypatch.setattr(validator_module, "verify_signature", counting)
    return seen


def test_a_repeated_token_is_verified_once(
    idp: LocalIssuer, guard: Callable[..., None], verifications: list[str]
) -> None:
    token = idp.mint(scope="a b")
    first = TokenValidator().validate(token)
    again = TokenValidator().validate(token)
    assert verifications == ["RS256"]
    assert (again.issuer, again.scopes, again.workload, again.expires_at) == (
        first.issuer, first.scopes, first.workload, first.expires_at)
    assert again.claims == first.claims and again.claims is not first.claims


def test_a_changed_claims_dict_does_not_reach_the_next_request(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    token = idp.mint()
    first = TokenValidator().validate(token)
    first.claims["sub"] = "admin"
    for _ in range(2):
        again = TokenValidator().validate(token)
        assert again.claims["sub"] == "test-user"
        again.claims["sub"] = "admin"
    with pytest.raises(TypeError):
        first.header["kid"] = "other"  # type: ignore[index]


def test_token_cache_size_zero_turns_it_off(
    idp: LocalIssuer, guard: Callable[..., None], verifications: list[str]
) -> None:
    guard(TOKEN_CACHE_SIZE=0)
    token = idp.mint()
    TokenValidator().validate(token)
    TokenValidator().validate(token)
    assert verifications == ["RS256", "RS256"]
    assert get_runtime().verified is None


def test_a_cached_token_expires_on_time(idp: LocalIssuer, guard: Callable[..., None], clock: Clock) -> None:
    token = idp.mint(lifetime=60)
    TokenValidator().validate(token)
    leeway = get_runtime().settings.leeway
    clock.advance(60 + leeway - 1)
    TokenValidator().validate(token)
    clock.advance(1)
    with pytest.raises(ExpiredToken):
        TokenValidator().validate(token)
    assert len(get_runtime().verified or ()) == 0


def test_a_token_not_yet_valid_is_not_cached(idp: LocalIssuer, guard: Callable[..., None], clock: Clock) -> None:
    token = idp.mint(nbf=clock.now + 120)
    for _ in range(2):
        with pytest.raises(InvalidToken):
            TokenValidator().validate(token)
    assert len(get_runtime().verified or ()) == 0


def test_a_key_removed_at_the_issuer_refuses_its_cached_tokens_at_once(
    idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    token = idp.mint()
    TokenValidator().validate(token)
    idp.rotate(drop_old=True)
    refresh_now(get_runtime().settings.issuers[0])
    with pytest.raises(UnknownKey) as refused:
        TokenValidator().validate(token)
    assert refused.value.description == InvalidToken.default_description


def test_a_changed_inline_key_set_refuses_its_cached_tokens(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    guard(issuers=[idp.issuer_settings(jwks=idp.jwks(), jwks_uri=None)])
    token = idp.mint()
    TokenValidator().validate(token)
    idp.rotate(drop_old=True)
    guard(issuers=[idp.issuer_settings(jwks=idp.jwks(), jwks_uri=None)])
    with pytest.raises(UnknownKey):
        TokenValidator().validate(token)


def test_a_changed_issuer_configuration_checks_the_token_again(
    idp: LocalIssuer, guard: Callable[..., None], verifications: list[str]
) -> None:
    token = idp.mint()
    TokenValidator().validate(token)
    guard(issuers=[idp.issuer_settings(audiences=["https://elsewhere.example"])])
    with pytest.raises(InvalidToken):
        TokenValidator().validate(token)
    assert verifications == ["RS256", "RS256"]


def test_the_token_checker_never_reads_the_cache(
    idp: LocalIssuer, guard: Callable[..., None], verifications: list[str]
) -> None:
    token = idp.mint()
    TokenValidator().validate(token)
    trace = Trace()
    TokenValidator().validate(token, trace=trace)
    assert verifications == ["RS256", "RS256"]
    assert "signature" in [step for step, _ in trace.steps]


def test_a_bound_token_still_needs_its_binding_on_a_hit(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    token = idp.mint(cnf={"jkt": "A" * 43})
    for _ in range(2):
        with pytest.raises(UnverifiedBinding):
            TokenValidator().validate(token)


def test_scopes_are_checked_on_every_request(client: Client, idp: LocalIssuer, guard: Callable[..., None]) -> None:
    token = idp.mint(scope="other")
    for _ in range(2):
        assert_refused(bearer(client, token, "/scoped/reports/"), 403, "insufficient_scope")


def test_a_flood_of_distinct_tokens_stays_within_the_size(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    guard(TOKEN_CACHE_SIZE=64)
    tokens = [idp.mint(jti=f"flood-{n}", scope="a b c") for n in range(400)]
    tracemalloc.start()
    try:
        for token in tokens[:200]:
            TokenValidator().validate(token)
        settled, _ = tracemalloc.get_traced_memory()
        for token in tokens[200:]:
            TokenValidator().validate(token)
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    cache = get_runtime().verified
    assert cache is not None and len(cache) == 64
    # Another 200 tokens through a full cache add nothing that stays (a margin for allocator noise).
    assert after - settled < 64 * 1024
    # The most recent ones are the ones kept.
    assert cache.get(_digest(tokens[-1]), 0) is not None and cache.get(_digest(tokens[0]), 0) is None


def _digest(token: str) -> bytes:
    import hashlib

    return hashlib.sha256(token.encode()).digest()
