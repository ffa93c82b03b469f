from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.core.cache import caches
from django.db import connection, connections
from django.db.backends.signals import connection_created
from django.test import override_settings
from pytest_django import DjangoAssertNumQueries, DjangoCaptureOnCommitCallbacks
from rest_framework.test import APIClient

from django_bearer_guard import conf, runtime
from django_bearer_guard.checks import check_settings
from django_bearer_guard.issuers import database
from django_bearer_guard.models import TrustedIssuer
from django_bearer_guard.runtime import get_runtime
from django_bearer_guard.testing import Clock, LocalIssuer, use_clock
from tests.support.issuer_rows import TABLE, rows_locked, wait_for_read

# Committed rows: the rows are read on a connection of their own, which sees only those.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _rows_only(guard: Callable[..., None], clock: Clock) -> Iterator[None]:
    """No issuers in the settings (a test may add some): only rows trust anyone."""
    guard(ISSUERS=[])
    yield
    wait_for_read()


@pytest.fixture
def committed(django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks) -> Callable[..., Any]:
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


@contextlib.contextmanager
def table_missing() -> Iterator[None]:
    """The rows' table is not there (as before ``migrate``) inside the block."""
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {TABLE}_away")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {TABLE}_away RENAME TO {TABLE}")


@pytest.fixture
def row_reads() -> Iterator[list[str]]:
    """Every SQL statement on the rows' table, on any connection of any thread."""
    statements: list[str] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if TABLE in sql and sql.lstrip().upper().startswith("SELECT"):
            statements.append(sql)
        return execute(sql, params, many, context)

    main = connections["default"]  # this thread's, wrapped below for the whole test

    def on_created(*, connection: Any, **kwargs: Any) -> None:
        if connection is not main:
            connection.execute_wrappers.append(record)

    connection_created.connect(on_created)
    try:
        with main.execute_wrapper(record):
            yield statements
    finally:
        connection_created.disconnect(on_created)


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


def test_disabled_row_refuses_its_tokens(idp: LocalIssuer, make_row: Callable[..., TrustedIssuer]) -> None:
    make_row(enabled=False)
    assert status(idp.mint()) == 401


def test_deleted_row_refuses_its_tokens_after_commit(
    idp: LocalIssuer, make_row: Callable[..., TrustedIssuer], committed: Callable[..., Any]
) -> None:
    row = make_row()
    assert status(idp.mint()) == 200
    with committed():
        row.delete()
    assert status(idp.mint()) == 401


def test_edited_row_is_used_at_once_by_the_process_that_saved_it(
    idp: LocalIssuer, make_row: Callable[..., TrustedIssuer], committed: Callable[..., Any]
) -> None:
    row = make_row()
    assert status(idp.mint()) == 200
    row.audiences = ["https://other-api.example"]
    with committed():
        row.save()
    assert status(idp.mint()) == 401
    assert status(idp.mint(aud="https://other-api.example")) == 200


def test_edit_without_signal_waits_for_the_stamp_then_the_check_interval(
    idp: LocalIssuer, make_row: Callable[..., TrustedIssuer], clock: Clock
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
    idp: LocalIssuer, make_row: Callable[..., TrustedIssuer]
) -> None:
    make_row()
    assert status(idp.mint()) == 200
    TrustedIssuer.objects.update(audiences=["https://elsewhere.example"])
    database.issuers_changed()
    assert status(idp.mint()) == 401


def test_second_process_reads_the_rows_and_then_follows_the_stamp(
    idp: LocalIssuer,
    make_row: Callable[..., TrustedIssuer],
    committed: Callable[..., Any],
    clock: Clock,
    row_reads: list[str],
) -> None:
    row = make_row()
    assert status(idp.mint()) == 200
    row.enabled = False
    with committed():
        row.save()
    conf.reload()  # a fresh process: the same shared cache, no snapshot
    row_reads.clear()
    assert status(idp.mint()) == 401
    assert len(row_reads) == 1
    clock.advance(database.CHECK_INTERVAL + 1)
    assert status(idp.mint()) == 401
    assert len(row_reads) == 1


def test_warm_lookups_make_no_database_queries(
    idp: LocalIssuer,
    make_row: Callable[..., TrustedIssuer],
    clock: Clock,
    django_assert_num_queries: DjangoAssertNumQueries,
    row_reads: list[str],
) -> None:
    make_row()
    assert status(idp.mint()) == 200
    row_reads.clear()
    with django_assert_num_queries(0):
        for _ in range(5):
            assert status(idp.mint()) == 200
            clock.advance(database.CHECK_INTERVAL + 1)
    assert not row_reads


