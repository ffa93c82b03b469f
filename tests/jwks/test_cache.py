from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.core.cache import caches
from django.test import override_settings

from django_bearer_guard.conf import GuardSettings
from django_bearer_guard.jwks import cache
from django_bearer_guard.testing import Clock
from tests.support.caches import BROKEN_CACHES

SETTINGS = GuardSettings()
JWKS = {"keys": [{"kty": "EC", "crv": "P-256", "x": "secret-looking-x", "y": "secret-looking-y"}]}


@pytest.fixture
def shared() -> cache.SharedKeyCache:
    """One process's view of the shared cache, with the default settings."""
    return cache.SharedKeyCache(SETTINGS)


def test_cache_keys_differ_per_source_and_purpose() -> None:
    first, second = cache.cache_keys("a"), cache.cache_keys("b")
    assert len(set(first) | set(second)) == 6
    assert all("a" in key for key in first)


def test_read_returns_nothing_before_any_fetch(shared: cache.SharedKeyCache) -> None:
    assert shared.read("src") == (None, None)


def test_store_keys_then_read_round_trips(shared: cache.SharedKeyCache) -> None:
    stored = shared.store_keys("src", {"keys": []}, 1000.5, 300)
    shared.store_attempt("src", 1000.5, "boom")
    entry, attempt = shared.read("src")
    assert entry == stored
    assert (entry.jwks, entry.fetched_at, entry.ttl) == ({"keys": []}, 1000.5, 300)
    assert attempt == cache.Attempt(1000.5, "boom")


def test_store_keys_gives_each_fetch_a_new_version(shared: cache.SharedKeyCache) -> None:
    first = shared.store_keys("src", {"keys": []}, 1.0, 300)
    second = shared.store_keys("src", {"keys": []}, 1.0, 300)
    assert first.version != second.version


@pytest.mark.parametrize(
    "value",
    [
        "not a dict",
        {"jwks": [], "fetched_at": 1.0, "ttl": 300, "version": "v"},
        {"jwks": {}, "fetched_at": "1", "ttl": 300, "version": "v"},
        {"jwks": {}, "fetched_at": True, "ttl": 300, "version": "v"},
        {"jwks": {}, "fetched_at": 1.0, "ttl": 1.5, "version": "v"},
        {"jwks": {}, "fetched_at": 1.0, "ttl": 300, "version": None},
    ],
)
def test_read_ignores_foreign_key_entries(shared: cache.SharedKeyCache, value: Any) -> None:
    caches["default"].set(cache.cache_keys("src")[0], value)
    assert shared.read("src") == (None, None)


@pytest.mark.parametrize("value", ["x", {"at": "1"}, {"at": 1.0, "error": 5}, {"error": None}])
def test_read_ignores_foreign_attempt_entries(shared: cache.SharedKeyCache, value: Any) -> None:
    caches["default"].set(cache.cache_keys("src")[1], value)
    assert shared.read("src") == (None, None)


def test_store_keys_writes_an_entry_tagged_under_its_own_key(shared: cache.SharedKeyCache) -> None:
    shared.store_keys("src", JWKS, 1000.5, 300)
    raw = caches["default"].get(cache.cache_keys("src")[0])
    assert set(raw) == {"payload", "tag"}
    assert json.loads(raw["payload"])["fetched_at"] == 1000.5
    shared.store_keys("other", JWKS, 1000.5, 300)
    assert caches["default"].get(cache.cache_keys("other")[0])["tag"] != raw["tag"]


def _tamper(key: str, **changes: Any) -> None:
    raw = caches["default"].get(key)
    caches["default"].set(key, {**raw, "payload": json.dumps({**json.loads(raw["payload"]), **changes})})


def test_read_ignores_a_tampered_entry_and_logs_it_once_without_its_content(
    shared: cache.SharedKeyCache, caplog: pytest.LogCaptureFixture
) -> None:
    shared.store_keys("src", JWKS, 1000.5, 300)
    shared.store_attempt("src", 1000.5, None)
    _tamper(cache.cache_keys("src")[0], fetched_at=4e9)
    _tamper(cache.cache_keys("src")[1], at=4e9)
    with caplog.at_level(logging.WARNING, "django_bearer_guard"):
        assert shared.read("src") == (None, None)
        assert shared.read("src") == (None, None)
    assert [r.levelname for r in caplog.records] == ["WARNING", "WARNING"]
    assert all("bad tag" in r.getMessage() for r in caplog.records)
    assert "secret-looking" not in caplog.text


