"""Trusted issuers from ``TrustedIssuer`` rows, kept in a per-process snapshot.

Requests never query the database on their own: the rows are read once per process and again
only when the version stamp in the shared cache (``CACHE_ALIAS``) changed, which this module
looks at no more than every :data:`CHECK_INTERVAL` seconds, and only for tokens whose issuer
the settings do not name. Saving or deleting a row changes the stamp when its transaction
commits; after changes that send no signals (``QuerySet.update()``, ``bulk_create()``, SQL)
call :func:`issuers_changed`. A database that cannot be read (down, not migrated yet) is
logged and the last good rows are kept: before any good read, database issuers are unknown
and their tokens are refused (401), never a 500.
"""

from __future__ import annotations

import logging
import math
import threading
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.cache import caches
from django.db import DatabaseError, router, transaction
from django.db.models.signals import post_delete, post_save

from django_bearer_guard import _clock
from django_bearer_guard.conf import get_settings, on_reload
from django_bearer_guard.issuers import registry
from django_bearer_guard.issuers.config import IssuerConfig

if TYPE_CHECKING:
    from django_bearer_guard.models import TrustedIssuer

__all__ = ["CHECK_INTERVAL", "STAMP_KEY", "install", "issuers", "issuers_changed", "poll", "read_for_checks"]

logger = logging.getLogger("django_bearer_guard")

CHECK_INTERVAL = 2.0
"""Seconds between two looks of a process at the shared stamp."""
STAMP_KEY = "bearer_guard:issuers-stamp"
"""The shared cache key of the rows' version stamp."""


@dataclass(frozen=True)
class _Snapshot:
    configs: tuple[IssuerConfig, ...]
    stamp: str | None


_snapshot: _Snapshot | None = None
_checked_at = -math.inf
_lock = threading.Lock()
_installed = False


@on_reload
def _forget() -> None:
    global _snapshot, _checked_at
    _snapshot = None
    _checked_at = -math.inf


def issuers() -> tuple[IssuerConfig, ...]:
    """The issuers of the last good read of the rows (none before it); never does I/O."""
    snapshot = _snapshot
    return snapshot.configs if snapshot is not None else ()


def poll() -> None:
    """Re-read the rows when the shared stamp changed; looks at it at most every CHECK_INTERVAL."""
    global _checked_at
    # A clock that went backwards counts as due.
    if 0 <= _clock.now() - _checked_at < CHECK_INTERVAL:
        return
    # The first read makes concurrent requests wait for it; later ones never do.
    if not _lock.acquire(blocking=_snapshot is None):
        return
    try:
        _checked_at = _clock.now()
        _refresh()
    finally:
        _lock.release()


def _refresh() -> None:
    global _snapshot
    stamp = _read_stamp()
    current = _snapshot
    if current is not None and stamp is not None and stamp == current.stamp:
        return
    try:
        rows = _read_rows(router.db_for_read(_model()))
    except Exception as exc:  # any failure to read keeps the last good rows
        logger.warning(
            "bearer_guard: cannot read the trusted issuers from the database, keeping the last good ones: %s: %s",
            type(exc).__name__,
            exc,
        )
        return
    _snapshot = _Snapshot(tuple(row.to_config() for row in rows), stamp)
    registry.clear()


def _read_stamp() -> str | None:
    """The shared stamp; ``None`` when the cache is unusable (the rows are then re-read each time)."""
    try:
        cache = caches[get_settings().cache_alias]
        stamp = cache.get(STAMP_KEY)
        if not isinstance(stamp, str):
            # No stamp yet, or evicted: start one, so that every later change is seen.
            cache.add(STAMP_KEY, uuid.uuid4().hex, None)
            stamp = cache.get(STAMP_KEY)
    except Exception as exc:  # a broken cache only costs a database read
        logger.warning("bearer_guard: shared cache unusable while reading the issuers' stamp: %s: %s",
                       type(exc).__name__, exc)
        return None
    return stamp if isinstance(stamp, str) else None


def _model() -> type[TrustedIssuer]:
    from django_bearer_guard.models import TrustedIssuer

    return TrustedIssuer


def _read_rows(alias: str) -> list[TrustedIssuer]:
    # A savepoint, so that a failed read never spoils the request's own transaction.
    with transaction.atomic(using=alias):
        return list(_model().objects.using(alias).order_by("pk"))


def issuers_changed() -> None:
    """Make every process re-read the rows within CHECK_INTERVAL seconds, and this one at once.

    Saving or deleting a ``TrustedIssuer`` calls it when the transaction commits; call it after
    changes that send no signals (``QuerySet.update()``, ``bulk_create()``, raw SQL).
    """
    global _checked_at
    try:
        caches[get_settings().cache_alias].set(STAMP_KEY, uuid.uuid4().hex, None)
    except Exception as exc:  # other processes then see the change when the cache returns
        logger.warning("bearer_guard: shared cache unusable while announcing changed issuers: %s: %s",
                       type(exc).__name__, exc)
    _checked_at = -math.inf


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


def install() -> None:
    """Add the rows to the issuer registry and follow their changes (``AppConfig.ready``)."""
    global _installed
    if _installed:
        return
    _installed = True
    registry.register_source(issuers, poll=poll)
    model = _model()
    post_save.connect(_row_changed, sender=model, dispatch_uid="django_bearer_guard.issuers.saved")
    post_delete.connect(_row_changed, sender=model, dispatch_uid="django_bearer_guard.issuers.deleted")
