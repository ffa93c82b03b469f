from __future__ import annotations

import logging
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from django.core.checks import CheckMessage, Error, Warning
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client, override_settings
from django.urls import path
from pytest_django import Settings

from django_bearer_guard.checks import check_file_roots, check_settings
from django_bearer_guard.testing import LocalIssuer
from django_bearer_guard.views import ProtectedFileView
from tests.support.client import assert_refused, bearer

ISSUER = {
    "issuer": "https://idp.example/",
    "audiences": ["api"],
    "algorithms": ["RS256"],
    "jwks_uri": "https://idp.example/jwks.json",
}
REDIS = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1"}}


def run(**settings: Any) -> dict[str | None, CheckMessage]:
    with override_settings(BEARER_GUARD=settings, CACHES=REDIS):
        return {m.id: m for m in check_settings()}


def test_check_settings_is_quiet_for_a_good_configuration() -> None:
    assert run(ISSUERS=[ISSUER]) == {}


def test_check_settings_reports_issuer_problem_as_error_naming_setting_and_fix() -> None:
    message = run(ISSUERS=[{**ISSUER, "algorithms": ["none"]}])["bearer_guard.E005"]
    assert isinstance(message, Error)
    assert "ISSUERS[0]" in message.msg and "'none'" in message.msg
    assert message.hint


def test_check_settings_reports_http_key_url_without_loopback_setting() -> None:
    message = run(ISSUERS=[{**ISSUER, "jwks_uri": "http://127.0.0.1:8000/jwks"}])["bearer_guard.E007"]
    assert "ALLOW_HTTP_LOOPBACK" in message.msg


def test_check_settings_warns_without_issuers() -> None:
    assert isinstance(run()["bearer_guard.W001"], Warning)


def test_check_settings_refuses_weak_inline_jwks(make_idp: Callable[..., LocalIssuer]) -> None:
    idp: LocalIssuer = make_idp()
    jwks = idp.jwks()
    jwks["keys"].append(dict(jwks["keys"][0]))
    entry = {**ISSUER, "jwks_uri": None, "jwks": jwks}
    entry.pop("jwks_uri")
    assert "bearer_guard.E012" in run(ISSUERS=[entry])
    assert run(ISSUERS=[{**entry, "jwks": idp.jwks()}]) == {}


def test_check_settings_reports_unknown_cache_alias() -> None:
    assert "bearer_guard.E013" in run(ISSUERS=[ISSUER], CACHE_ALIAS="jwks")


@pytest.mark.parametrize(("debug", "expected"), [(False, True), (True, False)])
def test_check_settings_warns_about_local_memory_cache_in_production(debug: bool, expected: bool) -> None:
    locmem = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    with override_settings(BEARER_GUARD={"ISSUERS": [ISSUER]}, CACHES=locmem, DEBUG=debug):
        assert ("bearer_guard.W002" in {m.id for m in check_settings()}) is expected


def test_check_settings_warns_about_long_leeway() -> None:
    assert isinstance(run(ISSUERS=[ISSUER], LEEWAY=600)["bearer_guard.W003"], Warning)


def test_check_settings_reports_global_problem() -> None:
    assert "bearer_guard.E001" in run(ISSUERS=[ISSUER], JWKS_TTL=3)


HMAC_ISSUER = {"issuer": "https://hmac.example/", "audiences": ["api"], "algorithms": ["HS256"]}
WITHOUT_KEYS = {key: value for key, value in ISSUER.items() if key != "jwks_uri"}


