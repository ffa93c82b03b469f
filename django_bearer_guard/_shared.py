"""Every call of the library to the shared Django cache: bounded in time, paused after a failure.

The shared cache (``CACHE_ALIAS``, Redis in production) carries what worker processes share:
fetched keys and the fetch lock, the ``TrustedIssuer`` stamp, spent DPoP proofs. None of it may
cost a request more than ``CACHE_TIMEOUT``, whatever the backend's own options say: a Redis that
is down answers with an error, but a stopped one (a paused VM, ``SIGSTOP``, a full connection
pool) would leave a call waiting forever.

So a call runs on one worker thread per process and cache alias, and the caller waits at most
``timeout`` for it. After a failure or a timeout the alias is paused for :data:`BACKOFF` seconds:
calls fail at once with :class:`SharedCacheUnavailable`, and the library works from what this
process holds. The first call after the pause tries the cache again (unless the thread is
still stuck in the call that timed out). One warning is logged when an outage starts and one
line when the cache answers again, never one per request. In-process backends (local memory,
dummy) cannot hang and are called directly.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache import BaseCache, caches
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache

from django_bearer_guard.conf import on_reload

__all__ = ["BACKOFF", "SharedCacheUnavailable", "call", "is_paused"]

logger = logging.getLogger("django_bearer_guard")

T = TypeVar("T")

BACKOFF = 3.0
"""Seconds the library leaves an alias alone after a failed or timed-out call."""
STARTUP = 5.0
"""Seconds the first call of a process waits for the cache client to be built (imports included)."""
_IN_PROCESS = (LocMemCache, DummyCache)


class SharedCacheUnavailable(Exception):
    """The shared cache failed, did not answer in time, or is paused after a failure."""


class _Call:
    __slots__ = ("action", "alias", "deadline", "done", "error", "result")

    def __init__(self, alias: str, action: Callable[[BaseCache], Any], deadline: float) -> None:
        self.alias, self.action, self.deadline = alias, action, deadline
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        if time.monotonic() < self.deadline:  # a call its caller gave up on is not made late
            try:
                self.result = self.action(caches[self.alias])
            except BaseException as exc:  # handed to the waiting caller
                self.error = exc
        self.done.set()


class _Alias:
    """One alias in one process: its worker thread and its health."""

    def __init__(self, alias: str) -> None:
        self.alias = alias
        self.lock = threading.Lock()
        self.calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self.thread: threading.Thread | None = None
        self.busy_since: float | None = None
        self.paused_until = 0.0
        self.down = False
        self.ready = threading.Event()

    def _serve(self) -> None:
        try:
            # The backend's client (and its library: importing redis takes a good part of a
            # second) is built before the first deadline starts; a connection is made only by a call.
            getattr(caches[self.alias], "_cache", None)
        except Exception:  # noqa: S110 - the first call reports what is wrong, within its deadline
            pass
        finally:
            self.ready.set()
        while True:
            pending = self.calls.get()
            if pending is None:
                _disconnect(self.alias)  # the process is exiting
                return
            self.busy_since = time.monotonic()
            try:
                pending.run()
            finally:
                self.busy_since = None

    def start(self) -> None:
        """Start the worker thread once, and wait (at most :data:`STARTUP`) until its client is built."""
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.ready.clear()
                self.thread = threading.Thread(target=self._serve, name=f"bearer-guard-cache-{self.alias}",
                                               daemon=True)
                self.thread.start()
        self.ready.wait(STARTUP)

    def stuck(self, now: float, timeout: float) -> bool:
        started = self.busy_since
        return started is not None and now - started > timeout

    def failed(self, reason: str) -> None:
        with self.lock:
            self.paused_until = time.monotonic() + BACKOFF
            first = not self.down
            self.down = True
        if first:
            logger.warning(
                "bearer_guard: shared cache %r unusable (%s); until it answers again, keys and issuer changes "
                "stay per process and DPoP proofs are refused", self.alias, reason)

    def answered(self) -> None:
        if self.down:
            self.down = False
            logger.info("bearer_guard: shared cache %r answers again", self.alias)


_aliases: dict[str, _Alias] = {}
_aliases_lock = threading.Lock()
_pid = os.getpid()


def _state(alias: str) -> _Alias:
    global _pid
    state = _aliases.get(alias)
    if state is None or _pid != os.getpid():
        with _aliases_lock:
            if _pid != os.getpid():
                # A forked child has none of its parent's threads: start afresh.
                _aliases.clear()
                _pid = os.getpid()
            state = _aliases.setdefault(alias, _Alias(alias))
    return state


def is_paused(alias: str) -> bool:
    """True while calls to ``alias`` fail at once after a failure."""
    return time.monotonic() < _state(alias).paused_until


def call(alias: str, timeout: float, action: Callable[[BaseCache], T]) -> T:
    """``action(caches[alias])``, within ``timeout`` seconds, or :class:`SharedCacheUnavailable`.

    Whatever ``action`` raises is logged (once per outage) and raised as ``SharedCacheUnavailable``.
    """
    state = _state(alias)
    now = time.monotonic()
    if now < state.paused_until:
        raise SharedCacheUnavailable("paused after a failure")
    try:
        backend = caches[alias]
    except Exception as exc:  # an alias missing from CACHES, a backend that cannot be built
        state.failed(f"{type(exc).__name__}: {exc}")
        raise SharedCacheUnavailable(str(exc)) from exc
    if isinstance(backend, _IN_PROCESS):
        return _direct(state, backend, action)
    if state.stuck(now, timeout):
        state.failed("an earlier call has not returned")
        raise SharedCacheUnavailable("an earlier call has not returned")
    state.start()
    pending = _Call(alias, action, time.monotonic() + timeout)
    state.calls.put(pending)
    if not pending.done.wait(timeout):
        state.failed(f"no answer within {timeout:g} s")
        raise SharedCacheUnavailable(f"no answer within {timeout:g} s")
    if pending.error is not None:
        error = pending.error
        state.failed(f"{type(error).__name__}: {error}")
        raise SharedCacheUnavailable(str(error)) from error
    state.answered()
    return pending.result  # type: ignore[no-any-return]


def _direct(state: _Alias, backend: BaseCache, action: Callable[[BaseCache], T]) -> T:
    try:
        result = action(backend)
    except Exception as exc:
        state.failed(f"{type(exc).__name__}: {exc}")
        raise SharedCacheUnavailable(str(exc)) from exc
    state.answered()
    return result


def _disconnect(alias: str) -> None:
    """Close the connections this thread's backend holds (Django's Redis backend keeps pools)."""
    try:
        backend = caches[alias]
        backend.close()
        for pool in getattr(getattr(backend, "_cache", None), "_pools", {}).values():
            pool.disconnect()
    except Exception:  # noqa: S110 - the process is exiting; nothing is left to tell
        pass


@atexit.register
def _stop() -> None:
    # A daemon thread's connections would outlive the interpreter's cleanup (an unclosed socket
    # at exit); one that is stuck in a call is left to the exit.
    for state in list(_aliases.values()):
        thread = state.thread
        if thread is not None and thread.is_alive() and state.busy_since is None:
            state.calls.put(None)
            thread.join(1.0)


@on_reload
def _forget() -> None:
    # Changed CACHES (tests, a reconfigured process): the old health says nothing of the new backend.
    with _aliases_lock:
        for state in _aliases.values():
            state.paused_until, state.down = 0.0, False