def test_unknown_issuer_makes_no_database_query(
    idp: LocalIssuer,
    make_row: Callable[..., TrustedIssuer],
    clock: Clock,
    django_assert_num_queries: DjangoAssertNumQueries,
    row_reads: list[str],
) -> None:
    make_row()
    assert status(idp.mint()) == 200
    row_reads.clear()
    with django_assert_num_queries(0):
        for n in range(5):
            assert status(idp.mint(iss=f"https://attacker.example/{n}")) == 401
            clock.advance(database.CHECK_INTERVAL + 1)
    assert not row_reads


def test_settings_issuers_never_look_at_the_database(
    idp: LocalIssuer,
    guard: Callable[..., None],
    make_row: Callable[..., TrustedIssuer],
    django_assert_num_queries: DjangoAssertNumQueries,
    row_reads: list[str],
) -> None:
    guard()  # the idp in the settings too
    make_row(audiences=["https://row-only.example"])
    conf.reload()
    with django_assert_num_queries(0):
        assert status(idp.mint()) == 200
        # The settings win over a row with the same issuer.
        assert status(idp.mint(aud="https://row-only.example")) == 401
    assert not row_reads


@pytest.mark.parametrize(
    ("overrides", "loopback"),
    [
        ({"algorithms": ["none"]}, True),
        ({"algorithms": ["HS256"]}, True),
        ({}, False),  # http:// key URL without ALLOW_HTTP_LOOPBACK
    ],
)
def test_invalid_row_refuses_its_tokens_and_fetches_nothing(
    idp: LocalIssuer,
    guard: Callable[..., None],
    make_row: Callable[..., TrustedIssuer],
    overrides: dict[str, Any],
    loopback: bool,
) -> None:
    guard(ISSUERS=[], ALLOW_HTTP_LOOPBACK=loopback)
    row = make_row(**overrides)
    assert status(idp.mint()) == 401
    assert idp.fetches() == 0
    assert row.to_config().problems


def test_missing_table_before_any_read_is_logged_and_refused(
    idp: LocalIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    with table_missing(), caplog.at_level(logging.WARNING, logger="django_bearer_guard"):
        assert status(idp.mint()) == 401
    assert "cannot read the trusted issuers" in caplog.text


def test_blocked_database_is_logged_and_refused(
    idp: LocalIssuer, make_row: Callable[..., TrustedIssuer], django_db_blocker: Any, caplog: pytest.LogCaptureFixture
) -> None:
    make_row()
    with django_db_blocker.block(), caplog.at_level(logging.WARNING, logger="django_bearer_guard"):
        assert status(idp.mint()) == 401
    assert "RuntimeError" in caplog.text


def test_database_failure_keeps_the_last_good_rows(
    idp: LocalIssuer, make_row: Callable[..., TrustedIssuer], clock: Clock, caplog: pytest.LogCaptureFixture,
) -> None:
    make_row()
    assert status(idp.mint()) == 200
    other_process_bumps()
    clock.advance(database.CHECK_INTERVAL + 1)
    with table_missing(), caplog.at_level(logging.WARNING, logger="django_bearer_guard"):
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
    idp: LocalIssuer,
    guard: Callable[..., None],
    make_row: Callable[..., TrustedIssuer],
    clock: Clock,
    caches_setting: dict[str, Any],
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
    idp: LocalIssuer, make_row: Callable[..., TrustedIssuer], clock: Clock, row_reads: list[str]
) -> None:
    make_row()
    assert status(idp.mint()) == 200
    TrustedIssuer.objects.update(enabled=False)
    other_process_bumps()
    clock.advance(database.CHECK_INTERVAL + 1)
    row_reads.clear()
    with get_runtime().database._lock:
        assert status(idp.mint()) == 200
    assert not row_reads
    assert status(idp.mint()) == 401


def test_clock_going_backwards_counts_as_due(
    idp: LocalIssuer, make_row: Callable[..., TrustedIssuer], clock: Clock
) -> None:
    make_row()
    assert status(idp.mint()) == 200
    TrustedIssuer.objects.update(enabled=False)
    other_process_bumps()
    clock.advance(-60)
    assert status(idp.mint()) == 401


