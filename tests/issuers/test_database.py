from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import caches
from django.db import connection
from django.test import override_settings
from rest_framework.test import APIClient

from django_bearer_guard.checks import check_settings
from django_bearer_guard.issuers import database, registry
from django_bearer_guard.models import TrustedIssuer
from django_bearer_guard.testing import Clock, LocalIssuer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _rows_only(guard: Callable[..., None], clock: Clock) -> None:
    """No issuers in the settings (a test may add some): only rows trust anyone."""
    guard(ISSUERS=[])


@pytest.fixture
def committed(django_capture_on_commit_callbacks: Any) -> Callable[..., Any]:
    """A context in which the on-commit callbacks (the stamp bump) run as in production."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def make_row(idp: LocalIssuer, committed: Callable[..., Any]) -> Callable[..., TrustedIssuer]:
    def make(**overrides: Any) -> TrustedIssuer:
        with committed():
            row: TrustedIssuer = TrustedIssuer.objects.create(**idp.issuer_settings(**overrides))
        return row

    return make


def status(token: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = client.get("/whoami/")
    return int(response.status_code)


def drop_table() -> None:
    # Inside the test's transaction: rolled back afterwards.
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {TrustedIssuer._meta.db_table}")


def other_process_bumps() -> None:
    """Change the shared stamp as another process's save would, without touching this one."""
    caches["default"].set(database.STAMP_KEY, uuid.uuid4().hex, None)


def test_database_issuer_tokens_are_accepted_end_to_end(
    idp: LocalIssuer, make_row: Callable[..., TrustedIssuer]
) -> None:
    make_row(name="Local IdP")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {idp.mint(scope='files:read', sub='svc-db')}")
    response = client.get("/whoami/")
    assert response.status_code == 200
    assert response.json()["issuer"] == idp.issuer
    assert response.json()["workload"] == "svc-db"


def test_database_issuer_unknown_without_rows(idp: LocalIssuer) -> None:
    assert status(idp.mint()) == 401


def test_disabled_row_refuses_its_tokens(idp: LocalIssuer, make_row: Any) -> None:
    make_row(enabled=False)
    assert status(idp.mint()) == 401


def test_deleted_row_refuses_its_tokens_after_commit(
    idp: LocalIssuer, make_row: Any, committed: Any
) -> None:
    row = make_row()
    assert status(idp.mint()) == 200
    with committed():
        row.delete()
    assert status(idp.mint()) == 401


def test_edited_row_is_used_at_once_by_the_process_that_saved_it(
    idp: LocalIssuer, make_row: Any, committed: Any
) -> None:
    row = make_row()
    assert status(idp.mint()) == 200
    row.audiences = ["https://other-api.example"]
    with committed():
        row.save()
    assert status(idp.mint()) == 401
    assert status(idp.mint(aud="https://other-api.example")) == 200


def test_edit_without_signal_waits_for_the_stamp_then_the_check_interval(
    idp: LocalIssuer, make_row: Any, clock: Clock
) -> None:
    make_row()
    assert status(idp.mint()) == 200
    TrustedIssuer.objects.update(enabled=False)
    clock.advance(database.CHECK_INTERVAL + 1)
    assert status(idp.mint()) == 200  # stamp unchanged: the snapshot stands
    other_process_bumps()
    assert status(idp.mint()) == 200  # looked at the stamp less than CHECK_INTERVAL ago
    clock.advance(database.CHECK_INTERVAL)
    assert status(idp.mint()) == 401


def test_issuers_changed_announces_bulk_edits(
    idp: LocalIssuer, make_row: Any
) -> None:
    make_row()
    assert status(idp.mint()) == 200
    TrustedIssuer.objects.update(audiences=["https://elsewhere.example"])
    database.issuers_changed()
    assert status(idp.mint()) == 401


def test_second_process_reads_the_rows_and_then_follows_the_stamp(
    idp: LocalIssuer, make_row: Any, committed: Any, clock: Clock,
    django_assert_num_queries: Any,
) -> None:
    row = make_row()
    assert status(idp.mint()) == 200
    row.enabled = False
    with committed():
        row.save()
    database._forget()  # a fresh process: the same shared cache, no snapshot
    assert status(idp.mint()) == 401
    clock.advance(database.CHECK_INTERVAL + 1)
    with django_assert_num_queries(0):
        assert status(idp.mint()) == 401


def test_warm_lookups_make_no_database_queries(
    idp: LocalIssuer, make_row: Any, clock: Clock, django_assert_num_queries: Any
) -> None:
    make_row()
    assert status(idp.mint()) == 200
    with django_assert_num_queries(0):
        for _ in range(5):
            assert status(idp.mint()) == 200
            clock.advance(database.CHECK_INTERVAL + 1)


def test_unknown_issuer_makes_no_database_query(
    idp: LocalIssuer, make_row: Any, clock: Clock, django_assert_num_queries: Any
) -> None:
    make_row()
    assert status(idp.mint()) == 200
    with django_assert_num_queries(0):
        for n in range(5):
            assert status(idp.mint(iss=f"https://attacker.example/{n}")) == 401
            clock.advance(database.CHECK_INTERVAL + 1)


def test_settings_issuers_never_look_at_the_database(
    idp: LocalIssuer, guard: Any, make_row: Any, django_assert_num_queries: Any
) -> None:
    guard()  # the idp in the settings too
    make_row(audiences=["https://row-only.example"])
    database._forget()
    with django_assert_num_queries(0):
        assert status(idp.mint()) == 200
        # The settings win over a row with the same issuer.
        assert status(idp.mint(aud="https://row-only.example")) == 401


