"""Attacks on the throttles: draining another caller's bucket, breaking cache keys, multiplying allowances."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import caches
from django.core.cache.backends.base import memcache_key_warnings
from django.core.cache.backends.locmem import LocMemCache
from django.test import Client

from django_bearer_guard.testing import Clock, LocalIssuer

pytestmark = pytest.mark.urls("tests.throttle_urls")

VICTIM = "svc-payments"
SAFE_KEY = re.compile(r"throttle_(user_token:|bearer_token_)[0-9a-f]{64}")


def statuses(idp: LocalIssuer, path: str, count: int, **claims: Any) -> list[int]:
    client = Client()
    return [client.get(path, HTTP_AUTHORIZATION=f"Bearer {idp.mint(**claims)}").status_code for _ in range(count)]


def stored_keys() -> list[str]:
    """The throttles' keys in the cache, as the backend stores them (local memory or Redis)."""
    cache: Any = caches["default"]
    if isinstance(cache, LocMemCache):
        keys = list(vars(cache)["_cache"])
    else:
        keys = [key.decode() for key in cache._cache.get_client().scan_iter(match=cache.make_key("throttle_*"))]
    return [key for key in keys if ":throttle_" in key]


@pytest.fixture
def partner(make_idp: Callable[..., LocalIssuer], idp: LocalIssuer, guard: Callable[..., None]) -> LocalIssuer:
    """A second trusted issuer, run by someone else, who mints whatever ``sub`` they like."""
    other = make_idp()
    guard(issuers=[idp.issuer_settings(), other.issuer_settings()])
    return other


@pytest.mark.parametrize("path", ["/user-3/", "/token-3/", "/reports/"])
def test_a_partner_issuer_minting_the_victims_subject_cannot_drain_its_bucket(
    idp: LocalIssuer, partner: LocalIssuer, path: str
) -> None:
    assert statuses(partner, path, 8, sub=VICTIM, scope="reports:read")[-1] == 429
    assert statuses(idp, path, 2, sub=VICTIM, scope="reports:read") == [200, 200]


SUBJECTS = [
    "a b\tc\nd\re",
    "\x00\x01\x7f",
    "x" * 300,
    "throttle_bearer_token_" + "0" * 64,
    "é" * 200 + "\u202e",
    ":" * 250,
]


@pytest.mark.parametrize("subject", SUBJECTS)
@pytest.mark.parametrize("path", ["/user-3/", "/token-3/", "/reports/"])
def test_a_subject_full_of_key_breaking_characters_is_throttled_under_a_safe_key(
    idp: LocalIssuer, guard: Any, subject: str, path: str
) -> None:
    # -W error: a key memcached would refuse (space, control character, > 250 bytes) raises CacheKeyWarning.
    assert statuses(idp, path, 4, sub=subject, scope="reports:read")[-1] == 429
    keys = stored_keys()
    assert keys and all(not list(memcache_key_warnings(key)) for key in keys)
    # Nothing of the claim: a fixed prefix and a digest, whatever the subject.
    assert all(SAFE_KEY.fullmatch(key.split(":", 2)[-1]) for key in keys), keys
    # Another caller is not in that bucket.
    assert statuses(idp, path, 1, sub="someone-else", scope="reports:read") == [200]


def test_a_workload_full_of_key_breaking_characters_is_throttled_under_a_safe_key(
    idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    guard(issuers=[idp.issuer_settings(workload_claim="client_id")])
    assert statuses(idp, "/token-3/", 4, client_id="\n" * 300) == [200, 200, 200, 429]
    assert all(not list(memcache_key_warnings(key)) for key in stored_keys())


def test_many_scopes_on_one_token_do_not_multiply_the_allowance(idp: LocalIssuer, guard: Any) -> None:
    many = " ".join([f"scope:{n}" for n in range(200)] + ["reports:read", "reports:bulk"])
    # Every listed scope applies: the strictest, reports:read (2/min), decides.
    assert statuses(idp, "/reports/", 4, scope=many) == [200, 200, 429, 429]


def test_fresh_tokens_with_other_unlisted_scopes_share_the_callers_one_default_bucket(
    idp: LocalIssuer, guard: Any
) -> None:
    answers = [statuses(idp, "/reports/", 1, scope=f"other:{n} more:{n}")[0] for n in range(6)]
    assert answers == [200, 200, 200, 429, 429, 429]


def test_a_caller_splitting_its_scopes_over_tokens_gets_at_most_each_rate_once(idp: LocalIssuer, guard: Any) -> None:
    # Down-scoped tokens: one per listed scope, one with none. 2 + 5 + 3 per minute, never more.
    shapes = ["reports:read", "reports:bulk", "", "reports:read reports:bulk", "reports:bulk other", "other"]
    passed = [status for _ in range(6) for shape in shapes for status in statuses(idp, "/reports/", 1, scope=shape)]
    assert 0 < passed.count(200) <= 2 + 5 + 3
    assert all(status == 429 for shape in shapes for status in statuses(idp, "/reports/", 1, scope=shape))


def test_a_view_with_a_shorter_window_for_the_same_scope_cannot_reset_a_longer_ones_count(
    idp: LocalIssuer, guard: Any, clock: Clock
) -> None:
    assert statuses(idp, "/reports/", 3, scope="reports:read") == [200, 200, 429]
    clock.advance(2)
    # Two seconds on: outside /reports-fast/'s 10/sec window, well inside /reports/'s 2/min one.
    assert statuses(idp, "/reports-fast/", 1, scope="reports:read") == [200]
    assert statuses(idp, "/reports/", 1, scope="reports:read") == [429]


@pytest.mark.parametrize("planted", ["garbage", [1.0, "x"], {"a": 1}, [None], 7])
def test_a_bucket_planted_in_the_shared_cache_neither_fails_requests_nor_pauses_the_cache(
    idp: LocalIssuer, guard: Any, planted: Any
) -> None:
    from django_bearer_guard import _shared
    from django_bearer_guard.tokens.validator import TokenValidator
    from tests.throttle_urls import ThreePerMinuteToken

    token = idp.mint()
    request = type("Request", (), {"auth": TokenValidator().validate(token)})()
    key = ThreePerMinuteToken().get_cache_key(request, None)  # type: ignore[arg-type]
    assert key is not None
    caches["default"].set(key, planted)
    client = Client()
    answers = [client.get("/token-3/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code for _ in range(4)]
    # The planted entry counts as no history; the caller's bucket still fills and holds.
    assert answers == [200, 200, 200, 429]
    assert not _shared.is_paused("default")
