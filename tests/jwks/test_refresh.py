from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from django_bearer_guard import conf
from django_bearer_guard.exceptions import KeyFetchError, KeysUnavailable, UnknownKey, WeakKey
from django_bearer_guard.issuers.config import IssuerConfig
from django_bearer_guard.jose.algorithms import ALGORITHMS
from django_bearer_guard.runtime import get_key, get_runtime, key_status, refresh_now
from django_bearer_guard.testing import Clock, LocalIssuer
from tests.support.keys import ALL_ALGORITHMS


@pytest.mark.parametrize("alg", ALL_ALGORITHMS)
def test_get_key_finds_the_key_of_every_supported_algorithm(
    make_idp: Callable[..., LocalIssuer],
    guard: Callable[..., None],
    configured: Callable[..., IssuerConfig],
    clock: Clock,
    alg: str,
) -> None:
    idp = make_idp((alg,))
    guard(issuers=[idp.issuer_settings()])
    signing = idp.signing_key(alg)
    key = get_key(configured(), signing.kid, alg)
    assert key.kid == signing.kid
    assert alg in key.algorithms
    header, payload, signature = idp.mint().encode().split(b".")
    assert ALGORITHMS[alg].verify(header + b"." + payload, key.key, _b64(signature))


def _b64(value: bytes) -> bytes:
    import base64

    return base64.urlsafe_b64decode(value + b"=" * (-len(value) % 4))


def test_get_key_fetches_once_while_the_keys_are_fresh(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig], clock: Clock
) -> None:
    kid = idp.keys[0].kid
    for _ in range(50):
        assert get_key(configured(), kid, "RS256").kid == kid
        clock.advance(5)
    assert idp.fetches() == 1


def test_get_key_refetches_when_the_ttl_expires(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig], clock: Clock
) -> None:
    guard(JWKS_REFRESH_AHEAD=0)  # the expiry itself (tests/jwks/test_refresh_ahead.py: before it)
    get_key(configured(), idp.keys[0].kid, "RS256")
    clock.advance(299)
    get_key(configured(), idp.keys[0].kid, "RS256")
    assert idp.fetches() == 1
    clock.advance(1)
    get_key(configured(), idp.keys[0].kid, "RS256")
    assert idp.fetches() == 2


@pytest.mark.parametrize(
    ("cache_control", "ttl"),
    [(None, 60), ("max-age=10", 60), ("max-age=600", 600), ("max-age=99999", 3600), ("no-cache", 60)],
)
def test_get_key_ttl_is_max_age_clamped(
    idp: LocalIssuer,
    guard: Callable[..., None],
    configured: Callable[..., IssuerConfig],
    clock: Clock,
    *,
    cache_control: str | None,
    ttl: int,
) -> None:
    guard(JWKS_MIN_TTL=60, JWKS_MAX_TTL=3600, JWKS_REFRESH_AHEAD=0)
    idp.cache_control = cache_control
    get_key(configured(), idp.keys[0].kid, "RS256")
    status = key_status(configured())
    assert status.fetched_at is not None
    assert status.expires_at == status.fetched_at + ttl
    clock.advance(ttl - 1)
    get_key(configured(), idp.keys[0].kid, "RS256")
    assert idp.fetches() == 1
    clock.advance(1)
    get_key(configured(), idp.keys[0].kid, "RS256")
    assert idp.fetches() == 2


def test_get_key_picks_up_a_rotated_key_without_restart(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig], clock: Clock
) -> None:
    get_key(configured(), idp.keys[0].kid, "RS256")
    new = idp.rotate()
    clock.advance(30)
    assert get_key(configured(), new.kid, "RS256").kid == new.kid
    assert idp.fetches() == 2


def test_get_key_unknown_kid_within_cooldown_does_not_refetch(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig], clock: Clock
) -> None:
    get_key(configured(), idp.keys[0].kid, "RS256")
    new = idp.rotate()
    clock.advance(29)
    with pytest.raises(UnknownKey):
        get_key(configured(), new.kid, "RS256")
    assert idp.fetches() == 1
    clock.advance(1)
    assert get_key(configured(), new.kid, "RS256").kid == new.kid
    assert idp.fetches() == 2


def test_get_key_rejects_a_removed_key_after_the_ttl(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig], clock: Clock
) -> None:
    guard(JWKS_REFRESH_AHEAD=0)
    old = idp.keys[0]
    get_key(configured(), old.kid, "RS256")
    new = idp.rotate(drop_old=True)
    clock.advance(299)
    assert get_key(configured(), old.kid, "RS256").kid == old.kid
    clock.advance(1)
    with pytest.raises(UnknownKey):
        get_key(configured(), old.kid, "RS256")
    assert get_key(configured(), new.kid, "RS256").kid == new.kid
    assert idp.fetches() == 2


