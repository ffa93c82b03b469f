"""Trusted issuers from ``TrustedIssuer`` rows, kept in a per-process snapshot.

Requests never query the database on their own: the rows are read once per process and again
only when the version stamp in the shared cache (``CACHE_ALIAS``) changed, which this module
looks at no more than every :data:`CHECK_INTERVAL` seconds, and only for tokens whose issuer
the settings do not name. Saving or deleting a row changes the stamp when its transaction
commits; after changes that send no signals (``QuerySet.update()``, ``bulk_create()``, SQL)
call :func:`issuers_changed`.

A process runs one read at a time, in a thread of its own with its own database connection
(closed when the read ends). The request that started it waits at most :data:`READ_WAIT`
seconds; a slower read finishes in the background and its rows serve the later requests. A
request inside a transaction (``ATOMIC_REQUESTS``, a ``TestCase``) reads on its own connection
instead, so it sees the rows of that transaction; on PostgreSQL and SQLite the database's lock
wait is then cut at ``READ_WAIT``, after which the read goes on in the background.
Meanwhile every request answers from the last good rows, so before any good read database
issuers are unknown and their tokens are refused (401), never a 500. A read that fails (database
down, locked, not migrated yet) is logged and tried again no sooner than the next interval.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from django.core.cache import BaseCache
from django.db import DatabaseError, connections, router, transaction
from django.db.models.signals import post_delete, post_save

from django_bearer_guard import _clock, _shared
from django_bearer_guard.conf import GuardSettings
from django_bearer_guard.issuers.config import IssuerConfig

if TYPE_CHECKING:
    from django_bearer_guard.models import TrustedIssuer

__all__ = [
    "CHECK_INTERVAL",
    "MAX_SNAPSHOT_AGE",
    "READ_WAIT",
    "STAMP_KEY",
    "DatabaseIssuers",
    "install",
    "issuers_changed",
    "read_for_checks",
]

logger = logging.getLogger("django_bearer_guard")

CHECK_INTERVAL = 2.0
"""Seconds between two looks of a process at the shared stamp."""
READ_WAIT = 1.0
"""Seconds a request waits for a read of the rows it started; a slower one ends in the background."""
STAMP_KEY = "bearer_guard:issuers-stamp"
"""The shared cache key of the rows' version stamp."""
MAX_SNAPSHOT_AGE = 60.0
"""Seconds after which a process reads the rows again whatever the stamp says."""


@dataclass(frozen=True)
class _Snapshot:
    configs: tuple[IssuerConfig, ...]
    stamp: str | None
    read_at: float


_BOUNDED_HERE = frozenset({"postgresql", "sqlite"})
# Wiring, set once by install(): the DatabaseIssuers of the current runtime.
_current: Callable[[], DatabaseIssuers] | None = None


class DatabaseIssuers:
    """The ``TrustedIssuer`` rows as this process last read them, for one settings value.

    ``on_change`` runs after every read that installed rows (the registry forgets its index).
    A read that ends after the settings changed installs into this object, which is no
    longer in use: rows read under other settings never serve.
    """

    def __init__(self, settings: GuardSettings, on_change: Callable[[], None]) -> None:
        self.settings = settings
        self._on_change = on_change
        self._snapshot: _Snapshot | None = None
        self._checked_at = -math.inf
        self._lock = threading.Lock()
        self._reader: threading.Thread | None = None

    def issuers(self) -> tuple[IssuerConfig, ...]:
        """The issuers of the last good read of the rows (none before it); never does I/O."""
        snapshot = self._snapshot
        return snapshot.configs if snapshot is not None else ()

    def _due(self) -> bool:
        # A clock that went backwards counts as due.
        return not 0 <= _clock.now() - self._checked_at < CHECK_INTERVAL

    def poll(self) -> None:
        """Re-read the rows when the shared stamp changed; looks at it at most every CHECK_INTERVAL.

        Never blocks on another request's read, and waits at most READ_WAIT seconds for its own.
        """
        if not self._due():
            return
        # Forged tokens with made-up issuers must not queue up behind the database: one look at a
        # time, and whoever finds it taken answers from the snapshot it has.
        if not self._lock.acquire(blocking=False):
            return
        try:
            # Another request may have finished a look between the first glance and the lock.
            if not self._due() or (self._reader is not None and self._reader.is_alive()):
                return
            self._checked_at = _clock.now()
            stamp = self._read_stamp()
            current = self._snapshot
            # The stamp is not authenticated: whoever can write the cache could put an old one back
            # and hide a disabled row, so a snapshot is also re-read once it is MAX_SNAPSHOT_AGE old.
            if (
                current is not None
                and stamp is not None
                and stamp == current.stamp
                and 0 <= self._checked_at - current.read_at < MAX_SNAPSHOT_AGE
            ):
                return
            args = (stamp, self._checked_at)
            here = connections[router.db_for_read(_model())]
            # Inside a transaction (ATOMIC_REQUESTS, a TestCase) only this connection sees the rows
            # that transaction sees: the read runs here, after the lock is released, with the
            # database's own lock wait cut at READ_WAIT where the backend allows it.
            reader = None if here.in_atomic_block and here.vendor in _BOUNDED_HERE else self._start_reader(args)
        finally:
            self._lock.release()
        if reader is None:
            if not self._read(*args, here=True):
                # Cut short (a lock, a slow database) or refused: the read goes on in the background.
                with self._lock:
                    if self._reader is None or not self._reader.is_alive():
                        self._start_reader(args)
            return
        reader.join(READ_WAIT)
        if reader.is_alive():
            logger.warning(
                "bearer_guard: reading the trusted issuers from the database takes over %s s;"
                " serving the last good ones while it finishes in the background",
                READ_WAIT,
            )

    def _start_reader(self, args: tuple[str | None, float]) -> threading.Thread:
        reader = threading.Thread(target=self._read, args=args, name="bearer-guard-issuers", daemon=True)
        self._reader = reader
        reader.start()
        return reader

    def _read(self, stamp: str | None, started_at: float, *, here: bool = False) -> bool:
        """Read the rows and install them; ``False`` (logged) when the read failed."""
        alias = router.db_for_read(_model())
        try:
            rows = _read_rows_within(alias, READ_WAIT) if here else _read_rows(alias)
            configs = tuple(row.to_config() for row in rows)
        except Exception as exc:  # any failure to read keeps the last good rows
            logger.warning(
                "bearer_guard: cannot read the trusted issuers from the database, keeping the last good ones: %s: %s",
                type(exc).__name__,
                exc,
            )
            with self._lock:
                # An outage gets one read per interval, counted from the failure.
                if self._checked_at == started_at:
                    self._checked_at = _clock.now()
            return False
        finally:
            if not here:
                # This thread's connections would otherwise stay open until the process ends.
                connections.close_all()
        with self._lock:
            self._snapshot = _Snapshot(configs, stamp, started_at)
        self._on_change()
        return True

    def _read_stamp(self) -> str | None:
        """The shared stamp; ``None`` when the cache is unusable (the rows are then re-read each time)."""

        def read(cache: BaseCache) -> object:
            stamp = cache.get(STAMP_KEY)
            if not isinstance(stamp, str):
                # No stamp yet, or evicted: start one, so that every later change is seen.
                cache.add(STAMP_KEY, uuid.uuid4().hex, None)
                stamp = cache.get(STAMP_KEY)
            return stamp

        try:
            stamp = _shared.call(self.settings.cache_alias, self.settings.cache_timeout, read)
        except _shared.SharedCacheUnavailable:  # logged once per outage; it only costs a database read
            return None
        return stamp if isinstance(stamp, str) else None

    def changed(self) -> None:
        """:func:`issuers_changed` for this process's rows."""
        with self._lock:
            if self._snapshot is not None:
                # This process re-reads whatever the shared stamp says by the time it looks.
                self._snapshot = replace(self._snapshot, stamp=None)
        stamp = uuid.uuid4().hex
        # An outage is logged once; processes without the stamp re-read the rows at every look.
        with contextlib.suppress(_shared.SharedCacheUnavailable):
            _shared.call(self.settings.cache_alias, self.settings.cache_timeout,
                         lambda cache: cache.set(STAMP_KEY, stamp, None))
        self._checked_at = -math.inf


