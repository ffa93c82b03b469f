"""Issuer outages, slow issuers, refused key sets and concurrent fetches."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.cache import caches
from django.test import override_settings

from django_bearer_guard.conf import get_settings
from django_bearer_guard.exceptions import KeysUnavailable, UnknownKey
from django_bearer_guard.issuers.config import IssuerConfig
from django_bearer_guard.jwks import cache
from django_bearer_guard.jwks.refresh import FAILURE_BACKOFF
from django_bearer_guard.runtime import get_key, get_runtime, key_status
from django_bearer_guard.testing import Clock, LocalIssuer, SigningKey
from tests.support.caches import BROKEN_CACHES


def test_get_key_issuer_down_serves_stale_then_fails_closed(
    idp: LocalIssuer,
    guard: Callable[..., None],
    configured: Callable[..., IssuerConfig],
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    guard(JWKS_STALE_WINDOW=1000)
    kid = idp.keys[0].kid
    get_key(configured(), kid, "RS256")
    idp.mode = "down"
    clock.advance(300)
    with caplog.at_level(logging.WARNING, "django_bearer_guard"):
        assert get_key(configured(), kid, "RS256").kid == kid
    assert idp.fetches() == 2
    assert "503" in caplog.text
    assert "503" in (key_status(configured()).last_error or "")
    clock.advance(999)
    assert get_key(configured(), kid, "RS256").kid == kid
    clock.advance(1)
    with pytest.raises(KeysUnavailable):
        get_key(configured(), kid, "RS256")


def test_get_key_after_a_failure_waits_the_backoff_before_retrying(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig], clock: Clock
) -> None:
    kid = idp.keys[0].kid
    get_key(configured(), kid, "RS256")
    idp.mode = "down"
    clock.advance(300)
    for _ in range(20):
        get_key(configured(), kid, "RS256")
    assert idp.fetches() == 2
    clock.advance(FAILURE_BACKOFF)
    get_key(configured(), kid, "RS256")
    assert idp.fetches() == 3


def test_get_key_recovers_when_the_issuer_is_back(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig], clock: Clock
) -> None:
    kid = idp.keys[0].kid
    get_key(configured(), kid, "RS256")
    idp.mode = "down"
    clock.advance(300)
    get_key(configured(), kid, "RS256")
    idp.mode = "ok"
    new = idp.rotate(drop_old=True)
    clock.advance(FAILURE_BACKOFF)
    with pytest.raises(UnknownKey):
        get_key(configured(), kid, "RS256")
    assert get_key(configured(), new.kid, "RS256").kid == new.kid
    status = key_status(configured())
    assert status.last_error is None
    assert status.fetched_at == clock.now


def test_get_key_issuer_down_from_the_start_is_unavailable(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig], clock: Clock
) -> None:
    idp.mode = "down"
    with pytest.raises(KeysUnavailable) as info:
        get_key(configured(), idp.keys[0].kid, "RS256")
    assert "503" in info.value.reason
    with pytest.raises(KeysUnavailable):
        get_key(configured(), idp.keys[0].kid, "RS256")
    assert idp.fetches() == 1


def test_get_key_slow_issuer_is_bounded_by_the_timeout(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig], clock: Clock
) -> None:
    guard(JWKS_TIMEOUT=0.5)
    idp.mode, idp.delay = "slow", 3.0
    started = time.monotonic()
    with pytest.raises(KeysUnavailable):
        get_key(configured(), idp.keys[0].kid, "RS256")
    assert time.monotonic() - started < 1.5


def test_get_key_dribbling_issuer_is_bounded_by_the_timeout(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig], clock: Clock
) -> None:
    guard(JWKS_TIMEOUT=0.5)
    kid = idp.keys[0].kid
    get_key(configured(), kid, "RS256")
    idp.mode, idp.delay = "dribble", 0.02
    clock.advance(300)
    started = time.monotonic()
    assert get_key(configured(), kid, "RS256").kid == kid
    assert time.monotonic() - started < 1.5


def _weak_jwks(idp: LocalIssuer) -> dict[str, Any]:
    weak = SigningKey("weak", "RS256", rsa.generate_private_key(public_exponent=65537, key_size=1024))
    return {"keys": [weak.public_jwk()]}


@pytest.mark.parametrize(
    "breakage",
    [
        lambda idp, mp: setattr(idp, "mode", "garbage"),
        lambda idp, mp: setattr(idp, "mode", "oversized"),
        lambda idp, mp: mp.setattr(idp, "jwks", lambda: _weak_jwks(idp)),
        lambda idp, mp: mp.setattr(idp, "jwks", lambda: {"keys": [idp.keys[0].public_jwk()] * 2}),
        lambda idp, mp: mp.setattr(idp, "jwks", lambda: {"keys": [{"kty": "oct", "k": "a" * 64}]}),
    ],
    ids=["garbage", "oversized", "weak-key", "duplicate-kid", "symmetric"],
)
@pytest.mark.usefixtures("guard")
def test_get_key_refused_key_set_keeps_the_old_keys(
    idp: LocalIssuer,
    configured: Callable[..., IssuerConfig],
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    breakage: Callable[[LocalIssuer, pytest.MonkeyPatch], None],
) -> None:
    kid = idp.keys[0].kid
    get_key(configured(), kid, "RS256")
    breakage(idp, monkeypatch)
    clock.advance(300)
    assert get_key(configured(), kid, "RS256").kid == kid
    assert idp.fetches() == 2
    status = key_status(configured())
    assert status.kids == (kid,)
    assert status.last_error


def test_get_key_threads_without_keys_share_one_fetch(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig], clock: Clock
) -> None:
    idp.mode, idp.delay = "slow", 0.3
    kid = idp.keys[0].kid
    found: list[str | None] = []

    def worker() -> None:
        found.append(get_key(configured(), kid, "RS256").kid)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert found == [kid] * 8
    assert idp.fetches() == 1


def _hold_process_lock() -> None:
    caches["default"].add(cache.cache_keys(get_settings().issuers[0].source_id)[2], "other-process")


def test_get_key_without_keys_waits_for_another_process_then_fails(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig], clock: Clock
) -> None:
    guard(JWKS_TIMEOUT=0.3)
    _hold_process_lock()
    started = time.monotonic()
    with pytest.raises(KeysUnavailable):
        get_key(configured(), idp.keys[0].kid, "RS256")
    assert 0.3 <= time.monotonic() - started < 1.0
    assert idp.fetches() == 0


def test_get_key_without_keys_takes_what_another_process_fetched(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig], clock: Clock
) -> None:
    guard(JWKS_TIMEOUT=2.0)
    _hold_process_lock()
    shared, source_id = cache.SharedKeyCache(get_settings()), configured().source_id
    timer = threading.Timer(0.2, lambda: shared.store_keys(source_id, idp.jwks(), clock.now, 300))
    timer.start()
    started = time.monotonic()
    try:
        assert get_key(configured(), idp.keys[0].kid, "RS256").kid == idp.keys[0].kid
    finally:
        timer.join()
    assert time.monotonic() - started < 1.5
    assert idp.fetches() == 0


def test_get_key_serves_stale_keys_while_another_process_fetches(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig], clock: Clock
) -> None:
    kid = idp.keys[0].kid
    get_key(configured(), kid, "RS256")
    clock.advance(300)
    _hold_process_lock()
    started = time.monotonic()
    assert get_key(configured(), kid, "RS256").kid == kid
    assert time.monotonic() - started < 0.2
    assert idp.fetches() == 1


def test_get_key_serves_stale_keys_while_another_thread_fetches(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig], clock: Clock
) -> None:
    kid = idp.keys[0].kid
    get_key(configured(), kid, "RS256")
    clock.advance(300)
    with get_runtime().keys.snapshot(configured()).lock:
        assert get_key(configured(), kid, "RS256").kid == kid
    assert idp.fetches() == 1


def test_get_key_unknown_kid_gives_up_when_another_thread_is_slow(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig], clock: Clock
) -> None:
    guard(JWKS_TIMEOUT=0.2)
    get_key(configured(), idp.keys[0].kid, "RS256")
    clock.advance(30)
    with get_runtime().keys.snapshot(configured()).lock, pytest.raises(UnknownKey):
        get_key(configured(), "unknown", "RS256")
    assert idp.fetches() == 1


def test_get_key_unknown_kid_does_not_wait_for_another_process(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig], clock: Clock
) -> None:
    get_key(configured(), idp.keys[0].kid, "RS256")
    clock.advance(30)
    _hold_process_lock()
    started = time.monotonic()
    with pytest.raises(UnknownKey):
        get_key(configured(), "unknown", "RS256")
    assert time.monotonic() - started < 0.2
    assert idp.fetches() == 1


@pytest.mark.usefixtures("guard")
def test_get_key_works_per_process_when_the_shared_cache_is_down(
    idp: LocalIssuer, configured: Callable[..., IssuerConfig], clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    value = {"ALLOW_HTTP_LOOPBACK": True, "ISSUERS": [idp.issuer_settings()], "CACHE_ALIAS": "broken"}
    with override_settings(CACHES=BROKEN_CACHES, BEARER_GUARD=value):
        kid = idp.keys[0].kid
        assert get_key(configured(), kid, "RS256").kid == kid
        clock.advance(5)
        assert get_key(configured(), kid, "RS256").kid == kid
    assert idp.fetches() == 1
    assert "cache server unreachable" in caplog.text
