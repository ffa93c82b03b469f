"""Calls to the shared cache: bounded in time whatever the backend does, paused after a failure."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import BaseCache
from django.test import Client, override_settings

from django_bearer_guard import _shared, conf
from django_bearer_guard.runtime import get_runtime
from django_bearer_guard.testing import LocalIssuer
from tests.support import caches as test_caches
from tests.support.caches import BROKEN_CACHES, HANGING_CACHES
from tests.support.client import bearer
from tests.support.services import services_required


@pytest.fixture
def hanging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """CACHES with the "hanging" alias, a short pause, and the stuck calls released afterwards."""
    monkeypatch.setattr(_shared, "BACKOFF", 0.3)
    test_caches.RELEASE.clear()
    with override_settings(CACHES=HANGING_CACHES):
        yield
        test_caches.RELEASE.set()
        time.sleep(0.05)  # the worker thread leaves the released call


def messages(caplog: pytest.LogCaptureFixture, alias: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if f"shared cache {alias!r}" in r.getMessage()]


def timed(action: Callable[[], Any]) -> float:
    started = time.monotonic()
    with pytest.raises(_shared.SharedCacheUnavailable):
        action()
    return time.monotonic() - started


def test_a_hanging_cache_costs_a_call_its_timeout_then_nothing_while_paused(
    hanging: None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, "django_bearer_guard"):
        assert 0.2 <= timed(lambda: _shared.call("hanging", 0.2, lambda cache: cache.get("k"))) < 1.0
        assert _shared.is_paused("hanging")
        for _ in range(50):
            assert timed(lambda: _shared.call("hanging", 0.2, lambda cache: cache.get("k"))) < 0.05
        # After the pause the thread is still inside the first call: no second call joins it.
        time.sleep(0.35)
        assert timed(lambda: _shared.call("hanging", 0.2, lambda cache: cache.get("k"))) < 0.05
    [warning] = messages(caplog, "hanging")
    assert "unusable" in warning and "no answer within 0.2 s" in warning


def test_a_call_its_caller_gave_up_on_is_not_made_late(hanging: None) -> None:
    made: list[str] = []
    # The first call holds the worker thread; the second waits behind it and times out too.
    threading.Thread(target=lambda: timed(lambda: _shared.call("hanging", 0.2, lambda c: c.get("k"))),
                     daemon=True).start()
    time.sleep(0.05)
    state = _shared._state("hanging")
    state.paused_until = 0.0
    state.busy_since = None  # as if the first call had only just begun
    timed(lambda: _shared.call("hanging", 0.1, lambda cache: made.append("late")))
    test_caches.RELEASE.set()
    time.sleep(0.1)
    assert made == []


def test_a_failing_cache_is_logged_once_and_its_recovery_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(_shared, "BACKOFF", 0.05)
    calls = {"n": 0}

    def flaky(cache: BaseCache) -> str:
        calls["n"] += 1
        if calls["n"] <= 3:
            raise ConnectionError("connection refused")
        return "ok"

    with override_settings(CACHES=BROKEN_CACHES), caplog.at_level(logging.INFO, "django_bearer_guard"):
        for _ in range(3):
            timed(lambda: _shared.call("broken", 1.0, flaky))
            time.sleep(0.06)
        assert _shared.call("broken", 1.0, flaky) == "ok"
        assert _shared.call("broken", 1.0, flaky) == "ok"
    assert messages(caplog, "broken") == [
        "bearer_guard: shared cache 'broken' unusable (ConnectionError: connection refused); until it answers "
        "again, keys and issuer changes stay per process and DPoP proofs are refused",
        "bearer_guard: shared cache 'broken' answers again",
    ]


def test_in_process_backends_are_called_directly() -> None:
    threads: list[threading.Thread] = []

    def record(cache: BaseCache) -> None:
        threads.append(threading.current_thread())

    with override_settings(CACHES=BROKEN_CACHES):  # its "default" is the local-memory cache
        _shared.call("default", 0.5, record)
    assert threads == [threading.current_thread()]


def test_other_backends_are_called_on_the_worker_thread() -> None:
    threads: list[str] = []

    def record(cache: BaseCache) -> None:
        threads.append(threading.current_thread().name)
        cache.get("k")

    with override_settings(CACHES=BROKEN_CACHES), pytest.raises(_shared.SharedCacheUnavailable):
        _shared.call("broken", 0.5, record)
    assert threads == ["bearer-guard-cache-broken"]


def test_an_unknown_alias_is_unavailable(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "django_bearer_guard"):
        timed(lambda: _shared.call("nowhere", 0.5, lambda cache: cache.get("k")))
    assert "unusable" in messages(caplog, "nowhere")[0]


def test_changed_settings_forget_an_outage(hanging: None) -> None:
    timed(lambda: _shared.call("hanging", 0.1, lambda cache: cache.get("k")))
    assert _shared.is_paused("hanging")
    conf.reload()
    assert not _shared.is_paused("hanging")


def test_a_forked_child_starts_with_fresh_state(monkeypatch: pytest.MonkeyPatch) -> None:
    before = _shared._state("default")
    monkeypatch.setattr(_shared, "_pid", -1)
    assert _shared._state("default") is not before


def test_requests_go_on_from_process_state_while_the_cache_hangs(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], hanging: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    guard(CACHE_ALIAS="hanging", CACHE_TIMEOUT=0.2)
    with caplog.at_level(logging.WARNING, "django_bearer_guard"):
        started = time.monotonic()
        assert bearer(client, idp.mint()).status_code == 200  # the keys: fetched, not shared
        first = time.monotonic() - started
        started = time.monotonic()
        for _ in range(20):
            assert bearer(client, idp.mint()).status_code == 200
        rest = time.monotonic() - started
    assert first < 1.5 and rest < 1.0, (first, rest)
    assert len(messages(caplog, "hanging")) == 1
    assert get_runtime().keys.key_status(get_runtime().settings.issuers[0]).kids


def test_an_in_process_backend_that_raises_is_unavailable_too(caplog: pytest.LogCaptureFixture) -> None:
    def broken(cache: BaseCache) -> None:
        raise ValueError("cannot pickle")

    with override_settings(CACHES=BROKEN_CACHES), caplog.at_level(logging.WARNING, "django_bearer_guard"):
        timed(lambda: _shared.call("default", 0.5, broken))
        timed(lambda: _shared.call("default", 0.5, broken))  # paused: not called again
    assert len(messages(caplog, "default")) == 1


def test_the_first_call_waits_for_the_client_to_be_built_not_for_the_deadline() -> None:
    caches = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
              "slow": {"BACKEND": "tests.support.caches.SlowClientCache"}}
    with override_settings(CACHES=caches):
        assert _shared.call("slow", 0.1, lambda cache: cache.get("k", "absent")) == "absent"
        assert not _shared.is_paused("slow")


def test_the_worker_thread_leaves_at_exit_and_a_later_call_starts_another() -> None:
    if services_required():
        # Django's Redis backend keeps connection pools: they are closed, and a later call reopens one.
        _shared.call("default", 1.0, lambda cache: cache.set("k", 1))
        _shared._stop()
        assert _shared.call("default", 1.0, lambda cache: cache.get("k")) == 1
    caches = {**BROKEN_CACHES, "slow": {"BACKEND": "tests.support.caches.SlowClientCache"}}
    with override_settings(CACHES=caches):
        _shared.call("slow", 1.0, lambda cache: cache.get("k"))
        timed(lambda: _shared.call("broken", 0.5, lambda cache: cache.get("k")))
        first = _shared._state("broken").thread
        assert first is not None and first.is_alive()
        _shared._stop()  # what the interpreter runs at exit
        assert not first.is_alive()
        _shared._state("broken").paused_until = 0.0
        timed(lambda: _shared.call("broken", 0.5, lambda cache: cache.get("k")))
        second = _shared._state("broken").thread
        assert second is not None and second is not first and second.is_alive()
