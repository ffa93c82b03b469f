"""Keys refreshed before they expire, in the background; discovery kept for its own TTL; prefetch."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pytest
from django.test import Client

from django_bearer_guard.exceptions import KeysUnavailable
from django_bearer_guard.issuers.config import IssuerConfig
from django_bearer_guard.jwks.fetch import fetch_keys
from django_bearer_guard.jwks.refresh import join_background
from django_bearer_guard.runtime import get_key, get_runtime, key_status, refresh_now
from django_bearer_guard.testing import Clock, LocalIssuer
from tests.support.client import assert_refused, bearer

OIDC = "/.well-known/openid-configuration"


def test_a_refresh_starts_refresh_ahead_seconds_before_the_expiry(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig], clock: Clock
) -> None:
    guard(JWKS_REFRESH_AHEAD=30)  # TTL 300 (max-age=300)
    kid = idp.keys[0].kid
    get_key(configured(), kid, "RS256")
    clock.advance(269)
    get_key(configured(), kid, "RS256")
    join_background()
    assert idp.fetches() == 1
    clock.advance(1)  # 30 s before the expiry
    get_key(configured(), kid, "RS256")
    join_background()
    assert idp.fetches() == 2
    status = key_status(configured())
    assert status.fetched_at == clock.now
    # The new keys carry the issuer through the old expiry without another fetch.
    clock.advance(31)
    get_key(configured(), kid, "RS256")
    join_background()
    assert idp.fetches() == 2


def test_no_request_waits_on_a_refresh_ahead(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig], clock: Clock
) -> None:
    guard(JWKS_REFRESH_AHEAD=30, JWKS_TIMEOUT=5)
    kid = idp.keys[0].kid
    get_key(configured(), kid, "RS256")
    idp.mode, idp.delay = "slow", 1.0
    clock.advance(280)
    started = time.monotonic()
    for _ in range(20):
        assert get_key(configured(), kid, "RS256").kid == kid
    assert time.monotonic() - started < 0.5
    join_background()
    # Twenty requests in the window, one refresh.
    assert idp.fetches() == 2


def test_the_window_is_at_most_a_quarter_of_the_ttl(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig], clock: Clock
) -> None:
    idp.cache_control = "max-age=60"
    guard(JWKS_MIN_TTL=60, JWKS_REFRESH_AHEAD=30)
    kid = idp.keys[0].kid
    get_key(configured(), kid, "RS256")
    clock.advance(44)
    get_key(configured(), kid, "RS256")
    join_background()
    assert idp.fetches() == 1
    clock.advance(1)  # 15 s (a quarter of 60) before the expiry
    get_key(configured(), kid, "RS256")
    join_background()
    assert idp.fetches() == 2


def test_refresh_ahead_zero_refreshes_at_the_expiry_only(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig], clock: Clock
) -> None:
    guard(JWKS_REFRESH_AHEAD=0)
    kid = idp.keys[0].kid
    get_key(configured(), kid, "RS256")
    clock.advance(299)
    get_key(configured(), kid, "RS256")
    join_background()
    assert idp.fetches() == 1


def test_a_failed_refresh_ahead_keeps_the_keys_and_backs_off(
    idp: LocalIssuer,
    guard: Callable[..., None],
    configured: Callable[..., IssuerConfig],
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    guard(JWKS_REFRESH_AHEAD=30, JWKS_STALE_WINDOW=60)
    kid = idp.keys[0].kid
    get_key(configured(), kid, "RS256")
    idp.mode = "down"
    clock.advance(275)
    with caplog.at_level(logging.WARNING, "django_bearer_guard"):
        for _ in range(5):
            assert get_key(configured(), kid, "RS256").kid == kid
            join_background()
    # One attempt: the failure back-off (and the spacing of background refreshes) holds the rest.
    assert idp.fetches() == 1 + 1
    assert any("fetching the keys" in record.getMessage() for record in caplog.records)
    # Past the expiry the stale keys serve, then the issuer fails closed.
    clock.advance(30)
    assert get_key(configured(), kid, "RS256").kid == kid
    clock.advance(60)
    with pytest.raises(KeysUnavailable):
        get_key(configured(), kid, "RS256")
    idp.mode = "ok"
    clock.advance(10)
    assert get_key(configured(), kid, "RS256").kid == kid


def test_discovery_is_read_again_only_when_its_own_ttl_is_over(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig], clock: Clock
) -> None:
    guard(issuers=[idp.issuer_settings(discovery=True)], JWKS_MIN_TTL=60, JWKS_MAX_TTL=3600)
    idp.cache_control = "max-age=600"  # the metadata's and the key set's
    refresh_now(configured())
    refresh_now(configured())
    clock.advance(599)
    refresh_now(configured())
    assert (idp.fetches(OIDC), idp.fetches()) == (1, 3)
    clock.advance(1)
    refresh_now(configured())
    assert (idp.fetches(OIDC), idp.fetches()) == (2, 4)


def test_a_failing_discovered_key_url_is_discovered_again(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig], clock: Clock
) -> None:
    guard(issuers=[idp.issuer_settings(discovery=True)])
    refresh_now(configured())
    # The issuer moves its keys: the remembered URL now answers 404.
    moved = "/keys/v2.json"
    idp.jwks_path, old_path = moved, idp.jwks_path
    refresh_now(configured())
    assert idp.fetches(OIDC) == 2
    assert idp.fetches(old_path) == 2
    assert idp.fetches(moved) == 1


def test_the_first_request_prefetches_every_other_issuer(
    client: Client, make_idp: Callable[..., LocalIssuer], guard: Callable[..., None], clock: Clock
) -> None:
    first, second, down = make_idp(), make_idp(), make_idp()
    down.stop()
    guard(issuers=[first.issuer_settings(), second.issuer_settings(), down.issuer_settings(),
                   {**second.issuer_settings(), "issuer": second.issuer + "disabled", "enabled": False}])
    assert bearer(client, first.mint()).status_code == 200
    join_background()
    assert (first.fetches(), second.fetches()) == (1, 1)
    # The caller of the second issuer waits on no fetch; the prefetch happens once per process.
    assert bearer(client, second.mint()).status_code == 200
    assert bearer(client, first.mint()).status_code == 200
    join_background()
    assert (first.fetches(), second.fetches()) == (1, 1)
    assert key_status(get_runtime().settings.issuers[2]).last_error is not None


def test_prefetch_keys_off_fetches_only_what_a_request_needs(
    client: Client, make_idp: Callable[..., LocalIssuer], guard: Callable[..., None]
) -> None:
    first, second = make_idp(), make_idp()
    guard(issuers=[first.issuer_settings(), second.issuer_settings()], PREFETCH_KEYS=False)
    assert bearer(client, first.mint()).status_code == 200
    join_background()
    assert (first.fetches(), second.fetches()) == (1, 0)


def test_prefetch_skips_misconfigured_and_inline_issuers(
    client: Client, idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    guard(issuers=[idp.issuer_settings(),
                   {"issuer": "https://inline.example", "audiences": ["a"], "algorithms": ["RS256"],
                    "jwks": idp.jwks()},
                   {"issuer": "https://plain.example", "audiences": ["a"], "algorithms": ["RS256"],
                    "jwks_uri": "http://plain.example/keys"}])
    assert bearer(client, idp.mint()).status_code == 200
    join_background()
    assert key_status(get_runtime().settings.issuers[2]).last_attempt_at is None
    assert_refused(bearer(client, idp.mint(iss="https://plain.example", aud="a")), 401, "invalid_token")


def test_a_background_failure_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    from django_bearer_guard.jwks import refresh

    def broken() -> None:
        raise RuntimeError("unexpected")

    with caplog.at_level(logging.ERROR, "django_bearer_guard"):
        refresh._in_background("key-refresh", broken)
        join_background()
    [record] = caplog.records
    assert record.getMessage() == "bearer_guard: key-refresh failed" and record.exc_info is not None


def test_fetch_keys_without_a_memory_of_discovery_reads_the_metadata_each_time(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig]
) -> None:
    guard(issuers=[idp.issuer_settings(discovery=True)])
    for _ in range(2):
        assert fetch_keys(configured(), get_runtime().settings).keyset.kids == (idp.keys[0].kid,)
    assert (idp.fetches(OIDC), idp.fetches()) == (2, 2)
