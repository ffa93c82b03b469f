from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from django_bearer_guard.conf import GuardSettings, get_settings
from django_bearer_guard.exceptions import (
    DuplicateKeyId,
    KeyFetchError,
    MalformedKeySet,
    MixedKeySet,
    WeakKey,
)
from django_bearer_guard.issuers.config import IssuerConfig
from django_bearer_guard.jwks.fetch import clamp_ttl, fetch_keys, is_fetched, static_keyset
from django_bearer_guard.testing import LocalIssuer, SigningKey


@pytest.mark.parametrize(
    ("max_age", "expected"),
    [(None, 60), (0, 60), (59, 60), (60, 60), (61, 61), (3600, 3600), (3601, 3600), (10**9, 3600)],
)
def test_clamp_ttl_keeps_max_age_within_min_and_max(max_age: int | None, expected: int) -> None:
    settings = GuardSettings(jwks_min_ttl=60, jwks_max_ttl=3600)
    assert clamp_ttl(max_age, settings) == expected


@pytest.mark.parametrize(
    ("cache_control", "expected"),
    [
        ("max-age=1000", 1000),
        ("public, max-age=5", 300),
        ("max-age=99999999", 86400),
        (None, 300),
        ("no-store", 300),
    ],
)
def test_fetch_keys_ttl_follows_cache_control(
    idp: LocalIssuer,
    guard: Callable[..., None],
    configured: Callable[..., IssuerConfig],
    cache_control: str | None,
    expected: int,
) -> None:
    idp.cache_control = cache_control
    assert fetch_keys(configured(), get_settings()).ttl == expected


def test_fetch_keys_parses_the_served_set(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig]
) -> None:
    fetched = fetch_keys(configured(), get_settings())
    assert fetched.keyset.kids == (idp.keys[0].kid,)
    assert fetched.jwks == idp.jwks()
    assert fetched.url == idp.url + idp.jwks_path


@pytest.mark.parametrize("mode", ["down", "garbage", "oversized"])
def test_fetch_keys_refuses_broken_responses(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig], mode: str
) -> None:
    idp.mode = mode
    with pytest.raises(KeyFetchError):
        fetch_keys(configured(), get_settings())


def _weak_key() -> SigningKey:
    return SigningKey("weak", "RS256", rsa.generate_private_key(public_exponent=65537, key_size=1024))


@pytest.mark.parametrize(
    ("jwks", "error"),
    [
        (lambda idp: {"keys": [_weak_key().public_jwk()]}, WeakKey),
        (lambda idp: {"keys": [idp.keys[0].public_jwk(), idp.keys[0].public_jwk()]}, DuplicateKeyId),
        (lambda idp: {"keys": [{"kty": "oct", "kid": "h", "k": "a" * 64}]}, MixedKeySet),
        (lambda idp: {"keys": "nope"}, MalformedKeySet),
    ],
)
@pytest.mark.usefixtures("guard")
def test_fetch_keys_refuses_unsafe_sets(
    idp: LocalIssuer, configured: Callable[..., IssuerConfig], monkeypatch: pytest.MonkeyPatch, jwks: Any, error: type
) -> None:
    monkeypatch.setattr(idp, "jwks", lambda: jwks(idp))
    with pytest.raises(error):
        fetch_keys(configured(), get_settings())


def test_fetch_keys_slow_issuer_is_bounded_by_timeout(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig]
) -> None:
    guard(JWKS_TIMEOUT=0.5)
    idp.mode, idp.delay = "slow", 3.0
    started = time.monotonic()
    with pytest.raises(KeyFetchError):
        fetch_keys(configured(), get_settings())
    assert time.monotonic() - started < 1.5


def test_fetch_keys_dribbling_issuer_is_bounded_by_timeout(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig]
) -> None:
    guard(JWKS_TIMEOUT=0.5)
    idp.mode, idp.delay = "dribble", 0.02
    started = time.monotonic()
    with pytest.raises(KeyFetchError):
        fetch_keys(configured(), get_settings())
    assert time.monotonic() - started < 1.5


def test_fetch_keys_needs_a_key_url() -> None:
    issuer = IssuerConfig(issuer="https://idp.test/", jwks={"keys": []})
    assert not is_fetched(issuer)
    with pytest.raises(KeyFetchError):
        fetch_keys(issuer, GuardSettings())


def test_static_keyset_parses_inline_public_keys(idp: LocalIssuer) -> None:
    issuer = IssuerConfig(issuer=idp.issuer, algorithms=("RS256",), jwks=idp.jwks())
    assert static_keyset(issuer).kids == (idp.keys[0].kid,)


def test_static_keyset_refuses_inline_symmetric_keys() -> None:
    issuer = IssuerConfig(issuer="https://idp.test/", jwks={"keys": [{"kty": "oct", "k": "a" * 64}]})
    with pytest.raises(MixedKeySet):
        static_keyset(issuer)


def test_static_keyset_shared_secret_allows_hs_algorithms_it_is_long_enough_for() -> None:
    secret = b"s" * 48
    algorithms = ("HS256", "HS384", "HS512")
    issuer = IssuerConfig(issuer="https://idp.test/", algorithms=algorithms, shared_secret=secret)
    (key,) = static_keyset(issuer).keys
    assert key.kty == "oct"
    assert key.kid is None
    assert key.key == secret
    assert key.algorithms == {"HS256", "HS384"}


def test_static_keyset_refuses_shared_secret_too_short_for_every_algorithm() -> None:
    issuer = IssuerConfig(issuer="https://idp.test/", algorithms=("HS512",), shared_secret=b"s" * 32)
    with pytest.raises(WeakKey):
        static_keyset(issuer)


def test_static_keyset_needs_inline_keys_or_a_secret() -> None:
    with pytest.raises(KeyFetchError):
        static_keyset(IssuerConfig(issuer="https://idp.test/", jwks_uri="https://idp.test/jwks"))
