"""Throttling per caller: DRF's ``UserRateThrottle`` on ``TokenUser.pk`` and ``TokenRateThrottle``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth import get_user_model, login
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import models, transaction
from django.test import Client, RequestFactory, override_settings

from django_bearer_guard._declarations import InvalidDeclaration, throttle_rates_by_scope
from django_bearer_guard.checks import check_throttle_declarations
from django_bearer_guard.identity.principal import TokenUser
from django_bearer_guard.testing import Clock, LocalIssuer
from django_bearer_guard.throttling import TokenRateThrottle
from django_bearer_guard.tokens.verified import VerifiedToken
from tests.support.live import free_port

pytestmark = pytest.mark.urls("tests.throttle_urls")


def rates(**values: str | None) -> override_settings:
    return override_settings(REST_FRAMEWORK={"DEFAULT_THROTTLE_RATES": values})


def statuses(idp: LocalIssuer, path: str, count: int, **claims: Any) -> list[int]:
    """``count`` requests to ``path``, each with a fresh token of ``idp`` carrying ``claims``."""
    client = Client()
    return [client.get(path, HTTP_AUTHORIZATION=f"Bearer {idp.mint(**claims)}").status_code for _ in range(count)]


def token_user(issuer: str = "https://idp.example.test/", sub: Any = "alice") -> TokenUser:
    token = VerifiedToken(claims={"sub": sub}, header={}, issuer=issuer, scopes=frozenset(), workload=None,
                          token_id=None, expires_at=0.0)
    return TokenUser(token)


@pytest.fixture
def two_idps(make_idp: Callable[..., LocalIssuer], guard: Callable[..., None]) -> tuple[LocalIssuer, LocalIssuer]:
    first, second = make_idp(), make_idp()
    guard(issuers=[first.issuer_settings(), second.issuer_settings()])
    return first, second


# -- TokenUser.pk ----------------------------------------------------------------------------


def test_token_user_pk_is_a_fixed_length_string_per_issuer_and_subject() -> None:
    alice = token_user()
    assert alice.pk.startswith("token:") and len(alice.pk) == len("token:") + 64
    assert alice.pk == token_user().pk == alice.id
    assert alice.pk != token_user(sub="bob").pk
    assert alice.pk != token_user(issuer="https://partner.example.test/").pk
    # Equal users share a pk: a subject that is not a string is no subject, as for username.
    assert token_user(sub=42) == token_user(sub="") and token_user(sub=42).pk == token_user(sub="").pk
    assert len(token_user(sub="x" * 5000).pk) == len(alice.pk)


def test_token_user_pk_cannot_be_spliced_from_issuer_and_subject() -> None:
    assert token_user("https://a/", "b:c").pk != token_user("https://a/b", ":c").pk
    assert token_user("https://a/", '","').pk != token_user('https://a/","', "").pk


@pytest.mark.parametrize("field", [models.BigAutoField(), models.IntegerField(), models.UUIDField()])
def test_token_user_pk_is_no_integer_or_uuid_primary_key(field: models.Field[Any, Any]) -> None:
    with pytest.raises((ValueError, ValidationError)):
        field.get_prep_value(token_user().pk)


@pytest.mark.django_db
def test_orm_lookups_with_a_token_user_fail_loudly_instead_of_matching_rows() -> None:
    user = get_user_model().objects.create(username="token")
    LogEntry.objects.create(user=user, object_id="1", object_repr="doc", action_flag=ADDITION)
    caller = token_user()
    with pytest.raises(ValueError, match="expected a number"):
        get_user_model().objects.get(pk=caller.pk)
    with pytest.raises(ValueError, match="expected a number"):
        list(LogEntry.objects.filter(user_id=caller.pk))
    with pytest.raises((TypeError, ValueError)):
        list(LogEntry.objects.filter(user=caller))
    # Django's user names cannot hold ':', so a lookup by name matches no account either.
    assert not get_user_model().objects.filter(username=caller.pk).exists()
    with pytest.raises(ValueError, match="expected a number"), transaction.atomic():
        LogEntry.objects.create(user_id=caller.pk, object_id="1", object_repr="doc", action_flag=ADDITION)
    assert LogEntry.objects.count() == 1


def test_token_user_cannot_be_logged_in_nor_equal_the_anonymous_user() -> None:
    request = RequestFactory().get("/")
    request.session = {}  # type: ignore[assignment]
    with pytest.raises(AttributeError):
        login(request, token_user())  # type: ignore[arg-type]
    assert token_user() != AnonymousUser()
    assert AnonymousUser() != token_user()


# -- DRF's UserRateThrottle ------------------------------------------------------------------


def test_user_rate_throttle_gives_each_token_caller_its_own_bucket(idp: LocalIssuer, guard: Any) -> None:
    assert statuses(idp, "/user-3/", 4, sub="alice") == [200, 200, 200, 429]
    assert statuses(idp, "/user-3/", 3, sub="bob") == [200, 200, 200]


def test_user_rate_throttle_keeps_issuers_apart(two_idps: tuple[LocalIssuer, LocalIssuer]) -> None:
    first, second = two_idps
    assert statuses(first, "/user-3/", 4, sub="alice") == [200, 200, 200, 429]
    assert statuses(second, "/user-3/", 3, sub="alice") == [200, 200, 200]


# -- TokenRateThrottle: the default bucket ---------------------------------------------------


def test_token_rate_comes_from_default_throttle_rates(idp: LocalIssuer, guard: Any) -> None:
    with rates(bearer_token="2/min"):
        assert statuses(idp, "/token/", 3, sub="alice") == [200, 200, 429]
        assert statuses(idp, "/token/", 2, sub="bob") == [200, 200]


def test_without_a_bearer_token_rate_the_view_raises_drfs_improperly_configured(idp: LocalIssuer, guard: Any) -> None:
    with rates(user="5/min"), pytest.raises(ImproperlyConfigured, match="'bearer_token'"):
        statuses(idp, "/token/", 1)


def test_a_rate_of_none_switches_the_default_bucket_off(idp: LocalIssuer, guard: Any) -> None:
    with rates(bearer_token=None):
        assert statuses(idp, "/token/", 5) == [200] * 5
        # Listed scopes still count.
        assert statuses(idp, "/reports-default/", 3, scope="reports:read") == [200, 200, 429]


def test_a_subclass_rate_wins_and_the_refusal_says_when_to_retry(idp: LocalIssuer, guard: Any) -> None:
    with rates():
        assert statuses(idp, "/token-3/", 3) == [200, 200, 200]
        refused = Client().get("/token-3/", HTTP_AUTHORIZATION=f"Bearer {idp.mint()}")
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60


def test_a_subclass_may_bring_its_own_rates_or_must_name_a_scope() -> None:
    class OwnRates(TokenRateThrottle):
        THROTTLE_RATES = {"bearer_token": "7/hour"}

    class NoScope(TokenRateThrottle):
        scope = None  # type: ignore[assignment]

    assert (OwnRates().num_requests, OwnRates().duration) == (7, 3600)
    with pytest.raises(ImproperlyConfigured, match="scope"):
        NoScope()


def test_the_window_slides_on_the_library_clock(idp: LocalIssuer, guard: Any, clock: Clock) -> None:
    assert statuses(idp, "/token-3/", 4) == [200, 200, 200, 429]
    clock.advance(59)
    assert statuses(idp, "/token-3/", 1) == [429]
    clock.advance(2)
    assert statuses(idp, "/token-3/", 4) == [200, 200, 200, 429]


def test_token_rate_throttle_keeps_issuers_apart(two_idps: tuple[LocalIssuer, LocalIssuer]) -> None:
    first, second = two_idps
    assert statuses(first, "/token-3/", 4, sub="alice") == [200, 200, 200, 429]
    assert statuses(second, "/token-3/", 3, sub="alice") == [200, 200, 200]


def test_a_workload_is_the_caller_when_the_token_names_one(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    guard(issuers=[idp.issuer_settings(workload_claim="client_id")])
    # One client acting for several users: one bucket.
    assert statuses(idp, "/token-3/", 2, client_id="billing", sub="alice") == [200, 200]
    assert statuses(idp, "/token-3/", 2, client_id="billing", sub="bob") == [200, 429]
    # A token without the workload claim is its subject, never a workload of the same spelling.
    assert statuses(idp, "/token-3/", 3, client_id=None, sub="billing") == [200, 200, 200]


def test_requests_without_a_token_are_not_throttled_by_it(idp: LocalIssuer, guard: Any) -> None:
    assert [Client().get("/open/").status_code for _ in range(5)] == [200] * 5
    assert statuses(idp, "/open/", 4) == [200, 200, 200, 429]


@pytest.mark.django_db
def test_session_users_are_not_throttled_by_it() -> None:
    client = Client()
    client.force_login(get_user_model().objects.create(username="staff"))
    assert [client.get("/open/").status_code for _ in range(5)] == [200] * 5


def test_an_unanswering_shared_cache_leaves_requests_unthrottled(
    idp: LocalIssuer, guard: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> None:
    down = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": f"redis://127.0.0.1:{free_port()}/0"}
    caches = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}, "throttle-down": down}
    guard(CACHE_ALIAS="throttle-down", PREFETCH_KEYS=False)
    with override_settings(CACHES=caches), caplog.at_level(logging.WARNING, "django_bearer_guard"):
        assert statuses(idp, "/token-3/", 5) == [200] * 5
    assert any("shared cache 'throttle-down' unusable" in record.getMessage() for record in caplog.records)


# -- TokenRateThrottle: rates per scope ------------------------------------------------------


def test_a_listed_scope_has_its_own_rate_and_bucket(idp: LocalIssuer, guard: Any) -> None:
    assert statuses(idp, "/reports/", 3, scope="reports:read") == [200, 200, 429]
    # The default bucket of the same caller is untouched.
    assert statuses(idp, "/reports/", 4, scope="other") == [200, 200, 200, 429]
    assert statuses(idp, "/reports/", 6, scope="reports:bulk") == [200] * 5 + [429]


def test_several_listed_scopes_all_apply_and_a_refusal_counts_in_none(idp: LocalIssuer, guard: Any) -> None:
    assert statuses(idp, "/reports/", 3, scope="reports:read reports:bulk") == [200, 200, 429]
    # The refused request was not counted in the bulk bucket: 2 of 5 are spent.
    assert statuses(idp, "/reports/", 4, scope="reports:bulk") == [200, 200, 200, 429]


def test_a_scope_rated_zero_is_refused_without_a_retry_time(idp: LocalIssuer, guard: Any) -> None:
    refused = Client().get("/reports/", HTTP_AUTHORIZATION=f"Bearer {idp.mint(scope='reports:frozen')}")
    assert refused.status_code == 429
    assert "Retry-After" not in refused


@pytest.mark.urls("tests.throttle_bad_urls")
def test_an_unreadable_declaration_refuses_every_token_request_logged(
    idp: LocalIssuer, guard: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, "django_bearer_guard.throttling"):
        refused = Client().get("/misspelt/", HTTP_AUTHORIZATION=f"Bearer {idp.mint()}")
    assert refused.status_code == 429 and "Retry-After" not in refused
    assert [record.getMessage() for record in caplog.records] == [
        "MisspeltPeriod: throttle_rates_by_scope['reports:read'] is '2/fortnight', not a rate such as '100/min'; "
        "request refused"
    ]


@pytest.mark.parametrize(
    ("declared", "parsed"),
    [
        (None, {}),
        ({}, {}),
        ({"a": "0/s", "b": "1/sec", "c": "10/m", "d": "99/min", "e": "5/h", "f": "5/hour", "g": "1/d", "h": "2/day"},
         {"a": (0, 1), "b": (1, 1), "c": (10, 60), "d": (99, 60), "e": (5, 3600), "f": (5, 3600), "g": (1, 86400),
          "h": (2, 86400)}),
    ],
)
def test_throttle_rates_by_scope_reads_drf_rates(declared: Any, parsed: dict[str, tuple[int, int]]) -> None:
    view = type("View", (), {"throttle_rates_by_scope": declared})
    assert throttle_rates_by_scope(view) == parsed


@pytest.mark.parametrize(
    "declared",
    [
        [("a", "1/min")], "a=1/min", {"": "1/min"}, {"a b": "1/min"}, {1: "1/min"}, {"a": 100}, {"a": None},
        {"a": "1/minute"}, {"a": "1/fortnight"}, {"a": "1/"}, {"a": "/min"}, {"a": "-1/min"}, {"a": "01/min"},
        {"a": " 1/min"}, {"a": "1/min "}, {"a": "\u0661/min"}, {"a": "1/MIN"}, {"a": "1/10m"}, {"a": "1234567890/s"},
    ],
)
def test_throttle_rates_by_scope_refuses_what_it_cannot_read(declared: Any) -> None:
    view = type("View", (), {"throttle_rates_by_scope": declared})
    with pytest.raises(InvalidDeclaration, match="throttle_rates_by_scope"):
        throttle_rates_by_scope(view)


# -- bearer_guard.E033 -----------------------------------------------------------------------


def test_check_throttle_declarations_passes_good_urls() -> None:
    assert check_throttle_declarations() == []


@override_settings(ROOT_URLCONF="tests.throttle_bad_urls")
def test_check_throttle_declarations_reports_each_unreadable_declaration() -> None:
    messages = check_throttle_declarations()
    prefix = "tests.throttle_bad_urls."
    consequence = " The rates meant for its scopes cannot be applied, so every request with a token is refused (429)."
    assert [(m.id, m.msg) for m in messages] == [
        ("bearer_guard.E033", f"{prefix}RatesAsList at 'as-list/' uses TokenRateThrottle with an invalid declaration: "
         "throttle_rates_by_scope must be a dict, not list." + consequence),
        ("bearer_guard.E033", f"{prefix}MisspeltPeriod at 'misspelt/' uses TokenRateThrottle with an invalid "
         "declaration: throttle_rates_by_scope['reports:read'] is '2/fortnight', not a rate such as '100/min'."
         + consequence),
        ("bearer_guard.E033", "tests.throttle_urls.Reports at 'numeric-rate/' uses TokenRateThrottle with an invalid "
         "declaration: throttle_rates_by_scope['reports:read'] is 100, not a rate such as '100/min'." + consequence),
    ]
    assert all(m.is_serious() and m.hint and "'100/min'" in m.hint for m in messages)
    assert messages[0].obj.__name__ == "RatesAsList"


@pytest.mark.django_db  # Django 6.1 hands every database to the checks
def test_throttle_declaration_check_is_registered() -> None:
    from django.core.checks import run_checks

    with override_settings(ROOT_URLCONF="tests.throttle_bad_urls"):
        ids = [message.id for message in run_checks(tags=["security"])]
    assert ids.count("bearer_guard.E033") == 3