@pytest.mark.parametrize(
    ("check_id", "settings"),
    [
        ("bearer_guard.E001", {"LEWAY": 3}),
        ("bearer_guard.E002", {"LEEWAY": "30"}),
        ("bearer_guard.E003", {"ISSUERS": [{**ISSUER, "leeway": -1}]}),
        ("bearer_guard.E004", {"ISSUERS": [WITHOUT_KEYS]}),
        ("bearer_guard.E005", {"ISSUERS": [{**ISSUER, "algorithms": ["none"]}]}),
        ("bearer_guard.E006", {"ISSUERS": [{**ISSUER, "algorithms": ["RS256", "HS256"]}]}),
        ("bearer_guard.E007", {"ISSUERS": [{**ISSUER, "jwks_uri": "http://idp.example/jwks"}]}),
        ("bearer_guard.E008", {"ISSUERS": [ISSUER, ISSUER]}),
        ("bearer_guard.E009", {"USER_LOOKUP": {"claims": "sub"}}),
        ("bearer_guard.E010", {"SCOPE_PERMISSIONS": {"read": ["view_doc"]}}),
        ("bearer_guard.E011", {"TRANSPORT_IDENTITY": {"source": "magic"}}),
        ("bearer_guard.E011", {"TRANSPORT_IDENTITY": {"source": "xfcc", "trusted_proxies": ["10.0.0.1/8"]}}),
        ("bearer_guard.E011", {"TRANSPORT_IDENTITY": {"source": "xfcc", "trusted_proxies": ["proxy.internal"]}}),
        ("bearer_guard.E011", {"TRANSPORT_IDENTITY": {"source": "xfcc", "trusted_proxies": [10]}}),
        ("bearer_guard.E011", {"TRANSPORT_IDENTITY": {"source": "pem_header", "header": "X-Client Cert"}}),
        ("bearer_guard.E011", {"TRANSPORT_IDENTITY": {"source": "environ", "trusted_proxies": "10.0.0.0/8"}}),
        ("bearer_guard.E002", {"DPOP_NONCE": "yes"}),
        ("bearer_guard.E002", {"DPOP_PROOF_MAX_AGE": 0}),
        ("bearer_guard.E002", {"DPOP_NONCE_LIFETIME": 5}),
        ("bearer_guard.E014", {"ISSUERS": [{**ISSUER, "binding": "cnf"}]}),
        ("bearer_guard.E014", {"ISSUERS": [{**ISSUER, "binding": "workload"}]}),
        ("bearer_guard.E014", {"ISSUERS": [{**HMAC_ISSUER, "shared_secret": "s" * 32, "binding": "dpop"}]}),
        ("bearer_guard.E015", {"JWKS_MIN_TTL": 100, "JWKS_MAX_TTL": 50}),
        ("bearer_guard.E016", {"ISSUERS": ["https://idp.example/"]}),
        ("bearer_guard.E016", {"ISSUERS": ISSUER}),
        ("bearer_guard.E017", {"ISSUERS": [{**ISSUER, "audience": "api"}]}),
        ("bearer_guard.E018", {"ISSUERS": [{**ISSUER, "issuer": ""}]}),
        ("bearer_guard.E019", {"ISSUERS": [{**ISSUER, "audiences": []}]}),
        ("bearer_guard.E022", {"ISSUERS": [{**HMAC_ISSUER, "shared_secret": "short"}]}),
        ("bearer_guard.E023", {"ISSUERS": [{**ISSUER, "jwks_hosts": ["idp.example"]}]}),
        ("bearer_guard.E024", {"USER_LOOKUP": {"field": "nickname"}}),
        ("bearer_guard.E025", {"ISSUERS": [{**ISSUER, "profile": "jwt-svid", "algorithms": ["EdDSA"]}]}),
        ("bearer_guard.E026", {"ISSUERS": [{**ISSUER, "profile": "fapi2", "algorithms": ["PS256"]}]}),
    ],
)
def test_check_settings_reports_each_problem_under_its_own_id(check_id: str, settings: dict[str, Any]) -> None:
    messages = run(**{"ISSUERS": [ISSUER], **settings}).values()
    errors = [message for message in messages if isinstance(message, Error)]
    assert [message.id for message in errors] == [check_id]
    assert errors[0].hint


