"""Prometheus metrics: tokens accepted and refused through the DRF views, key fetches, the age of the
keys, the verified-token cache, and ``metrics_view``.

prometheus_client's default registry lives as long as the process, so every test reads how much a
counter moved while it ran, never its value.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

pytest.importorskip("prometheus_client")

from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from django_bearer_guard.contrib import prometheus as metrics
from django_bearer_guard.exceptions import ExpiredToken, InvalidToken, UntrustedIssuer
from django_bearer_guard.jwks.health import STATUSES
from django_bearer_guard.models import TrustedIssuer
from django_bearer_guard.runtime import fetch_now, get_runtime
from django_bearer_guard.signals import token_rejected, token_validated
from django_bearer_guard.testing import Clock, LocalIssuer, generate_key
from django_bearer_guard.tokens import validator
from django_bearer_guard.tokens.validator import TokenValidator

ACCEPTED = "bearer_guard_tokens_accepted_total"
REFUSED = "bearer_guard_tokens_refused_total"
FETCHES = "bearer_guard_key_fetches_total"
AGE = "bearer_guard_keys_age_seconds"
STATUS = "bearer_guard_issuer_status"
HITS = "bearer_guard_token_cache_hits_total"
MISSES = "bearer_guard_token_cache_misses_total"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
Guard = Callable[..., None]


def sample(name: str, **labels: str) -> float | None:
    """The current value of one sample of the default registry (``None``: no such sample)."""
    return REGISTRY.get_sample_value(name, labels)


def counted(name: str, **labels: str) -> Callable[[], float]:
    """How much the sample moved since this call."""
    before = sample(name, **labels) or 0.0
    return lambda: (sample(name, **labels) or 0.0) - before


def refusals() -> dict[tuple[str, str], float]:
    """Every ``(issuer, reason)`` of the refusal counter with its value."""
    return {
        (s.labels["issuer"], s.labels["reason"]): s.value
        for family in REGISTRY.collect()
        for s in family.samples
        if s.name == REFUSED
    }


def refusals_since(before: dict[tuple[str, str], float]) -> dict[tuple[str, str], float]:
    """The refusals counted since ``before``, by ``(issuer, reason)``."""
    now = refusals()
    return {key: value - before.get(key, 0.0) for key, value in now.items() if value != before.get(key, 0.0)}


def get(authorization: str, path: str = "/whoami/") -> int:
    return int(Client().get(path, HTTP_AUTHORIZATION=authorization).status_code)


def test_accepted_tokens_are_counted_by_their_configured_issuer(idp: LocalIssuer, guard: Guard) -> None:
    accepted = counted(ACCEPTED, issuer=idp.issuer)
    assert [get(f"Bearer {idp.mint()}") for _ in range(3)] == [200, 200, 200]
    assert accepted() == 3


def test_an_issuer_removed_before_the_signal_is_counted_as_untrusted(
    idp: LocalIssuer, make_idp: Callable[..., LocalIssuer], guard: Guard
) -> None:
    token = TokenValidator().validate(idp.mint())
    guard(issuers=[make_idp().issuer_settings()])
    untrusted, trusted = counted(ACCEPTED, issuer=metrics.UNTRUSTED), counted(ACCEPTED, issuer=idp.issuer)
    token_validated.send(sender=TokenValidator, token=token, request=None)
    assert (untrusted(), trusted()) == (1, 0)


def test_an_issuer_lookup_that_fails_is_labelled_none_and_never_raises(
    idp: LocalIssuer, guard: Guard, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    raw = idp.mint()
    token = TokenValidator().validate(raw)

    class Refused:
        META: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}

    def broken(iss: str) -> Any:
        raise RuntimeError("registry unreadable")

    monkeypatch.setattr(get_runtime().issuers, "get", broken)
    accepted, before = counted(ACCEPTED, issuer=metrics.NO_ISSUER), refusals()
    token_validated.send(sender=TokenValidator, token=token, request=None)
    token_rejected.send(sender=TokenValidator, error=ExpiredToken("x"), reason="x", request=Refused())
    assert accepted() == 1
    assert refusals_since(before) == {(metrics.NO_ISSUER, "ExpiredToken"): 1}
    assert caplog.text.count("could not look up the issuer") == 2


def test_token_cache_lookups_count_hits_and_misses(idp: LocalIssuer, guard: Guard) -> None:
    hits, misses = counted(HITS), counted(MISSES)
    token = idp.mint()
    assert [get(f"Bearer {token}") for _ in range(3)] == [200, 200, 200]
    assert (misses(), hits()) == (1, 2)


def test_without_the_token_cache_nothing_is_looked_up(idp: LocalIssuer, guard: Guard) -> None:
    guard(TOKEN_CACHE_SIZE=0)
    hits, misses, accepted = counted(HITS), counted(MISSES), counted(ACCEPTED, issuer=idp.issuer)
    token = idp.mint()
    assert [get(f"Bearer {token}") for _ in range(2)] == [200, 200]
    assert (misses(), hits(), accepted()) == (0, 0, 2)


def test_the_validator_without_an_observer_counts_no_lookups(idp: LocalIssuer, guard: Guard) -> None:
    observer, validator.cache_observer = validator.cache_observer, None
    try:
        hits, misses = counted(HITS), counted(MISSES)
        token = idp.mint()
        assert [get(f"Bearer {token}") for _ in range(2)] == [200, 200]
        assert (misses(), hits()) == (0, 0)
    finally:
        validator.cache_observer = observer


def _bad_signature(idp: LocalIssuer) -> str:
    header, payload, _ = idp.mint().split(".")
    return ".".join([header, payload, idp.mint().split(".")[2]])


TRUSTED = "trusted"
REFUSALS: list[tuple[str, Callable[[LocalIssuer], str], int, str, str]] = [
    ("expired", lambda idp: f"Bearer {idp.mint(iat=int(time.time()) - 7200, lifetime=-3600)}", 401,
     "ExpiredToken", TRUSTED),
    ("wrong audience", lambda idp: f"Bearer {idp.mint(aud='https://other.example')}", 401, "WrongAudience",
     TRUSTED),
    ("unknown key", lambda idp: f"Bearer {idp.mint(key=generate_key('RS256'))}", 401, "UnknownKey", TRUSTED),
    ("bad signature", lambda idp: f"Bearer {_bad_signature(idp)}", 401, "BadSignature", TRUSTED),
    ("DPoP scheme, bad signature", lambda idp: f"DPoP {_bad_signature(idp)}", 401, "BadSignature", TRUSTED),
    ("untrusted iss", lambda idp: f"Bearer {idp.mint(iss='https://evil.example/')}", 401, "UntrustedIssuer",
     metrics.UNTRUSTED),
    ("no iss", lambda idp: f"Bearer {idp.mint(iss=None)}", 401, "MissingClaim", metrics.NO_ISSUER),
    ("iss not a string", lambda idp: f"Bearer {idp.mint(iss=['x'])}", 401, "MissingClaim", metrics.NO_ISSUER),
    ("not a JWS", lambda idp: "Bearer abc", 401, "MalformedToken", metrics.NO_ISSUER),
    ("jku header", lambda idp: f"Bearer {idp.mint(headers={'jku': 'https://evil.example/k'})}", 401,
     "ForbiddenHeader", metrics.NO_ISSUER),
    ("oversized", lambda idp: "Bearer " + "a" * 9000, 401, "TokenTooLarge", metrics.NO_ISSUER),
    ("two credentials", lambda idp: "Bearer a, Bearer b", 400, "MalformedCredentials", metrics.NO_ISSUER),
]


@pytest.mark.parametrize(
    ("make", "expected"), [(r[1], r[2:]) for r in REFUSALS], ids=[r[0] for r in REFUSALS]
)
def test_refusals_are_counted_by_issuer_and_reason(
    idp: LocalIssuer,
    guard: Guard,
    make: Callable[[LocalIssuer], str],
    expected: tuple[int, str, str],
) -> None:
    status, reason, issuer = expected
    before = refusals()
    assert get(make(idp)) == status
    label = idp.issuer if issuer == TRUSTED else issuer
    assert refusals_since(before) == {(label, reason): 1}


def test_a_tenants_tokens_are_labelled_with_the_template(idp: LocalIssuer, guard: Guard) -> None:
    template = idp.url + "/{tenantid}/v2.0"
    guard(issuers=[idp.issuer_settings(issuer=template, tenants=[TENANT])])
    accepted, before = counted(ACCEPTED, issuer=template), refusals()
    assert get(f"Bearer {idp.mint(iss=f'{idp.url}/{TENANT}/v2.0', tid=TENANT)}") == 200
    assert get(f"Bearer {idp.mint(iss=f'{idp.url}/{TENANT}/v2.0', tid='someone-else')}") == 401
    assert get(f"Bearer {idp.mint(iss=f'{idp.url}/another-tenant/v2.0', tid='another-tenant')}") == 401
    assert accepted() == 1
    assert refusals_since(before) == {(template, "WrongTenant"): 1, (metrics.UNTRUSTED, "UntrustedIssuer"): 1}


@pytest.mark.django_db(transaction=True)
def test_database_issuers_are_labelled_while_enabled(
    make_idp: Callable[..., LocalIssuer], guard: Guard
) -> None:
    partner, retired = make_idp(), make_idp()
    TrustedIssuer.objects.create(name="Partner", **partner.issuer_settings())
    TrustedIssuer.objects.create(name="Retired", enabled=False, **retired.issuer_settings())
    accepted, before = counted(ACCEPTED, issuer=partner.issuer), refusals()
    assert get(f"Bearer {partner.mint()}") == 200
    assert get(f"Bearer {retired.mint()}") == 401
    assert accepted() == 1
    assert refusals_since(before) == {(metrics.UNTRUSTED, "UntrustedIssuer"): 1}


def test_a_subclass_of_a_refusal_is_counted_as_the_librarys_class(idp: LocalIssuer, guard: Guard) -> None:
    class ProjectExpired(ExpiredToken):
        pass

    class Foreign(Exception):
        pass

    before = refusals()
    token_rejected.send(sender=Foreign, error=ProjectExpired("x"), reason="x", request=None)
    token_rejected.send(sender=Foreign, error=Foreign("x"), reason="x", request=None)
    token_rejected.send(sender=Foreign, error=UntrustedIssuer("x"), reason="x", request=None)
    expected = {(metrics.NO_ISSUER, "ExpiredToken"): 1, (metrics.NO_ISSUER, "other"): 1,
                (metrics.UNTRUSTED, "UntrustedIssuer"): 1}
    assert refusals_since(before) == expected


def test_a_credential_the_metrics_cannot_read_is_labelled_none_and_logged(
    idp: LocalIssuer, guard: Guard, caplog: pytest.LogCaptureFixture
) -> None:
    class Odd:
        META: dict[str, Any] = {"HTTP_AUTHORIZATION": b"Bearer abc"}

    before = refusals()
    token_rejected.send(sender=Odd, error=InvalidToken("x"), reason="x", request=Odd())
    assert refusals_since(before) == {(metrics.NO_ISSUER, "InvalidToken"): 1}
    assert "could not read the refused credential" in caplog.text


def test_key_fetches_are_counted_by_outcome(idp: LocalIssuer, guard: Guard) -> None:
    guard(PREFETCH_KEYS=False)
    fetched, failed = counted(FETCHES, issuer=idp.issuer, outcome="fetched"), counted(
        FETCHES, issuer=idp.issuer, outcome="failed"
    )
    assert get(f"Bearer {idp.mint()}") == 200
    assert (fetched(), failed()) == (1, 0)
    idp.mode = "down"
    fetch_now(get_runtime().issuers.get(idp.issuer))
    assert (fetched(), failed()) == (1, 1)
    # The last good keys still serve.
    assert get(f"Bearer {idp.mint()}") == 200


def test_an_issuer_down_from_the_start_counts_failed_fetches(idp: LocalIssuer, guard: Guard) -> None:
    guard(PREFETCH_KEYS=False)
    idp.mode = "down"
    failed, before = counted(FETCHES, issuer=idp.issuer, outcome="failed"), refusals()
    assert get(f"Bearer {idp.mint()}") == 401
    assert failed() == 1
    assert refusals_since(before) == {(idp.issuer, "KeysUnavailable"): 1}
    assert sample(AGE, issuer=idp.issuer) == math.inf


def test_keys_age_counts_from_the_last_good_fetch(idp: LocalIssuer, guard: Guard, clock: Clock) -> None:
    guard(PREFETCH_KEYS=False)
    assert sample(AGE, issuer=idp.issuer) == math.inf
    assert get(f"Bearer {idp.mint()}") == 200
    assert sample(AGE, issuer=idp.issuer) == 0
    clock.advance(120)
    assert sample(AGE, issuer=idp.issuer) == 120
    idp.mode = "down"
    fetch_now(get_runtime().issuers.get(idp.issuer))
    clock.advance(30)
    # A failed fetch leaves the last good one as it was.
    assert sample(AGE, issuer=idp.issuer) == 150
    idp.mode = "ok"
    fetch_now(get_runtime().issuers.get(idp.issuer))
    assert sample(AGE, issuer=idp.issuer) == 0


def test_keys_age_leaves_out_issuers_whose_keys_are_not_fetched(
    idp: LocalIssuer, make_idp: Callable[..., LocalIssuer], guard: Guard
) -> None:
    inline = make_idp()
    guard(issuers=[idp.issuer_settings(), inline.issuer_settings(jwks=inline.jwks())], PREFETCH_KEYS=False)
    assert sample(AGE, issuer=idp.issuer) == math.inf
    assert sample(AGE, issuer=inline.issuer) is None


def test_keys_age_reads_the_keys_another_process_fetched(idp: LocalIssuer, guard: Guard) -> None:
    guard(PREFETCH_KEYS=False)
    config = get_runtime().issuers.get(idp.issuer)
    get_runtime().keys.refresh_now(config)
    # A new runtime has no keys of its own: only the shared cache knows of the fetch.
    guard(PREFETCH_KEYS=False, LEEWAY=31)
    assert get_runtime().keys.snapshot(config).keys is None
    age = sample(AGE, issuer=idp.issuer)
    assert age is not None and 0 <= age < 5


def status_of(issuer: str) -> list[str]:
    """The statuses the status metric sets to 1 for ``issuer`` (one, when all is well)."""
    return [
        s.labels["status"]
        for family in REGISTRY.collect()
        for s in family.samples
        if s.name == STATUS and s.labels["issuer"] == issuer and s.value == 1
    ]


def test_issuer_status_follows_the_keys(idp: LocalIssuer, guard: Guard, clock: Clock) -> None:
    guard(PREFETCH_KEYS=False)
    assert status_of(idp.issuer) == ["not fetched yet"]
    assert get(f"Bearer {idp.mint()}") == 200
    assert status_of(idp.issuer) == ["healthy"]
    idp.mode = "down"
    fetch_now(get_runtime().issuers.get(idp.issuer))
    assert status_of(idp.issuer) == ["stale"]
    clock.advance(300 + 86400 + 1)
    assert status_of(idp.issuer) == ["failing"]
    samples = [s for family in REGISTRY.collect() for s in family.samples
               if s.name == STATUS and s.labels["issuer"] == idp.issuer]
    assert sorted(s.labels["status"] for s in samples) == sorted(STATUSES)


@pytest.mark.django_db(transaction=True)
def test_issuer_status_names_misconfigured_disabled_and_inline_issuers(
    idp: LocalIssuer, make_idp: Callable[..., LocalIssuer], guard: Guard
) -> None:
    inline, retired, plain_http = make_idp(), make_idp(), make_idp()
    TrustedIssuer.objects.create(name="Retired", enabled=False, **retired.issuer_settings())
    guard(issuers=[inline.issuer_settings(jwks=inline.jwks()), plain_http.issuer_settings()],
          ALLOW_HTTP_LOOPBACK=False, PREFETCH_KEYS=False)
    assert status_of(inline.issuer) == ["healthy"]
    assert status_of(retired.issuer) == ["disabled"]
    assert status_of(plain_http.issuer) == ["misconfigured"]
    # No key age: disabled, or no key URL the library would fetch from (the status says why).
    assert sample(AGE, issuer=retired.issuer) is None
    assert sample(AGE, issuer=plain_http.issuer) is None


def families(content: bytes) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(content.decode())}


@pytest.mark.urls("tests.contrib.prometheus_urls")
def test_metrics_view_serves_the_counts_the_views_made(idp: LocalIssuer, guard: Guard) -> None:
    guard(PREFETCH_KEYS=False)
    before = families(Client().get("/metrics/").content)
    assert get(f"Bearer {idp.mint()}") == 200
    assert get(f"Bearer {idp.mint(aud='https://other.example')}") == 401
    response = Client().get("/metrics/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    after = families(response.content)

    def value(found: dict[str, Any], family: str, name: str, **labels: str) -> float:
        matching = [s.value for s in found[family].samples if s.name == name and s.labels == labels]
        return float(matching[0]) if matching else 0.0

    def moved(family: str, name: str, **labels: str) -> float:
        return value(after, family, name, **labels) - value(before, family, name, **labels)

    assert moved("bearer_guard_tokens_accepted", ACCEPTED, issuer=idp.issuer) == 1
    assert moved("bearer_guard_tokens_refused", REFUSED, issuer=idp.issuer, reason="WrongAudience") == 1
    assert moved("bearer_guard_key_fetches", FETCHES, issuer=idp.issuer, outcome="fetched") == 1
    assert 0 <= value(after, AGE, AGE, issuer=idp.issuer) < 5
    assert after[AGE].type == "gauge"
    assert value(after, STATUS, STATUS, issuer=idp.issuer, status="healthy") == 1


@pytest.mark.urls("tests.contrib.prometheus_urls")
def test_metrics_view_speaks_openmetrics_when_asked(idp: LocalIssuer, guard: Guard) -> None:
    response = Client().get("/metrics/", HTTP_ACCEPT="application/openmetrics-text; version=1.0.0")
    assert response["Content-Type"].startswith("application/openmetrics-text")
    assert response.content.endswith(b"# EOF\n")
    assert Client().post("/metrics/").status_code == 405


@pytest.mark.urls("tests.contrib.prometheus_urls")
def test_metrics_view_in_multiprocess_mode_reads_the_directory(
    idp: LocalIssuer, guard: Guard, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    # This process counts in memory: with the directory empty, no worker has counted anything.
    assert get(f"Bearer {idp.mint()}") == 200
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    found = families(Client().get("/metrics/").content)
    assert "bearer_guard_tokens_accepted" not in found
    assert [s.labels for s in found[AGE].samples] == [{"issuer": idp.issuer}]
    assert {s.labels["status"] for s in found[STATUS].samples if s.value == 1} == {"healthy"}
