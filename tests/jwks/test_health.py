from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import caches as django_caches
from django.test import override_settings

from django_bearer_guard import conf
from django_bearer_guard.issuers.config import IssuerConfig
from django_bearer_guard.jwks import cache
from django_bearer_guard.jwks.cache import history_key
from django_bearer_guard.jwks.health import STATUSES, IssuerHealth
from django_bearer_guard.models import TrustedIssuer
from django_bearer_guard.runtime import all_health, fetch_now, get_key, get_runtime, health_of_row, issuer_health
from django_bearer_guard.signals import keys_fetched
from django_bearer_guard.testing import Clock, LocalIssuer
from tests.support.services import services_required

ROOT = Path(__file__).resolve().parents[2]


def rfc7638(jwk: dict[str, Any]) -> str:
    members = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x")}[jwk["kty"]]
    canonical = json.dumps({name: jwk[name] for name in members}, sort_keys=True, separators=(",", ":"))
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def health(index: int = 0) -> IssuerHealth:
    return issuer_health(conf.get_settings().issuers[index])


def test_statuses_are_the_documented_seven() -> None:
    assert STATUSES == ("healthy", "stale", "failing", "misconfigured", "disabled", "shadowed", "not fetched yet")


def test_issuer_never_fetched_is_not_fetched_yet_and_health_does_not_fetch(
    idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    assert health().status == "not fetched yet"
    assert idp.fetches() == 0


def test_fetched_issuer_is_healthy_with_its_keys_described_without_key_material(
    make_idp: Callable[..., LocalIssuer], guard: Callable[..., None], clock: Clock
) -> None:
    idp = make_idp(algorithms=("RS256", "ES256", "EdDSA"))
    guard(issuers=[idp.issuer_settings()])
    get_key(conf.get_settings().issuers[0], idp.keys[0].kid, "RS256")
    result = health()
    assert result.status == "healthy" and result.source == "jwks_uri" and result.origin == "settings"
    published = {jwk["kid"]: jwk for jwk in idp.jwks()["keys"]}
    assert [(k.kid, k.kty, k.crv, k.size, k.thumbprint) for k in result.keys] == [
        (kid, jwk["kty"], jwk.get("crv"), 2048 if jwk["kty"] == "RSA" else None, rfc7638(jwk))
        for kid, jwk in published.items()
    ]
    assert result.last_success_at == result.last_attempt_at == clock.now
    assert result.expires_at == clock.now + 300 and result.stale_until == clock.now + 300 + 86400
    assert [(e.outcome, e.trigger) for e in result.history] == [("fetched", "expiry")]
    assert "'n'" not in repr(result) and published[idp.keys[0].kid]["n"] not in repr(result)


def test_failed_refresh_with_good_keys_left_is_stale_then_failing_past_the_window(
    idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    guard(JWKS_STALE_WINDOW=600)
    config = conf.get_settings().issuers[0]
    fetch_now(config, who="alice")
    idp.mode = "down"
    clock.advance(10)
    result = fetch_now(config, who="alice")
    assert result.status == "stale" and "503" in (result.last_error or "")
    assert [(e.outcome, e.trigger) for e in result.history] == [("failed", "manual"), ("fetched", "manual")]
    assert result.keys  # the last good keys still serve
    clock.advance(300 + 600)
    assert health().status == "failing"


def test_unreachable_issuer_without_keys_is_failing(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    idp.mode = "garbage"
    result = fetch_now(conf.get_settings().issuers[0])
    assert result.status == "failing" and result.last_success_at is None and not result.keys


def test_misconfigured_issuers_report_their_problems(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    guard(ALLOW_HTTP_LOOPBACK=False)
    result = health()
    assert result.status == "misconfigured" and any("ALLOW_HTTP_LOOPBACK" in p for p in result.problems)
    guard(issuers=[idp.issuer_settings(jwks_uri=None, jwks={"keys": [{"kty": "oct", "k": "a" * 64}]})])
    inline = health()
    assert inline.status == "misconfigured" and inline.source == "inline jwks" and inline.problems


def test_inline_keys_are_healthy_without_any_fetch(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    guard(issuers=[idp.issuer_settings(jwks_uri=None, jwks=idp.jwks())])
    result = health()
    assert result.status == "healthy" and [k.kid for k in result.keys] == [idp.keys[0].kid]
    assert idp.fetches() == 0


def test_shared_secret_is_described_without_a_thumbprint(guard: Callable[..., None]) -> None:
    secret = "s" * 32
    guard(issuers=[{"issuer": "https://hs.example/", "audiences": ["a"], "algorithms": ["HS256"],
                    "shared_secret": secret}])
    (key,) = health().keys
    assert key.kty == "oct" and key.thumbprint is None
    assert health().source == "shared secret"


def test_disabled_issuer_is_disabled(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    config = IssuerConfig(issuer=idp.issuer, audiences=("a",), algorithms=("RS256",), jwks_uri=idp.url, enabled=False)
    assert issuer_health(config).status == "disabled"


@pytest.mark.django_db
def test_rows_are_listed_after_the_settings_and_a_shadowed_row_says_so(
    idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    shadow = TrustedIssuer.objects.create(name="shadow", **idp.issuer_settings())
    other = TrustedIssuer.objects.create(name="other", **idp.issuer_settings(issuer="https://other.example/"))
    assert health_of_row(shadow).status == "shadowed"
    assert [(h.config.issuer, h.origin, h.status) for h in all_health()] == [
        (idp.issuer, "settings", "not fetched yet"),
        (other.issuer, "database", "not fetched yet"),
        (idp.issuer, "database", "shadowed"),
    ]


def test_every_fetch_sends_keys_fetched(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    sent: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        sent.append({k: kwargs[k] for k in ("issuer", "outcome", "kids", "error")})

    keys_fetched.connect(receiver)
    try:
        config = conf.get_settings().issuers[0]
        fetch_now(config)
        idp.mode = "down"
        fetch_now(config)
    finally:
        keys_fetched.disconnect(receiver)
    assert sent[0] == {"issuer": idp.issuer, "outcome": "fetched", "kids": (idp.keys[0].kid,), "error": None}
    assert sent[1]["outcome"] == "failed" and sent[1]["kids"] == () and "503" in sent[1]["error"]


def test_manual_fetch_is_logged_with_who_asked(
    idp: LocalIssuer, guard: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> None:
    idp.mode = "down"
    with caplog.at_level("INFO", logger="django_bearer_guard"):
        fetch_now(conf.get_settings().issuers[0], who="alice")
    assert "on request of 'alice'" in caplog.text and "failed" in caplog.text


def test_history_keeps_the_newest_twenty_attempts(idp: LocalIssuer, guard: Callable[..., None], clock: Clock) -> None:
    config = conf.get_settings().issuers[0]
    for _ in range(25):
        fetch_now(config)
        clock.advance(1)
    result = health()
    assert len(result.history) == 20 and result.history[0].at == clock.now - 1


def test_health_recorded_by_another_process_is_read_here(
    idp: LocalIssuer, guard: Callable[..., None], tmp_path: Path
) -> None:
    # Redis under BG_SERVICES=1; otherwise a file cache both processes open.
    caches = settings.CACHES if services_required() else {
        "default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(tmp_path)}
    }
    guard_setting = {"ALLOW_HTTP_LOOPBACK": True, "ISSUERS": [idp.issuer_settings()]}
    env = {**os.environ, "BG_GUARD": json.dumps(guard_setting), "BG_CACHES": json.dumps(caches),
           "DJANGO_SETTINGS_MODULE": "tests.support.process_settings", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "django", "bearer_guard_refresh_keys"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    with override_settings(CACHES=caches):
        result = health()
    assert result.status == "healthy" and [k.kid for k in result.keys] == [idp.keys[0].kid]
    assert [(e.outcome, e.trigger) for e in result.history] == [("fetched", "manual")]
    assert idp.fetches() == 1  # fetched by the other process only


def test_rotated_keys_show_in_the_health_after_a_refetch(
    idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    config = conf.get_settings().issuers[0]
    fetch_now(config)
    new = idp.rotate()
    fetch_now(config)
    assert [k.kid for k in health().keys] == [idp.keys[0].kid, new.kid]
    assert [e.kids for e in health().history] == [(idp.keys[0].kid, new.kid), (idp.keys[0].kid,)]


def test_discovery_issuer_names_its_source(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    guard(issuers=[idp.issuer_settings(jwks_uri=None, discovery=True)])
    assert health().source == "discovery"


def test_history_entries_not_shaped_as_recorded_are_left_out(
    idp: LocalIssuer, guard: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> None:
    config = conf.get_settings().issuers[0]
    shared = get_runtime().keys.shared
    shared.record(config.source_id, {"at": "soon", "outcome": "failed", "kids": [], "trigger": "manual"})
    assert health().history == ()
    key = history_key(config.source_id)
    django_caches["default"].set(key, cache._seal(cache._signer(), key, {"events": "many", "last_success_at": 1.0}))
    with caplog.at_level("WARNING", logger="django_bearer_guard"):
        assert shared.read_history(config.source_id) == ([], None)
    assert "unexpected shape" in caplog.text