def test_read_ignores_an_entry_copied_from_another_source(shared: cache.SharedKeyCache) -> None:
    shared.store_keys("a", JWKS, 1000.5, 300)
    shared.store_attempt("a", 1000.5, None)
    for index in (0, 1):
        caches["default"].set(cache.cache_keys("b")[index], caches["default"].get(cache.cache_keys("a")[index]))
    assert shared.read("b") == (None, None)
    assert shared.read("a")[0] is not None


def test_read_ignores_entries_tagged_with_another_secret_key(shared: cache.SharedKeyCache) -> None:
    with override_settings(SECRET_KEY="another-deployment"):
        shared.store_keys("src", JWKS, 1000.5, 300)
        shared.store_attempt("src", 1000.5, None)
    assert shared.read("src") == (None, None)


def test_read_accepts_entries_tagged_with_a_fallback_secret_key(shared: cache.SharedKeyCache) -> None:
    with override_settings(SECRET_KEY="before-rotation"):
        stored = shared.store_keys("src", JWKS, 1000.5, 300)
        shared.store_attempt("src", 1000.5, None)
    with override_settings(SECRET_KEY="after-rotation", SECRET_KEY_FALLBACKS=["before-rotation"]):
        assert shared.read("src") == (stored, cache.Attempt(1000.5, None))


def test_read_ignores_a_tagged_entry_of_unexpected_shape(
    shared: cache.SharedKeyCache, caplog: pytest.LogCaptureFixture
) -> None:
    signer = cache._signer()
    keys_key, attempt_key, _ = cache.cache_keys("src")
    caches["default"].set(keys_key, cache._seal(signer, keys_key, {"jwks": JWKS, "fetched_at": 1.0}))
    caches["default"].set(attempt_key, cache._seal(signer, attempt_key, {"at": "soon"}))
    with caplog.at_level(logging.WARNING, "django_bearer_guard"):
        assert shared.read("src") == (None, None)
    assert caplog.text.count("unexpected shape") == 2


def test_read_clamps_times_ahead_to_the_first_read_plus_the_skew(shared: cache.SharedKeyCache, clock: Clock) -> None:
    first_read = clock.now
    shared.store_keys("src", JWKS, first_read + 10 * 365 * 86400, 300)
    shared.store_attempt("src", first_read + 10 * 365 * 86400, None)
    for _ in range(3):
        entry, attempt = shared.read("src")
        assert entry is not None and attempt is not None
        assert entry.fetched_at == attempt.at == first_read + cache.CLOCK_SKEW
        clock.advance(100)


def test_read_keeps_times_within_the_skew(shared: cache.SharedKeyCache, clock: Clock) -> None:
    shared.store_keys("src", JWKS, clock.now + cache.CLOCK_SKEW, 300)
    entry, _ = shared.read("src")
    assert entry is not None and entry.fetched_at == clock.now + cache.CLOCK_SKEW


@pytest.mark.parametrize(("stored", "read"), [(-5, 300), (0, 300), (299, 300), (600, 600), (10**9, 86400)])
def test_read_clamps_the_ttl_to_the_configured_bounds(shared: cache.SharedKeyCache, stored: int, read: int) -> None:
    shared.store_keys("src", JWKS, 1000.5, stored)
    entry, _ = shared.read("src")
    assert entry is not None and entry.ttl == read


def test_without_secret_key_nothing_is_shared_and_it_is_logged(
    shared: cache.SharedKeyCache, caplog: pytest.LogCaptureFixture
) -> None:
    with override_settings(SECRET_KEY=""), caplog.at_level(logging.WARNING, "django_bearer_guard"):
        entry = shared.store_keys("src", JWKS, 1000.5, 300)
        shared.store_attempt("src", 1000.5, None)
        assert shared.read("src") == (None, None)
    assert entry.ttl == 300
    assert caches["default"].get(cache.cache_keys("src")[0]) is None
    assert caplog.text.count("SECRET_KEY") == 3


