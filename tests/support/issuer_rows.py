"""The TrustedIssuer rows' table held locked from another connection, and waiting for a background read."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

import pytest
from django.db import connection

from django_bearer_guard.models import TrustedIssuer
from django_bearer_guard.runtime import get_runtime

TABLE = TrustedIssuer._meta.db_table


@contextlib.contextmanager
def rows_locked(at_most: float = 3.0) -> Iterator[Callable[[], None]]:
    """Hold, from a connection of its own, a lock that blocks every read of the rows' table.

    Yields a function that releases the lock early, from any thread; the lock goes after
    ``at_most`` seconds in any case, so that code which waits on it cannot hang the suite.
    """
    if connection.vendor not in ("sqlite", "postgresql"):
        pytest.skip(f"no table lock written for {connection.vendor}")
    raw = connection.get_new_connection(connection.get_connection_params())
    released: list[bool] = []
    once = threading.Lock()

    def release() -> None:
        with once:
            if not released:
                released.append(True)
                raw.rollback()

    deadline = threading.Timer(at_most, release)
    try:
        cursor = raw.cursor()
        if connection.vendor == "sqlite":
            cursor.execute("BEGIN EXCLUSIVE")  # readers wait for it (rollback journal)
        else:
            cursor.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
        cursor.close()
        deadline.start()
        yield release
    finally:
        deadline.cancel()
        if deadline.is_alive():
            deadline.join()
        release()
        raw.close()


def wait_for_read() -> None:
    """Let a read still running in the background end."""
    reader = get_runtime().database._reader
    if reader is not None:
        reader.join(30)
        assert not reader.is_alive()