def test_get_key_random_unknown_kids_fetch_at_most_once_per_cooldown(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig], clock: Clock
) -> None:
    get_key(configured(), idp.keys[0].kid, "RS256")
    unknown = 0
    for _ in range(1000):
        try:
            get_key(configured(), uuid.uuid4().hex, "RS256")
        except UnknownKey:
            unknown += 1
        clock.advance(0.1)
    assert unknown == 1000
    # 100 seconds: the first fetch, then one at 30, 60 and 90 seconds.
    assert idp.fetches() == 4


def test_get_key_random_unknown_kids_without_time_passing_fetch_once(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig], clock: Clock
) -> None:
    for _ in range(1000):
        with pytest.raises(UnknownKey):
            get_key(configured(), uuid.uuid4().hex, "RS256")
    assert idp.fetches() == 1


def test_get_key_cooldown_holds_across_processes(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig], clock: Clock
) -> None:
    get_key(configured(), idp.keys[0].kid, "RS256")
    clock.advance(10)
    conf.reload()  # another process: no snapshot, the same shared cache
    with pytest.raises(UnknownKey):
        get_key(configured(), "unknown", "RS256")
    assert idp.fetches() == 1
    clock.advance(20)
    with pytest.raises(UnknownKey):
        get_key(configured(), "unknown", "RS256")
    assert idp.fetches() == 2


def test_get_key_second_process_uses_shared_keys_parsed_once(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig], clock: Clock
) -> None:
    get_key(configured(), idp.keys[0].kid, "RS256")
    conf.reload()
    first = get_key(configured(), idp.keys[0].kid, "RS256")
    clock.advance(3)
    assert get_key(configured(), idp.keys[0].kid, "RS256") is first
    assert idp.fetches() == 1


def test_get_key_sees_keys_another_process_fetched_within_seconds(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig], clock: Clock
) -> None:
    get_key(configured(), idp.keys[0].kid, "RS256")
    new = idp.rotate()
    clock.advance(1)
    get_runtime().keys.shared.store_keys(configured().source_id, idp.jwks(), clock.now, 300)
    get_runtime().keys.shared.store_attempt(configured().source_id, clock.now, None)
    with pytest.raises(UnknownKey):  # not looked at yet, and within the cool-down
        get_key(configured(), new.kid, "RS256")
    clock.advance(1)
    assert get_key(configured(), new.kid, "RS256").kid == new.kid
    assert idp.fetches() == 1


def test_get_key_ignores_an_older_shared_set(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig], clock: Clock
) -> None:
    first = get_key(configured(), idp.keys[0].kid, "RS256")
    other = idp.rotate()
    get_runtime().keys.shared.store_keys(configured().source_id, idp.jwks(), clock.now - 10, 300)
    clock.advance(2)
    assert get_key(configured(), idp.keys[0].kid, "RS256") is first
    with pytest.raises(UnknownKey):
        get_key(configured(), other.kid, "RS256")


def test_get_key_ignores_an_unsafe_shared_set(
    idp: LocalIssuer,
    guard: Callable[..., None],
    configured: Callable[..., IssuerConfig],
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bad = {"keys": [{"kty": "oct", "kid": "h", "k": "a" * 64}]}
    get_runtime().keys.shared.store_keys(configured().source_id, bad, clock.now, 300)
    assert get_key(configured(), idp.keys[0].kid, "RS256").kid == idp.keys[0].kid
    assert idp.fetches() == 1
    assert "ignoring the shared keys" in caplog.text


def test_get_key_skips_fetch_when_another_process_refreshed_meanwhile(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig], clock: Clock
) -> None:
    guard(JWKS_MIN_TTL=1)
    idp.cache_control = "max-age=1"
    get_key(configured(), idp.keys[0].kid, "RS256")
    new = idp.rotate()
    clock.advance(1)
    get_runtime().keys.shared.store_keys(configured().source_id, idp.jwks(), clock.now, 1)
    assert get_key(configured(), new.kid, "RS256").kid == new.kid
    assert idp.fetches() == 1


@pytest.mark.usefixtures("clock")
def test_get_key_changed_configuration_never_reuses_cached_keys(
    make_idp: Callable[..., LocalIssuer],
    idp: LocalIssuer,
    guard: Callable[..., None],
    configured: Callable[..., IssuerConfig],
) -> None:
    old = idp.keys[0]
    get_key(configured(), old.kid, "RS256")
    other = make_idp(("ES256",))
    guard(issuers=[other.issuer_settings(issuer=idp.issuer)])
    assert configured().issuer == idp.issuer
    with pytest.raises(UnknownKey):
        get_key(configured(), old.kid, "RS256")
    assert get_key(configured(), other.keys[0].kid, "ES256").kid == other.keys[0].kid
    assert other.fetches() == 1
    assert idp.fetches() == 1


def test_get_key_inline_jwks_is_never_fetched_and_parsed_once(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig]
) -> None:
    guard(issuers=[idp.issuer_settings(jwks=idp.jwks())])
    first = get_key(configured(), idp.keys[0].kid, "RS256")
    assert get_key(configured(), idp.keys[0].kid, "RS256") is first
    with pytest.raises(UnknownKey):
        get_key(configured(), "other", "RS256")
    assert idp.fetches() == 0