def test_lock_is_exclusive_until_released(shared: cache.SharedKeyCache) -> None:
    token = shared.acquire_lock("src")
    assert token
    assert shared.acquire_lock("src") is None
    assert shared.acquire_lock("other")
    shared.release_lock("src", token)
    assert shared.acquire_lock("src")


def test_release_lock_leaves_a_lock_taken_by_someone_else(shared: cache.SharedKeyCache) -> None:
    caches["default"].set(cache.cache_keys("src")[2], "someone-else")
    shared.release_lock("src", "mine")
    assert caches["default"].get(cache.cache_keys("src")[2]) == "someone-else"


def test_broken_cache_reads_empty_grants_lock_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    settings = GuardSettings(cache_alias="broken")
    with override_settings(CACHES=BROKEN_CACHES), caplog.at_level(logging.WARNING, "django_bearer_guard"):
        assert cache.SharedKeyCache(settings).read("src") == (None, None)
        entry = cache.SharedKeyCache(settings).store_keys("src", {"keys": []}, 1.0, 300)
        cache.SharedKeyCache(settings).store_attempt("src", 1.0, None)
        token = cache.SharedKeyCache(settings).acquire_lock("src")
        cache.SharedKeyCache(settings).release_lock("src", token or "")
    assert entry.ttl == 300
    assert token
    # One warning for the outage, not one per call: the calls after the first failure wait out a pause.
    [record] = caplog.records
    assert "'broken'" in record.getMessage() and "cache server unreachable" in record.getMessage()


def test_read_ignores_a_tagged_entry_whose_payload_is_not_an_object(
    shared: cache.SharedKeyCache, caplog: pytest.LogCaptureFixture
) -> None:
    # Tagged under this key by this SECRET_KEY, but a JSON list: not an entry of this version.
    keys_key = cache.cache_keys("src")[0]
    payload = json.dumps([JWKS, 1.0, 300])
    caches["default"].set(keys_key, {"payload": payload, "tag": cache._signer().signature(f"{keys_key}\n{payload}")})
    with caplog.at_level(logging.WARNING, "django_bearer_guard"):
        assert shared.read("src") == (None, None)
    assert "unexpected shape" in caplog.text


def test_read_after_max_remembered_bad_entries_logs_the_first_one_again(
    shared: cache.SharedKeyCache, caplog: pytest.LogCaptureFixture
) -> None:
    # Logged once per distinct entry, but the memory of them is bounded: a flood of forged
    # entries cannot grow it, and only costs repeated log lines.
    keys_key = cache.cache_keys("src")[0]

    def forge(index: int) -> None:
        caches["default"].set(keys_key, {"payload": "{}", "tag": f"forged-{index}"})
        shared.read("src")

    with caplog.at_level(logging.WARNING, "django_bearer_guard"):
        forge(0)
        forge(0)
        assert len(caplog.records) == 1
        for index in range(1, cache._MAX_REMEMBERED + 1):
            forge(index)
        caplog.clear()
        forge(0)
    assert len(caplog.records) == 1
    assert len(shared._reported) <= cache._MAX_REMEMBERED


def test_read_after_max_remembered_entries_ahead_clamps_the_first_one_anew(
    shared: cache.SharedKeyCache, clock: Clock
) -> None:
    # The clamped times are remembered per entry, in a bounded memory: once it is full it
    # starts over, and an entry read again is clamped to the clock of that read.
    ahead = clock.now + 10 * 365 * 86400
    shared.store_keys("first", JWKS, ahead, 300)
    first, _ = shared.read("first")
    assert first is not None and first.fetched_at == clock.now + cache.CLOCK_SKEW
    clock.advance(100)
    assert shared.read("first")[0] == first
    for index in range(cache._MAX_REMEMBERED):
        shared.store_keys("other", JWKS, ahead + index, 300)
        shared.read("other")
    entry, _ = shared.read("first")
    assert entry is not None and entry.fetched_at == clock.now + cache.CLOCK_SKEW
    assert len(shared._bounds) <= cache._MAX_REMEMBERED
