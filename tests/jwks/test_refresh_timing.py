"""When keys are fetched again: the clamped TTL, the unknown-kid cool-down, the stale window, the timeout."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from django.test import Client

from django_bearer_guard.testing import Clock, LocalIssuer
from tests.support.client import assert_refused, bearer
from tests.support.keys import pooled_key


@pytest.mark.parametrize(
    ("cache_control", "min_ttl", "max_ttl", "ttl"),
    [
        (None, 300, 86400, 300),
        ("max-age=10", 300, 86400, 300),
        ("max-age=1000", 300, 86400, 1000),
        ("public, max-age=999999", 300, 86400, 86400),
        ("max-age=700", 60, 500, 500),
        (None, 60, 500, 60),
    ],
)
def test_ttl_is_max_age_clamped_and_expiry_ignores_cooldown(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], *, clock: Clock,
    cache_control: str | None, min_ttl: int, max_ttl: int, ttl: int,
) -> None:
    idp.cache_control = cache_control
    guard(JWKS_MIN_TTL=min_ttl, JWKS_MAX_TTL=max_ttl, JWKS_REFETCH_COOLDOWN=10**6, JWKS_REFRESH_AHEAD=0)
    assert bearer(client, idp.mint()).status_code == 200
    assert idp.fetches() == 1
    clock.advance(ttl - 1)
    assert bearer(client, idp.mint()).status_code == 200
    assert idp.fetches() == 1
    clock.advance(2)
    assert bearer(client, idp.mint()).status_code == 200
    assert idp.fetches() == 2


def test_expiry_refetches_are_not_limited_by_cooldown(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    idp.cache_control = None
    guard(JWKS_MIN_TTL=5, JWKS_MAX_TTL=5, JWKS_REFETCH_COOLDOWN=1000)
    for expected in (1, 2, 3):
        assert bearer(client, idp.mint()).status_code == 200
        assert idp.fetches() == expected
        clock.advance(6)


def test_unknown_kid_refetches_only_without_any_fetch_in_cooldown(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    idp.cache_control = None
    guard(JWKS_MIN_TTL=100, JWKS_MAX_TTL=100, JWKS_REFETCH_COOLDOWN=30)
    ghost = {"kid": "ghost-kid"}
    start = clock.now
    assert bearer(client, idp.mint()).status_code == 200  # t0: first fetch
    clock.now = start + 10
    assert_refused(bearer(client, idp.mint(headers=ghost)), 401, "invalid_token")
    assert idp.fetches() == 1  # within the cool-down of the first fetch
    clock.now = start + 31
    assert_refused(bearer(client, idp.mint(headers=ghost)), 401, "invalid_token")
    assert idp.fetches() == 2  # cool-down over: one refetch
    clock.now = start + 45
    assert_refused(bearer(client, idp.mint(headers=ghost)), 401, "invalid_token")
    assert idp.fetches() == 2
    clock.now = start + 132  # keys fetched at +31 expire at +131: an expiry fetch
    assert bearer(client, idp.mint()).status_code == 200
    assert idp.fetches() == 3
    clock.now = start + 152  # 20 s after the expiry fetch: still within the cool-down
    assert_refused(bearer(client, idp.mint(headers=ghost)), 401, "invalid_token")
    assert idp.fetches() == 3
    clock.now = start + 163
    assert_refused(bearer(client, idp.mint(headers=ghost)), 401, "invalid_token")
    assert idp.fetches() == 4


def test_rotated_key_is_picked_up_after_cooldown(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    guard(JWKS_REFETCH_COOLDOWN=30)
    assert bearer(client, idp.mint()).status_code == 200
    idp.keys = [*idp.keys, pooled_key("RS256", 1)]
    new = idp.signing_key()
    assert new.kid == pooled_key("RS256", 1).kid
    clock.advance(5)
    assert_refused(bearer(client, idp.mint(key=new)), 401, "invalid_token")
    clock.advance(26)
    assert bearer(client, idp.mint(key=new)).status_code == 200
    assert idp.fetches() == 2


def test_stale_keys_serve_until_fetched_at_plus_ttl_plus_window(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    idp.cache_control = None
    guard(JWKS_MIN_TTL=100, JWKS_MAX_TTL=100, JWKS_STALE_WINDOW=50)
    start = clock.now
    assert bearer(client, idp.mint()).status_code == 200
    idp.mode = "down"
    for offset in (101, 120, 149.5):
        clock.now = start + offset
        assert bearer(client, idp.mint()).status_code == 200, offset
    assert idp.fetches() > 1  # refreshes were tried and failed
    clock.now = start + 150.5
    assert_refused(bearer(client, idp.mint()), 401, "invalid_token")
    idp.mode = "ok"
    clock.now = start + 170
    assert bearer(client, idp.mint()).status_code == 200


def test_jwks_timeout_is_a_total_deadline_for_a_dribbling_server(
    client: Client, idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    idp.mode, idp.delay = "dribble", 0.01  # ~450 bytes: ~4.5 s in all, every byte well within timeout
    guard(JWKS_TIMEOUT=0.5)
    started = time.monotonic()
    assert_refused(bearer(client, idp.mint()), 401, "invalid_token")
    assert time.monotonic() - started < 1.5


def test_jwks_timeout_covers_discovery_and_keys_together(
    client: Client, idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    idp.mode, idp.delay = "slow", 0.4  # two requests of 0.4 s each, each under the timeout
    guard(issuers=[idp.issuer_settings(discovery=True)], JWKS_TIMEOUT=0.6)
    started = time.monotonic()
    assert_refused(bearer(client, idp.mint()), 401, "invalid_token")
    assert time.monotonic() - started < 1.2