def test_get_key_inline_jwks_with_secret_keys_is_unavailable(
    idp: LocalIssuer,
    guard: Callable[..., None],
    configured: Callable[..., IssuerConfig],
    caplog: pytest.LogCaptureFixture,
) -> None:
    guard(issuers=[idp.issuer_settings(jwks={"keys": [{"kty": "oct", "kid": "h", "k": "a" * 64}]})])
    for _ in range(2):
        with pytest.raises(KeysUnavailable):
            get_key(configured(), "h", "RS256")
    assert caplog.text.count("symmetric") == 1


def _secret_issuer(idp: LocalIssuer, secret: str, algorithms: list[str]) -> dict[str, object]:
    return {
        "issuer": idp.issuer,
        "audiences": [idp.audience],
        "algorithms": algorithms,
        "shared_secret": secret,
    }


def test_get_key_shared_secret_serves_hs_algorithms_it_is_long_enough_for(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig]
) -> None:
    secret = "k" * 48
    guard(issuers=[_secret_issuer(idp, secret, ["HS256", "HS384", "HS512"])])
    assert get_key(configured(), None, "HS256").key == secret.encode()
    assert get_key(configured(), "any-kid", "HS384").key == secret.encode()
    with pytest.raises(UnknownKey):
        get_key(configured(), None, "HS512")
    assert idp.fetches() == 0


def test_get_key_shared_secret_too_short_is_unavailable(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig]
) -> None:
    guard(issuers=[_secret_issuer(idp, "k" * 40, ["HS512"])])
    with pytest.raises(KeysUnavailable):
        get_key(configured(), None, "HS512")
    with pytest.raises(WeakKey):
        refresh_now(configured())
    assert key_status(configured()).last_error


def test_get_key_http_without_allow_http_loopback_never_fetches(
    idp: LocalIssuer,
    guard: Callable[..., None],
    configured: Callable[..., IssuerConfig],
    caplog: pytest.LogCaptureFixture,
) -> None:
    guard(ALLOW_HTTP_LOOPBACK=False)
    for _ in range(3):
        with pytest.raises(KeysUnavailable) as info:
            get_key(configured(), idp.keys[0].kid, "RS256")
    assert "ALLOW_HTTP_LOOPBACK" in info.value.reason
    assert idp.fetches() == 0
    assert caplog.text.count("ALLOW_HTTP_LOOPBACK") == 1


def test_refresh_now_fetches_whatever_the_ttl(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig], clock: Clock
) -> None:
    get_key(configured(), idp.keys[0].kid, "RS256")
    new = idp.rotate()
    assert refresh_now(configured()).kids == (idp.keys[0].kid, new.kid)
    assert idp.fetches() == 2
    assert get_key(configured(), new.kid, "RS256").kid == new.kid


def test_refresh_now_failure_raises_and_keeps_the_old_keys(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig], clock: Clock
) -> None:
    get_key(configured(), idp.keys[0].kid, "RS256")
    idp.mode = "down"
    with pytest.raises(KeyFetchError):
        refresh_now(configured())
    assert get_key(configured(), idp.keys[0].kid, "RS256").kid == idp.keys[0].kid
    assert "503" in (key_status(configured()).last_error or "")


def test_refresh_now_refuses_a_misconfigured_issuer(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig]
) -> None:
    guard(ALLOW_HTTP_LOOPBACK=False)
    with pytest.raises(KeyFetchError):
        refresh_now(configured())
    assert idp.fetches() == 0


def test_refresh_now_returns_inline_keys(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig]
) -> None:
    guard(issuers=[idp.issuer_settings(jwks=idp.jwks())])
    assert refresh_now(configured()).kids == (idp.keys[0].kid,)


def test_key_status_reports_keys_and_times(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig], clock: Clock
) -> None:
    guard(JWKS_STALE_WINDOW=1000)
    assert key_status(configured()) == type(key_status(configured()))((), None, None, None, None, None)
    start = clock.now
    get_key(configured(), idp.keys[0].kid, "RS256")
    status = key_status(configured())
    assert status.kids == (idp.keys[0].kid,)
    assert (status.fetched_at, status.expires_at, status.stale_until) == (start, start + 300, start + 1300)
    assert (status.last_attempt_at, status.last_error) == (start, None)
    assert idp.fetches() == 1


def test_key_status_of_misconfigured_and_inline_issuers(
    idp: LocalIssuer, guard: Callable[..., None], configured: Callable[..., IssuerConfig]
) -> None:
    guard(ALLOW_HTTP_LOOPBACK=False)
    assert "ALLOW_HTTP_LOOPBACK" in (key_status(configured()).last_error or "")
    guard(issuers=[idp.issuer_settings(jwks=idp.jwks())])
    assert key_status(configured()).kids == (idp.keys[0].kid,)
