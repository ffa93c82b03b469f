"""Shared-cache poisoning: whoever can write to the Django cache must not choose an issuer's keys.

Every attack writes into the cache alias the library uses, then talks to a real API whose
issuer serves its real keys from a LocalIssuer.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import caches
from django.core.signing import Signer
from django.test import Client

from django_bearer_guard.conf import get_settings
from django_bearer_guard.jwks import cache
from django_bearer_guard.runtime import get_runtime
from django_bearer_guard.testing import Clock, LocalIssuer
from tests.support.keys import pooled_key

TEN_YEARS = 10 * 365 * 86400
ATTACKER = pooled_key("RS256", 2)


def accepted(client: Client, token: str) -> bool:
    response = client.get("/whoami/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code in (200, 401), response.status_code
    return response.status_code == 200


def shared(source_id: str, index: int = 0) -> str:
    return cache.cache_keys(source_id)[index]


def poison(key: str, value: Any) -> None:
    caches[get_settings().cache_alias].set(key, value, timeout=None)


def attacker_entry(now: float) -> dict[str, Any]:
    return {"jwks": {"keys": [ATTACKER.public_jwk()]}, "fetched_at": now + TEN_YEARS, "ttl": 10**9,
            "version": "attacker"}


def _untagged(key: str, data: dict[str, Any]) -> Any:
    return data


def _no_tag(key: str, data: dict[str, Any]) -> Any:
    return {"payload": json.dumps(data), "tag": ""}


def _other_secret(key: str, data: dict[str, Any]) -> Any:
    payload = json.dumps(data)
    signer = Signer(key="a-secret-key-the-api-does-not-use", salt="django_bearer_guard.jwks.cache")
    return {"payload": payload, "tag": signer.signature(f"{key}\n{payload}")}


def _unbound(key: str, data: dict[str, Any]) -> Any:
    # Tagged with the right secret, but over the payload alone (not bound to the cache key).
    payload = json.dumps(data)
    return {"payload": payload, "tag": Signer(salt="django_bearer_guard.jwks.cache").signature(payload)}


@pytest.mark.parametrize("forge", [_untagged, _no_tag, _other_secret, _unbound])
def test_future_dated_entry_with_attacker_key_is_ignored_and_real_keys_fetched(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], clock: Clock, caplog: pytest.LogCaptureFixture,
    *, forge: Callable[[str, dict[str, Any]], Any],
) -> None:
    key = shared(get_settings().issuers[0].source_id)
    poison(key, forge(key, attacker_entry(clock.now)))
    with caplog.at_level(logging.WARNING, "django_bearer_guard"):
        assert not accepted(client, idp.mint(key=ATTACKER))
        clock.advance(3)  # the next look at the shared cache finds the forged entry again
        assert not accepted(client, idp.mint(key=ATTACKER))
    assert accepted(client, idp.mint())
    assert idp.fetches() == 1
    warnings = [r.getMessage() for r in caplog.records if "ignoring the shared cache entry" in r.getMessage()]
    assert len(warnings) == 1  # once per forged entry, not at every look
    assert ATTACKER.public_jwk()["n"] not in caplog.text


def test_future_dated_entry_does_not_pin_keys_after_the_cache_is_cleared(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    source_id = get_settings().issuers[0].source_id
    poison(shared(source_id), attacker_entry(clock.now))
    poison(shared(source_id, 1), {"at": clock.now + TEN_YEARS, "error": None})
    accepted(client, idp.mint())
    caches[get_settings().cache_alias].clear()
    clock.advance(3)
    assert not accepted(client, idp.mint(key=ATTACKER))
    assert accepted(client, idp.mint())


@pytest.mark.parametrize(("ahead", "ttl"), [(0, 10**9), (TEN_YEARS, 300), (TEN_YEARS, 10**9), (0, -5)])
def test_library_entry_with_absurd_times_expires_within_the_configured_bounds(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], clock: Clock, *, ahead: int, ttl: int
) -> None:
    # An entry of ours (a valid tag) from an older format or a host whose clock ran ahead.
    source_id = get_settings().issuers[0].source_id
    old = idp.signing_key()
    get_runtime().keys.shared.store_keys(source_id, idp.jwks(), clock.now + ahead, ttl)
    get_runtime().keys.shared.store_attempt(source_id, clock.now + ahead, None)
    assert accepted(client, idp.mint(key=old))
    assert idp.fetches() == 0
    idp.rotate(drop_old=True)  # the issuer withdraws the key
    clock.advance(cache.CLOCK_SKEW + get_settings().jwks_max_ttl)
    assert not accepted(client, idp.mint(key=old))
    assert accepted(client, idp.mint())
    assert idp.fetches() == 1


def test_library_attempt_dated_far_ahead_holds_off_unknown_kid_refetch_only_briefly(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    source_id = get_settings().issuers[0].source_id
    assert accepted(client, idp.mint())
    get_runtime().keys.shared.store_attempt(source_id, clock.now + TEN_YEARS, None)
    clock.advance(3)
    new = idp.rotate()
    assert not accepted(client, idp.mint(key=new))  # within the cool-down of the (clamped) attempt
    clock.advance(cache.CLOCK_SKEW + get_settings().jwks_refetch_cooldown)
    assert accepted(client, idp.mint(key=new))
    assert idp.fetches() == 2


def test_entry_copied_from_another_issuer_is_refused(
    client: Client, make_idp: Callable[..., LocalIssuer], idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    # The attacker runs (or holds the keys of) issuer A, and copies A's entry to B's cache key.
    victim = make_idp(keys=[pooled_key("RS256", 1)], audience="https://victim.example.test")
    guard(issuers=[idp.issuer_settings(), victim.issuer_settings()])
    a_source, b_source = (issuer.source_id for issuer in get_settings().issuers)
    assert accepted(client, idp.mint())
    poison(shared(b_source), caches[get_settings().cache_alias].get(shared(a_source)))
    poison(shared(b_source, 1), caches[get_settings().cache_alias].get(shared(a_source, 1)))
    forged = idp.mint(iss=victim.issuer, aud=victim.audience)
    assert not accepted(client, forged)
    assert accepted(client, victim.mint())
    assert victim.fetches() == 1


def test_forged_fetch_history_does_not_make_a_failing_issuer_look_healthy(
    idp: LocalIssuer, guard: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> None:
    # A writer to the shared cache plants a history of successful fetches to hide an outage.
    from django_bearer_guard.runtime import fetch_now, issuer_health

    config = get_settings().issuers[0]
    idp.mode = "down"
    fetch_now(config)
    forged = {"events": [{"at": 1e12, "outcome": "fetched", "error": None, "kids": ["attacker"],
                          "trigger": "manual"}], "last_success_at": 1e12}
    caches["default"].set(cache.history_key(config.source_id), {"payload": json.dumps(forged), "tag": "x"})
    with caplog.at_level(logging.WARNING, logger="django_bearer_guard"):
        health = issuer_health(config)
    assert health.status == "failing" and health.last_success_at is None and health.history == ()
    assert "bad tag" in caplog.text