@pytest.mark.parametrize(
    ("transport", "warning"),
    [
        ({"source": "xfcc"}, "bearer_guard.W005"),
        ({"source": "pem_header", "header": "X-SSL-Client-Cert"}, "bearer_guard.W005"),
        ({"source": "xfcc", "trusted_proxies": ["0.0.0.0/0"]}, "bearer_guard.W009"),
        ({"source": "pem_header", "trusted_proxies": ["10.0.0.0/8", "::/0"]}, "bearer_guard.W009"),
        ({"source": "xfcc", "trusted_proxies": ["10.0.0.0/8", "fd00::/8", "127.0.0.1"]}, None),
        ({"source": "environ"}, None),
    ],
)
def test_check_settings_warns_when_a_proxy_header_is_believed_from_nobody_or_anybody(
    transport: dict[str, Any], warning: str | None
) -> None:
    messages = run(ISSUERS=[ISSUER], TRANSPORT_IDENTITY=transport)
    assert set(messages) == ({warning} if warning else set())
    assert all(not message.is_serious() for message in messages.values())


@pytest.mark.parametrize(
    ("hosts", "warned"), [(["*"], True), (["api.example.com", ".example.com"], True), (["api.example.com"], False)]
)
def test_check_settings_warns_when_a_dpop_issuer_runs_with_any_host(hosts: list[str], warned: bool) -> None:
    with override_settings(ALLOWED_HOSTS=hosts):
        messages = run(ISSUERS=[{**ISSUER, "binding": "dpop"}])
        assert set(messages) == ({"bearer_guard.W010"} if warned else set())
        # Only DPoP binds a request's URL: other issuers are not warned about.
        assert run(ISSUERS=[ISSUER]) == {}


@pytest.mark.parametrize(
    ("backend", "issuer", "expected"),
    [
        ("django.core.cache.backends.dummy.DummyCache", ISSUER, "bearer_guard.W011"),
        ("django.core.cache.backends.dummy.DummyCache", {**ISSUER, "binding": "dpop"}, "bearer_guard.W011"),
        ("django.core.cache.backends.db.DatabaseCache", {**ISSUER, "binding": "dpop"}, "bearer_guard.W012"),
        ("django.core.cache.backends.filebased.FileBasedCache", {**ISSUER, "binding": "dpop"}, "bearer_guard.W012"),
        ("django.core.cache.backends.locmem.LocMemCache", {**ISSUER, "binding": "dpop"}, "bearer_guard.W012"),
        ("django.core.cache.backends.db.DatabaseCache", ISSUER, None),
    ],
)
def test_check_settings_warns_about_a_replay_store_that_forgets_proofs(
    backend: str, issuer: dict[str, Any], expected: str | None
) -> None:
    caches = {"default": {"BACKEND": backend, "LOCATION": "bearer_guard_cache"}}
    with override_settings(BEARER_GUARD={"ISSUERS": [issuer]}, CACHES=caches, ALLOWED_HOSTS=["api.example.com"]):
        found = {m.id for m in check_settings() if m.id in ("bearer_guard.W011", "bearer_guard.W012")}
    assert found == ({expected} if expected else set())


def test_local_memory_replay_store_is_not_warned_about_under_debug() -> None:
    caches = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    issuers = [{**ISSUER, "binding": "dpop"}]
    with override_settings(BEARER_GUARD={"ISSUERS": issuers}, CACHES=caches, DEBUG=True, ALLOWED_HOSTS=["a.example"]):
        assert not [m for m in check_settings() if m.id == "bearer_guard.W012"]


@pytest.mark.parametrize("binding", ["workload", "cnf"])
def test_certificate_binding_with_a_transport_source_is_not_a_check_problem(binding: str) -> None:
    transport = {"source": "xfcc", "trusted_proxies": ["10.0.0.0/8"]}
    assert run(ISSUERS=[{**ISSUER, "binding": binding}], TRANSPORT_IDENTITY=transport) == {}


