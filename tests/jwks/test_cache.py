from __future__ import annotations

import logging
from typing import Any

import pytest
from django.core.cache import BaseCache, caches
from django.test import override_settings

from django_bearer_guard.conf import GuardSettings
from django_bearer_guard.jwks import cache

SETTINGS = GuardSettings()


class BrokenCache(BaseCache):
    """A cache backend whose server is unreachable."""

    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(params)

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("cache server unreachable")

    add = get = set = delete = get_many = _fail


BROKEN_CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "broken": {"BACKEND": "tests.jwks.test_cache.BrokenCache"},
}


def test_cache_keys_differ_per_source_and_purpose() -> None:
    first, second = cache.cache_keys("a"), cache.cache_keys("b")
    assert len(set(first) | set(second)) == 6
    assert all("a" in key for key in first)


def test_read_returns_nothing_before_any_fetch() -> None:
    assert cache.read(SETTINGS, "src") == (None, None)


def test_store_keys_then_read_round_trips() -> None:
    stored = cache.store_keys(SETTINGS, "src", {"keys": []}, 1000.5, 300)
    cache.store_attempt(SETTINGS, "src", 1000.5, "boom")
    entry, attempt = cache.read(SETTINGS, "src")
    assert entry == stored
    assert (entry.jwks, entry.fetched_at, entry.ttl) == ({"keys": []}, 1000.5, 300)
    assert attempt == cache.Attempt(1000.5, "boom")


def test_store_keys_gives_each_fetch_a_new_version() -> None:
    first = cache.store_keys(SETTINGS, "src", {"keys": []}, 1.0, 300)
    second = cache.store_keys(SETTINGS, "src", {"keys": []}, 1.0, 300)
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
def test_read_ignores_foreign_key_entries(value: Any) -> None:
    caches["default"].set(cache.cache_keys("src")[0], value)
    assert cache.read(SETTINGS, "src") == (None, None)


@pytest.mark.parametrize("value", ["x", {"at": "1"}, {"at": 1.0, "error": 5}, {"error": None}])
def test_read_ignores_foreign_attempt_entries(value: Any) -> None:
    caches["default"].set(cache.cache_keys("src")[1], value)
    assert cache.read(SETTINGS, "src") == (None, None)


def test_lock_is_exclusive_until_released() -> None:
    token = cache.acquire_lock(SETTINGS, "src")
    assert token
    assert cache.acquire_lock(SETTINGS, "src") is None
    assert cache.acquire_lock(SETTINGS, "other")
    cache.release_lock(SETTINGS, "src", token)
    assert cache.acquire_lock(SETTINGS, "src")


def test_release_lock_leaves_a_lock_taken_by_someone_else() -> None:
    caches["default"].set(cache.cache_keys("src")[2], "someone-else")
    cache.release_lock(SETTINGS, "src", "mine")
    assert caches["default"].get(cache.cache_keys("src")[2]) == "someone-else"


def test_broken_cache_reads_empty_grants_lock_and_logs(caplog) -> None:
    settings = GuardSettings(cache_alias="broken")
    with override_settings(CACHES=BROKEN_CACHES), caplog.at_level(logging.WARNING, "django_bearer_guard"):
        assert cache.read(settings, "src") == (None, None)
        entry = cache.store_keys(settings, "src", {"keys": []}, 1.0, 300)
        cache.store_attempt(settings, "src", 1.0, None)
        token = cache.acquire_lock(settings, "src")
        cache.release_lock(settings, "src", token or "")
    assert entry.ttl == 300
    assert token
    assert len(caplog.records) == 5
    assert all("cache server unreachable" in record.getMessage() for record in caplog.records)