def test_all_issuers_lists_rows_after_settings(
    idp: LocalIssuer, guard: Callable[..., None], make_row: Callable[..., TrustedIssuer]
) -> None:
    guard()  # the idp in the settings too
    make_row(issuer="https://db-only.example/", jwks_uri="https://db-only.example/jwks")
    assert [config.issuer for config in get_runtime().issuers.all_issuers()] == [idp.issuer, "https://db-only.example/"]


def test_install_twice_registers_once() -> None:
    runtime.install()
    assert [type(source) for source in get_runtime().issuers._sources] == [database.DatabaseIssuers]


def test_checks_report_row_problems_and_shadowed_rows_only_with_databases(
    idp: LocalIssuer,
    guard: Callable[..., None],
    make_row: Callable[..., TrustedIssuer],
    django_assert_num_queries: DjangoAssertNumQueries,
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


def test_checks_count_rows_as_trusted_issuers(make_row: Callable[..., TrustedIssuer]) -> None:
    assert "bearer_guard.W001" in {m.id for m in check_settings(databases=["default"])}
    make_row()
    assert "bearer_guard.W001" not in {m.id for m in check_settings(databases=["default"])}


def test_checks_before_migrate_see_no_rows() -> None:
    with table_missing():
        assert "bearer_guard.W001" in {m.id for m in check_settings(databases=["default"])}


def elapsed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    result = fn()
    return result, time.monotonic() - started


def test_read_slower_than_read_wait_ends_in_the_background_and_serves_later_requests(
    idp: LocalIssuer, make_row: Callable[..., TrustedIssuer], row_reads: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    make_row()
    conf.reload()  # a fresh process
    with rows_locked() as release, caplog.at_level(logging.WARNING, logger="django_bearer_guard"):
        answer, seconds = elapsed(lambda: status(idp.mint()))
        assert answer == 401  # no rows read yet: untrusted
        assert database.READ_WAIT <= seconds < database.READ_WAIT + 0.5
        assert "takes over 1.0 s" in caplog.text
        release()
        wait_for_read()
    assert status(idp.mint()) == 200
    assert len(row_reads) == 1


def test_concurrent_and_later_polls_during_a_slow_read_start_no_second_read(
    idp: LocalIssuer, make_row: Callable[..., TrustedIssuer], clock: Clock, row_reads: list[str]
) -> None:
    make_row()
    conf.reload()
    with rows_locked():
        with ThreadPoolExecutor(5) as pool:
            timed = list(pool.map(lambda _: elapsed(lambda: status(idp.mint())), range(5)))
        assert [answer for answer, _ in timed] == [401] * 5
        assert max(seconds for _, seconds in timed) < database.READ_WAIT + 0.5
        clock.advance(database.CHECK_INTERVAL + 1)
        answer, seconds = elapsed(lambda: status(idp.mint()))
        assert answer == 401
        assert seconds < 0.5  # the read still running is not waited for again
        assert len(row_reads) == 1
    wait_for_read()
    assert status(idp.mint()) == 200
    assert len(row_reads) == 1


def test_poll_rechecks_the_interval_after_taking_the_lock(
    idp: LocalIssuer,
    guard: Callable[..., None],
    make_row: Callable[..., TrustedIssuer],
    clock: Clock,
    row_reads: list[str],
) -> None:
    make_row()
    caches_setting = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "dummy": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
    }
    glanced, other_looked = threading.Event(), threading.Event()

    def poll() -> None:
        # The runtime of the settings guard() sets below, not of the ones in force now.
        get_runtime().database.poll()

    late = threading.Thread(target=poll)

    def late_clock() -> float:
        # The late request reads the clock, then loses the processor until another one has looked.
        now = clock.now
        if threading.current_thread() is late and not glanced.is_set():
            glanced.set()
            other_looked.wait(10)
        return now

    with override_settings(CACHES=caches_setting):
        guard(ISSUERS=[], CACHE_ALIAS="dummy")  # no stamp: every look reads the rows
        with use_clock(late_clock):
            late.start()
            assert glanced.wait(10)
            clock.advance(1)
            get_runtime().database.poll()
            wait_for_read()
            other_looked.set()
            late.join(10)
            wait_for_read()
    assert len(row_reads) == 1


def test_failed_read_is_retried_no_sooner_than_the_interval(
    idp: LocalIssuer,
    make_row: Callable[..., TrustedIssuer],
    clock: Clock,
    row_reads: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    make_row()
    conf.reload()
    with table_missing(), caplog.at_level(logging.WARNING, logger="django_bearer_guard"):
        for _ in range(3):
            assert status(idp.mint()) == 401
            clock.advance(database.CHECK_INTERVAL / 3)
        assert len(row_reads) == 1
        assert "cannot read the trusted issuers" in caplog.text
    clock.advance(database.CHECK_INTERVAL)
    assert status(idp.mint()) == 200
    assert len(row_reads) == 2


def test_background_read_closes_its_connection(idp: LocalIssuer, make_row: Callable[..., TrustedIssuer]) -> None:
    make_row()
    conf.reload()
    opened: list[Any] = []

    def on_created(*, connection: Any, **kwargs: Any) -> None:
        if threading.current_thread() is not threading.main_thread():
            opened.append(connection)

    connection_created.connect(on_created)
    try:
        assert status(idp.mint()) == 200
        wait_for_read()
    finally:
        connection_created.disconnect(on_created)
    assert len(opened) == 1
    assert opened[0].connection is None


@pytest.mark.django_db(transaction=False)
def test_request_inside_a_transaction_sees_rows_of_that_transaction(
    idp: LocalIssuer, make_row: Callable[..., TrustedIssuer]
) -> None:
    # As in an adopter's TestCase or under ATOMIC_REQUESTS: the rows are not committed, so only
    # the request's own connection sees them.
    assert connection.in_atomic_block
    make_row()
    assert status(idp.mint()) == 200


@pytest.mark.django_db(transaction=False)
def test_request_inside_a_transaction_waits_at_most_read_wait_on_a_locked_table(
    idp: LocalIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    # As under ATOMIC_REQUESTS: the read runs on the request's connection, its lock wait cut short.
    assert connection.in_atomic_block
    with rows_locked() as release, caplog.at_level(logging.WARNING, logger="django_bearer_guard"):
        answer, seconds = elapsed(lambda: status(idp.mint()))
        assert answer == 401
        assert seconds < database.READ_WAIT + 0.5
        assert "cannot read the trusted issuers" in caplog.text
        reader = get_runtime().database._reader
        assert reader is not None  # handed over to the background
        release()
        wait_for_read()
    assert connection.in_atomic_block
    assert status(idp.mint()) == 401  # the transaction is still usable; no rows anywhere


def test_issuers_changed_without_the_app_installed_announces_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    # As where django_bearer_guard is not in INSTALLED_APPS: install() never ran, nothing listens.
    monkeypatch.setattr(database, "_current", None)
    database.issuers_changed()
    assert caches["default"].get(database.STAMP_KEY) is None


@contextlib.contextmanager
def selecting_rows() -> Iterator[threading.Event]:
    """An event set when this thread's connection starts a read of the rows."""
    started = threading.Event()

    def announce(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if TABLE in sql and sql.lstrip().upper().startswith("SELECT"):
            started.set()
        return execute(sql, params, many, context)

    with connection.execute_wrapper(announce):
        yield started


@pytest.mark.django_db(transaction=False)
def test_request_inside_a_transaction_cut_short_leaves_a_running_background_read_alone(
    idp: LocalIssuer, row_reads: list[str]
) -> None:
    # Another request, outside any transaction, starts a read in the background while this one
    # waits on the lock; when this one gives up, that read stands and no second one starts.
    started: list[threading.Thread | None] = []

    def other_request() -> None:
        assert reading.wait(10)
        database.issuers_changed()  # a row saved elsewhere: its next look is due at once
        get_runtime().database.poll()
        started.append(get_runtime().database._reader)

    with rows_locked() as release, selecting_rows() as reading:
        other = threading.Thread(target=other_request)
        other.start()
        assert status(idp.mint()) == 401
        other.join(10)
        release()
        wait_for_read()
    assert started and started[0] is not None
    assert get_runtime().database._reader is started[0]
    assert len(row_reads) == 2  # this request's, cut short, and the other's


@pytest.mark.django_db(transaction=False)
def test_change_announced_during_a_failed_read_inside_a_transaction_is_read_by_the_next_request(
    idp: LocalIssuer,
) -> None:
    # A failed read defers the next one by CHECK_INTERVAL, but not past a change announced meanwhile.
    def other_request_saves() -> None:
        assert reading.wait(10)
        database.issuers_changed()

    with rows_locked() as release, selecting_rows() as reading:
        other = threading.Thread(target=other_request_saves)
        other.start()
        assert status(idp.mint()) == 401
        other.join(10)
        release()
        wait_for_read()
    TrustedIssuer.objects.create(**idp.issuer_settings())  # seen only inside this transaction
    assert status(idp.mint()) == 200