@pytest.mark.parametrize(
    ("overrides", "loopback"),
    [
        ({"algorithms": ["none"]}, True),
        ({"algorithms": ["HS256"]}, True),
        ({}, False),  # http:// key URL without ALLOW_HTTP_LOOPBACK
    ],
)
def test_invalid_row_refuses_its_tokens_and_fetches_nothing(
    idp: LocalIssuer, guard: Callable[..., None], make_row: Any, overrides: dict[str, Any], loopback: bool
) -> None:
    guard(ISSUERS=[], ALLOW_HTTP_LOOPBACK=loopback)
    row = make_row(**overrides)
    assert status(idp.mint()) == 401
    assert idp.fetches() == 0
    assert row.to_config().problems


def test_missing_table_before_any_read_is_logged_and_refused(
    idp: LocalIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    drop_table()
    with caplog.at_level(logging.WARNING, logger="django_bearer_guard"):
        assert status(idp.mint()) == 401
    assert "cannot read the trusted issuers" in caplog.text


def test_blocked_database_is_logged_and_refused(
    idp: LocalIssuer, make_row: Any, django_db_blocker: Any, caplog: pytest.LogCaptureFixture
) -> None:
    make_row()
    with django_db_blocker.block(), caplog.at_level(logging.WARNING, logger="django_bearer_guard"):
        assert status(idp.mint()) == 401
    assert "RuntimeError" in caplog.text


def test_database_failure_keeps_the_last_good_rows(
    idp: LocalIssuer, make_row: Any, clock: Clock, caplog: pytest.LogCaptureFixture,
) -> None:
    make_row()
    assert status(idp.mint()) == 200
    drop_table()
    other_process_bumps()
    clock.advance(database.CHECK_INTERVAL + 1)
    with caplog.at_level(logging.WARNING, logger="django_bearer_guard"):
        assert status(idp.mint()) == 200
    assert "keeping the last good ones" in caplog.text


@pytest.mark.parametrize(
    "caches_setting",
    [
        {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
         "dummy": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}},
        {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
    ],
    ids=["cache-keeps-nothing", "cache-alias-missing"],
)
def test_unusable_cache_rereads_rows_once_per_interval(
    idp: LocalIssuer, guard: Callable[..., None], make_row: Any, clock: Clock, caches_setting: dict[str, Any]
) -> None:
    make_row()
    with override_settings(CACHES=caches_setting):
        guard(ISSUERS=[], CACHE_ALIAS="dummy")
        database.issuers_changed()  # logged, never raised
        assert status(idp.mint()) == 200
        TrustedIssuer.objects.update(enabled=False)
        assert status(idp.mint()) == 200  # within the interval: the snapshot stands
        clock.advance(database.CHECK_INTERVAL + 1)
        assert status(idp.mint()) == 401  # no stamp to trust: the rows are read again


def test_busy_refresh_serves_the_current_rows_without_waiting(
    idp: LocalIssuer, make_row: Any, clock: Clock,
    django_assert_num_queries: Any,
) -> None:
    make_row()
    assert status(idp.mint()) == 200
    TrustedIssuer.objects.update(enabled=False)
    other_process_bumps()
    clock.advance(database.CHECK_INTERVAL + 1)
    with database._lock, django_assert_num_queries(0):
        assert status(idp.mint()) == 200
    assert status(idp.mint()) == 401


def test_clock_going_backwards_counts_as_due(
    idp: LocalIssuer, make_row: Any, clock: Clock
) -> None:
    make_row()
    assert status(idp.mint()) == 200
    TrustedIssuer.objects.update(enabled=False)
    other_process_bumps()
    clock.advance(-60)
    assert status(idp.mint()) == 401


def test_all_issuers_lists_rows_after_settings(idp: LocalIssuer, guard: Any, make_row: Any) -> None:
    guard()  # the idp in the settings too
    make_row(issuer="https://db-only.example/", jwks_uri="https://db-only.example/jwks")
    assert [config.issuer for config in registry.all_issuers()] == [idp.issuer, "https://db-only.example/"]


def test_install_twice_registers_once() -> None:
    before = list(registry._sources)
    database.install()
    assert registry._sources == before


def test_checks_report_row_problems_and_shadowed_rows_only_with_databases(
    idp: LocalIssuer, guard: Any, make_row: Any, django_assert_num_queries: Any
) -> None:
    guard()  # the idp in the settings too
    shadowed = make_row()
    broken = make_row(issuer="https://broken.example/", algorithms=["none"], jwks_uri="https://broken.example/k")
    messages = check_settings(databases=["default"])
    by_id = {message.id: message for message in messages}
    assert f"TrustedIssuer {broken.pk} ('https://broken.example/')" in by_id["bearer_guard.E005"].msg
    assert repr(shadowed.issuer) in by_id["bearer_guard.W004"].msg
    row_ids = {"bearer_guard.E005", "bearer_guard.W004"}
    with django_assert_num_queries(0):
        assert not row_ids & {m.id for m in check_settings()}
        assert not row_ids & {m.id for m in check_settings(databases=["other"])}


def test_checks_count_rows_as_trusted_issuers(make_row: Any) -> None:
    assert "bearer_guard.W001" in {m.id for m in check_settings(databases=["default"])}
    make_row()
    assert "bearer_guard.W001" not in {m.id for m in check_settings(databases=["default"])}


def test_checks_before_migrate_see_no_rows() -> None:
    drop_table()
    assert "bearer_guard.W001" in {m.id for m in check_settings(databases=["default"])}


def test_registry_source_without_poll_is_read_at_rebuild(idp: LocalIssuer) -> None:
    extra = TrustedIssuer(**idp.issuer_settings(issuer="https://static-source.example/")).to_config()
    registry.register_source(lambda: [extra])
    try:
        assert registry.get("https://static-source.example/") is extra
    finally:
        registry._sources.pop()
        registry.clear()
