"""Made-up issuers against a slow database: a forged ``iss`` never holds a request on it.

Any caller can send tokens whose ``iss`` the settings do not name; each such token makes the
process look for ``TrustedIssuer`` rows. With the database locked or down, those lookups must
neither queue behind one another nor wait on the database for more than ``READ_WAIT``, and the
issuers from the settings must not notice at all.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.core.cache import caches
from django.db.backends.signals import connection_created
from rest_framework.test import APIClient

from django_bearer_guard import conf
from django_bearer_guard.issuers import database
from django_bearer_guard.models import TrustedIssuer
from django_bearer_guard.testing import Clock, LocalIssuer
from tests.support.issuer_rows import rows_locked, wait_for_read

# Committed rows: the rows are read on a connection of their own, which sees only those.
pytestmark = pytest.mark.django_db(transaction=True)


def timed_status(token: str) -> tuple[int, float]:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    started = time.monotonic()
    response = client.get("/whoami/")
    return int(response.status_code), time.monotonic() - started


def test_forged_issuers_during_a_database_lock_neither_queue_nor_slow_settings_issuers(
    idp: LocalIssuer, make_idp: Callable[..., LocalIssuer], guard: Callable[..., None]
) -> None:
    row_idp = make_idp()
    TrustedIssuer.objects.create(**row_idp.issuer_settings())
    conf.reload()  # a fresh process: no rows read yet
    forged = [idp.mint(iss=f"https://made-up-{n}.example/") for n in range(5)]
    settings_answers: list[tuple[int, float]] = []
    forged_done = threading.Event()

    def settings_issuer_traffic() -> None:
        while not forged_done.is_set():
            settings_answers.append(timed_status(idp.mint()))

    with rows_locked(at_most=3.0) as release, ThreadPoolExecutor(6) as pool:
        traffic = pool.submit(settings_issuer_traffic)
        started = time.monotonic()
        forged_answers = list(pool.map(timed_status, forged))
        total = time.monotonic() - started
        forged_done.set()
        traffic.result()
        # The row's own issuer is not known yet either: untrusted, and at once.
        row_answer = timed_status(row_idp.mint())
        release()

    assert [answer for answer, _ in forged_answers] == [401] * 5
    assert total < 1.5, forged_answers
    assert settings_answers
    assert {answer for answer, _ in settings_answers} == {200}
    assert max(seconds for _, seconds in settings_answers) < 0.5, settings_answers
    assert row_answer[0] == 401
    assert row_answer[1] < 0.5
    # The read the first forged token started ends once the lock is gone and serves what follows.
    wait_for_read()
    assert timed_status(row_idp.mint())[0] == 200


def test_forged_issuer_flood_during_a_database_lock_opens_one_connection(
    idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    forged = [idp.mint(iss=f"https://made-up-{n}.example/") for n in range(20)]
    conf.reload()
    opened: list[str] = []

    def on_created(**kwargs: Any) -> None:
        opened.append(threading.current_thread().name)

    connection_created.connect(on_created)
    try:
        with rows_locked(at_most=3.0) as release, ThreadPoolExecutor(5) as pool:
            answers = list(pool.map(timed_status, forged))
            release()
        wait_for_read()
    finally:
        connection_created.disconnect(on_created)
    assert [answer for answer, _ in answers] == [401] * 20
    assert max(seconds for _, seconds in answers) < database.READ_WAIT + 0.5
    assert opened == ["bearer-guard-issuers"]


def status(token: str) -> int:
    return timed_status(token)[0]


def test_restored_old_stamp_does_not_hide_a_disabled_row_in_the_process_that_saved_it(
    make_idp: Callable[..., LocalIssuer], guard: Callable[..., None], clock: Clock
) -> None:
    # A writer of the shared cache puts the old stamp back right after the admin disables the row.
    partner = make_idp()
    guard(ISSUERS=[])
    row = TrustedIssuer.objects.create(**partner.issuer_settings())
    assert status(partner.mint()) == 200
    old_stamp = caches["default"].get(database.STAMP_KEY)
    row.enabled = False
    row.save()
    caches["default"].set(database.STAMP_KEY, old_stamp, None)
    clock.advance(database.CHECK_INTERVAL)
    assert status(partner.mint()) == 401


def test_restored_old_stamp_hides_a_disabled_row_from_other_processes_for_a_bounded_time(
    make_idp: Callable[..., LocalIssuer], guard: Callable[..., None], clock: Clock
) -> None:
    partner = make_idp()
    guard(ISSUERS=[])
    TrustedIssuer.objects.create(**partner.issuer_settings())
    assert status(partner.mint()) == 200
    # Another process disables the row and the cache writer undoes its stamp: seen from this
    # process, the rows changed and the stamp did not.
    TrustedIssuer.objects.update(enabled=False)
    clock.advance(database.CHECK_INTERVAL)
    assert status(partner.mint()) == 200
    clock.advance(database.MAX_SNAPSHOT_AGE)
    assert status(partner.mint()) == 401
    wait_for_read()