@pytest.mark.django_db  # Django 6.1 hands every database to the checks
def test_view_declaration_check_is_registered() -> None:
    from django.core.checks import run_checks

    with override_settings(ROOT_URLCONF="tests.testapp.bad_scope_urls", BEARER_GUARD={"ISSUERS": [ISSUER]}):
        ids = {message.id for message in run_checks(tags=["security"])}
    assert {"bearer_guard.E020", "bearer_guard.E021"} <= ids


@pytest.mark.django_db  # Django 6.1 hands every database to the checks
def test_step_up_declaration_checks_are_registered() -> None:
    from django.core.checks import run_checks

    with override_settings(ROOT_URLCONF="tests.testapp.bad_stepup_urls", BEARER_GUARD={"ISSUERS": [ISSUER]}):
        ids = {message.id for message in run_checks(tags=["security"])}
    assert {"bearer_guard.E031", "bearer_guard.E032", "bearer_guard.W016"} <= ids


def test_openapi_extension_is_loaded_when_drf_spectacular_is_installed() -> None:
    pytest.importorskip("drf_spectacular")
    import sys

    assert "django_bearer_guard.contrib.spectacular" in sys.modules


@pytest.mark.parametrize("timeout", [float("nan"), float("inf")])
def test_non_finite_jwks_timeout_is_a_check_error(guard: Callable[..., None], timeout: float) -> None:
    guard(JWKS_TIMEOUT=timeout)
    assert any(isinstance(m, Error) and "JWKS_TIMEOUT" in m.msg for m in check_settings())


def test_user_lookup_on_a_missing_field_is_a_check_error(guard: Callable[..., None]) -> None:
    guard(USER_LOOKUP={"claim": "sub", "field": "no_such_field", "create": False})
    assert any(isinstance(m, Error) and "USER_LOOKUP" in m.msg for m in check_settings())


# Django 6.1 hands every database to the checks, which then read TrustedIssuer rows.
@pytest.mark.django_db
def test_http_key_url_without_loopback_setting_fails_closed_logged_and_checked(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> None:
    guard(ALLOW_HTTP_LOOPBACK=False)
    with caplog.at_level(logging.INFO, logger="django_bearer_guard"):
        assert_refused(bearer(client, idp.mint()), 401, "invalid_token")
    assert idp.fetches() == 0
    assert any(
        "http" in record.getMessage() and record.name.startswith("django_bearer_guard") for record in caplog.records
    )
    assert any(isinstance(m, Error) for m in check_settings())
    with pytest.raises(SystemCheckError):
        call_command("check")


# Django 6.1 hands every database to the checks, which then read TrustedIssuer rows.
@pytest.mark.django_db
def test_global_misconfiguration_fails_closed_not_500(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> None:
    guard(LEEWAY="thirty")
    with caplog.at_level(logging.INFO, logger="django_bearer_guard"):
        assert_refused(bearer(client, idp.mint()), 401, "invalid_token")
    assert any(record.name.startswith("django_bearer_guard") for record in caplog.records)
    assert any(isinstance(m, Error) and "LEEWAY" in m.msg for m in check_settings())
    with pytest.raises(SystemCheckError):
        call_command("check")


def test_check_file_roots_skips_a_route_whose_root_as_view_would_refuse(settings: Settings) -> None:
    # The root changed after as_view() checked it: the check goes on past it instead of crashing.
    class Changed(ProtectedFileView):
        root = "tenants/{claims.sub}"

    changed = Changed.as_view(storage="protected")
    Changed.root = "tenants/{nope}"
    urlconf = ModuleType("changed_urls")
    urlconf.urlpatterns = [  # type: ignore[attr-defined]  # a URLconf module made for this test
        path("changed/<path:path>", changed),
        path("tenant/<path:path>", ProtectedFileView.as_view(storage="protected", root="t/{claims.sub}")),
    ]
    settings.ROOT_URLCONF = urlconf
    settings.BEARER_GUARD = {"ISSUERS": [ISSUER, {**ISSUER, "issuer": "https://other.example/"}]}
    assert [m.msg.split("'")[1] for m in check_file_roots() if m.id == "bearer_guard.W006"] == ["tenant/<path:path>"]