def _model() -> type[TrustedIssuer]:
    from django_bearer_guard.models import TrustedIssuer

    return TrustedIssuer


def _read_rows(alias: str) -> list[TrustedIssuer]:
    # A savepoint, so that a failed read never spoils the request's own transaction.
    with transaction.atomic(using=alias):
        return list(_model().objects.using(alias).order_by("pk"))


def _read_rows_within(alias: str, seconds: float) -> list[TrustedIssuer]:
    """The rows, read on this thread's connection, waiting at most ``seconds`` for locks."""
    wrapper = connections[alias]
    millis = max(1, round(seconds * 1000))
    with transaction.atomic(using=alias), wrapper.cursor() as cursor:
        if wrapper.vendor == "postgresql":
            cursor.execute("SHOW statement_timeout")
            previous = cursor.fetchone()[0]
            # Transaction-local; rolling back the savepoint after a timeout restores it too.
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [f"{millis}ms"])
            rows = list(_model().objects.using(alias).order_by("pk"))
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [previous])
            return rows
        cursor.execute("PRAGMA busy_timeout")
        previous = cursor.fetchone()[0]
        cursor.execute(f"PRAGMA busy_timeout = {millis}")
        try:
            return list(_model().objects.using(alias).order_by("pk"))
        finally:
            cursor.execute(f"PRAGMA busy_timeout = {int(previous)}")


def issuers_changed() -> None:
    """Make every process re-read the rows within CHECK_INTERVAL seconds, and this one at once.

    Saving or deleting a ``TrustedIssuer`` calls it when the transaction commits; call it after
    changes that send no signals (``QuerySet.update()``, ``bulk_create()``, raw SQL).
    """
    if _current is not None:
        _current().changed()


def _row_changed(*, using: str, **kwargs: Any) -> None:
    # After the commit: a process reading before it would file the old rows under the new stamp.
    transaction.on_commit(issuers_changed, using=using)


def read_for_checks(databases: Collection[str] | None) -> tuple[IssuerConfig, ...]:
    """The rows, read now, when ``databases`` holds their database; otherwise none.

    For the system checks, which may use only the databases Django hands them. A table that
    does not exist yet (before ``migrate``) reads as no rows.
    """
    alias = router.db_for_read(_model())
    if not databases or alias not in databases:
        return ()
    try:
        rows = _read_rows(alias)
    except DatabaseError:
        return ()
    return tuple(row.to_config() for row in rows)


def install(current: Callable[[], DatabaseIssuers]) -> None:
    """Follow the rows' changes, announcing them to ``current()`` (``AppConfig.ready``)."""
    global _current
    if _current is not None:
        return
    _current = current
    model = _model()
    post_save.connect(_row_changed, sender=model, dispatch_uid="django_bearer_guard.issuers.saved")
    post_delete.connect(_row_changed, sender=model, dispatch_uid="django_bearer_guard.issuers.deleted")


def installed() -> bool:
    """Whether :func:`install` ran: the rows are then a source of trusted issuers."""
    return _current is not None
