"""Concurrent requests share one fetch: the first, the one after expiry, the one for an unknown kid."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django_bearer_guard.exceptions import InvalidToken
from django_bearer_guard.testing import Clock, LocalIssuer
from django_bearer_guard.tokens.validator import TokenValidator


def _validate_concurrently(token: str, threads: int = 8) -> list[str]:
    validator, outcomes = TokenValidator(), []

    def run() -> None:
        try:
            validator.validate(token)
            outcomes.append("ok")
        except InvalidToken as exc:
            outcomes.append(type(exc).__name__)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return outcomes


def test_first_and_expiry_fetches_are_single_flight(idp: LocalIssuer, guard: Callable[..., None], clock: Clock) -> None:
    idp.mode, idp.delay = "slow", 0.2
    assert _validate_concurrently(idp.mint()) == ["ok"] * 8
    assert idp.fetches() == 1
    clock.advance(301)
    assert _validate_concurrently(idp.mint()) == ["ok"] * 8
    assert idp.fetches() == 2


def test_concurrent_unknown_kids_refetch_once(idp: LocalIssuer, guard: Callable[..., None], clock: Clock) -> None:
    guard(JWKS_REFETCH_COOLDOWN=30)
    assert _validate_concurrently(idp.mint(), threads=1) == ["ok"]
    idp.mode, idp.delay = "slow", 0.2
    clock.advance(31)
    assert _validate_concurrently(idp.mint(headers={"kid": "ghost"})) == ["UnknownKey"] * 8
    assert idp.fetches() == 2
