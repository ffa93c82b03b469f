"""An issuer's verification keys, kept fresh: the only entry point the validator uses.

Parsed keys live in a per-process snapshot; the raw JWK Set is shared with the other worker
processes through the Django cache (see :mod:`django_bearer_guard.jwks.cache`), which this
module reads at most every :data:`SHARED_CHECK_INTERVAL` seconds. A fetch happens when the
keys near their expiry or when a token names an unknown ``kid``, one at a time per issuer, and
an unknown ``kid`` refetches at most once per ``JWKS_REFETCH_COOLDOWN``. When the issuer is
down, the last good keys serve until ``fetched_at + TTL + JWKS_STALE_WINDOW``.

Keys are refreshed ahead: from ``JWKS_REFRESH_AHEAD`` seconds before they expire (at most a
quarter of their TTL), one refresh runs in a background thread while every request goes on
with the current keys, so under steady traffic no request meets expired keys. Keys that did
expire (no traffic in the window, or a failing issuer) are refreshed by one request while the
others are served stale keys; a request waits only when no usable keys exist.
:meth:`KeyStore.prefetch` fetches issuers nobody asked for yet.
"""

from __future__ import annotations

import atexit
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django_bearer_guard import _clock
from django_bearer_guard.conf import GuardSettings
from django_bearer_guard.exceptions import KeyFetchError, KeySetError, KeysUnavailable, UnknownKey
from django_bearer_guard.issuers.config import IssuerConfig
from django_bearer_guard.jose.keyset import JsonWebKey, KeySet
from django_bearer_guard.jwks.cache import Attempt, SharedKeyCache
from django_bearer_guard.jwks.fetch import DiscoveredUris, fetch_keys, is_fetched, static_keyset
from django_bearer_guard.signals import keys_fetched

__all__ = ["FAILURE_BACKOFF", "SHARED_CHECK_INTERVAL", "KeyStatus", "KeyStore", "join_background"]

logger = logging.getLogger("django_bearer_guard")

SHARED_CHECK_INTERVAL = 2.0
"""Seconds between two looks of a process at the shared cache."""
FAILURE_BACKOFF = 5.0
"""Seconds after a failed fetch before expired keys trigger another one."""
_POLL_SECONDS = 0.05

_background: set[threading.Thread] = set()
_background_lock = threading.Lock()


def _in_background(name: str, work: Callable[[], None]) -> None:
    def run() -> None:
        try:
            work()
        except Exception:  # a background thread has nobody to raise to
            logger.exception("bearer_guard: %s failed", name)
        finally:
            with _background_lock:
                _background.discard(thread)

    thread = threading.Thread(target=run, name=f"bearer-guard-{name}", daemon=True)
    with _background_lock:
        _background.add(thread)
    thread.start()


def join_background(timeout: float = 10.0) -> None:
    """Wait until the background refreshes and prefetches of this process are done.

    Also run at exit (for at most 5 seconds): a thread still fetching while the interpreter
    shuts down could crash it.
    """
    deadline = time.monotonic() + timeout
    while True:
        with _background_lock:
            running = list(_background)
        if not running or time.monotonic() >= deadline:
            return
        for thread in running:
            thread.join(max(deadline - time.monotonic(), 0))


atexit.register(join_background, 5.0)


@dataclass(frozen=True)
class KeyStatus:
    """What a process knows of an issuer's keys (times are seconds since the epoch)."""

    kids: tuple[str | None, ...]
    fetched_at: float | None
    expires_at: float | None
    stale_until: float | None
    last_attempt_at: float | None
    last_error: str | None


@dataclass(frozen=True)
class _Keys:
    keyset: KeySet
    version: str
    fetched_at: float
    ttl: int

    @property
    def expires_at(self) -> float:
        return self.fetched_at + self.ttl


class _Snapshot:
    """One issuer's keys in this process; fields are replaced whole, never mutated."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.keys: _Keys | None = None
        self.attempt: Attempt | None = None
        self.checked_at = -math.inf
        self.refreshing = False
        self.next_refresh = -math.inf
        """time.monotonic() before which no background refresh starts (one per shared check)."""


class KeyStore:
    """The keys of every issuer as this process knows them, for one settings value.

    Fetched key sets are shared with the other processes through :class:`SharedKeyCache`; inline
    key sets and shared secrets are parsed once per key source.
    """

    def __init__(self, settings: GuardSettings) -> None:
        self.settings = settings
        self.shared = SharedKeyCache(settings)
        self.discovered = DiscoveredUris()
        self._snapshots: dict[str, _Snapshot] = {}
        self._static: dict[str, KeySet | KeySetError] = {}
        self._reported: set[str] = set()
        self._lock = threading.Lock()
        # Parsing inline keys holds its own lock, never the one that hands out snapshots.
        self._static_lock = threading.Lock()

    def get_key(self, issuer: IssuerConfig, kid: str | None, alg: str) -> JsonWebKey:
        """The issuer's key for ``kid`` that may verify ``alg``.

        Raises :class:`~django_bearer_guard.exceptions.UnknownKey` when no key of the issuer
        matches (after a refetch, if the cool-down allows one) and
        :class:`~django_bearer_guard.exceptions.KeysUnavailable` when the issuer has no usable
        keys: misconfigured, never fetched successfully, or unreachable beyond the stale window.
        """
        if issuer.problems:
            # A misconfigured issuer (http:// key URL…) is never fetched from: fail closed.
            reason = issuer.problem_summary
            self._report_once(issuer, reason)
            raise KeysUnavailable(f"issuer {issuer.issuer!r} is misconfigured: {reason}")
        if not is_fetched(issuer):
            try:
                keyset = self.static_keyset(issuer)
            except KeySetError as exc:
                self._report_once(issuer, exc.reason)
                raise KeysUnavailable(f"issuer {issuer.issuer!r} has unusable keys: {exc.reason}") from None
            # A shared secret is the issuer's one key, whatever kid a token names.
            key = keyset.find(None if issuer.shared_secret is not None else kid, alg)
        else:
            snap = self.snapshot(issuer)
            key = self._current_keys(issuer, snap).keyset.find(kid, alg)
            if key is None and self._due(snap, unknown_kid=True):
                self._single_flight(issuer, snap, unknown_kid=True, wait_process=False)
                keys = snap.keys
                key = keys.keyset.find(kid, alg) if keys is not None else None
        if key is None:
            raise UnknownKey(f"issuer {issuer.issuer!r} has no key with kid {kid!r} for {alg}")
        return key

    def refresh_now(self, issuer: IssuerConfig) -> KeySet:
        """Fetch the issuer's keys now, whatever the TTL and cool-down, and share them.

        Raises a :class:`~django_bearer_guard.exceptions.KeySetError` when the issuer is
        misconfigured or the fetch fails; the last good keys are kept then. Issuers with
        inline keys or a shared secret are not fetched: their parsed key set is returned.
        """
        if issuer.problems:
            raise KeyFetchError("misconfigured: " + issuer.problem_summary)
        if not is_fetched(issuer):
            return self.static_keyset(issuer)
        snap = self.snapshot(issuer)
        with snap.lock:
            return self._fetch(issuer, snap, "manual")

    def key_status(self, issuer: IssuerConfig) -> KeyStatus:
        """What this process knows of the issuer's keys, after a look at the shared cache; never fetches."""
        if issuer.problems:
            return KeyStatus((), None, None, None, None, issuer.problem_summary)
        if not is_fetched(issuer):
            try:
                return KeyStatus(self.static_keyset(issuer).kids, None, None, None, None, None)
            except KeySetError as exc:
                return KeyStatus((), None, None, None, None, exc.reason)
        snap = self.snapshot(issuer)
        self._sync(issuer, snap, force=True)
        keys, attempt = snap.keys, snap.attempt
        return KeyStatus(
            kids=keys.keyset.kids if keys is not None else (),
            fetched_at=keys.fetched_at if keys is not None else None,
            expires_at=keys.expires_at if keys is not None else None,
            stale_until=self._stale_until(keys) if keys is not None else None,
            last_attempt_at=attempt.at if attempt is not None else None,
            last_error=attempt.error if attempt is not None else None,
        )

    def static_keyset(self, issuer: IssuerConfig) -> KeySet:
        """:func:`~django_bearer_guard.jwks.fetch.static_keyset`, parsed once per key source.

        A refused configuration raises its :class:`~django_bearer_guard.exceptions.KeySetError`
        every time.
        """
        known = self._static.get(issuer.source_id)
        if isinstance(known, KeySet):
            return known  # the hot path: no lock once parsed
        with self._static_lock:
            known = self._static.get(issuer.source_id)
            if known is None:
                try:
                    known = static_keyset(issuer)
                except KeySetError as exc:
                    known = exc
                self._static[issuer.source_id] = known
        if isinstance(known, KeySetError):
            raise type(known)(known.reason)
        return known

    def snapshot(self, issuer: IssuerConfig) -> _Snapshot:
        """The issuer's keys in this process (created empty on first use)."""
        snap = self._snapshots.get(issuer.source_id)
        if snap is None:
            with self._lock:
                snap = self._snapshots.setdefault(issuer.source_id, _Snapshot())
        return snap

    def _report_once(self, issuer: IssuerConfig, message: str) -> None:
        with self._lock:
            if issuer.source_id in self._reported:
                return
            self._reported.add(issuer.source_id)
        logger.warning("bearer_guard: tokens of issuer %s are refused: %s", issuer.name or issuer.issuer, message)

    def _stale_until(self, keys: _Keys) -> float:
        return keys.expires_at + self.settings.jwks_stale_window

    def _ahead(self, keys: _Keys) -> float:
        # A quarter of the TTL at most, so that short TTLs are not refetched continuously.
        return min(self.settings.jwks_refresh_ahead, keys.ttl / 4)

    def _sync(self, issuer: IssuerConfig, snap: _Snapshot, *, force: bool = False) -> None:
        """Take what other processes fetched, at most every SHARED_CHECK_INTERVAL unless forced."""
        now = _clock.now()
        if not force and now - snap.checked_at < SHARED_CHECK_INTERVAL:
            return
        snap.checked_at = now
        entry, attempt = self.shared.read(issuer.source_id)
        if attempt is not None and (snap.attempt is None or attempt.at > snap.attempt.at):
            snap.attempt = attempt
        current = snap.keys
        if entry is None or (current is not None and (
                entry.version == current.version or entry.fetched_at < current.fetched_at)):
            return
        try:
            keyset = KeySet.from_jwks(entry.jwks, allow_symmetric=False)
        except KeySetError as exc:
            logger.warning("bearer_guard: ignoring the shared keys of %s: %s", issuer.name, exc.reason)
            return
        snap.keys = _Keys(keyset, entry.version, entry.fetched_at, entry.ttl)

    def _due(self, snap: _Snapshot, *, unknown_kid: bool) -> bool:
        """Whether a fetch may start now."""
        now, attempt, keys = _clock.now(), snap.attempt, snap.keys
        if unknown_kid:
            # OIDC Core §10.1.1 refetch on an unknown kid, rate-limited: random kids must not
            # turn every request into a request to the issuer.
            return attempt is None or now - attempt.at >= self.settings.jwks_refetch_cooldown
        if keys is not None and now < keys.expires_at - self._ahead(keys):
            return False
        return attempt is None or attempt.error is None or now - attempt.at >= FAILURE_BACKOFF

    def _fetch(self, issuer: IssuerConfig, snap: _Snapshot, trigger: str) -> KeySet:
        started = _clock.now()
        try:
            fetched = fetch_keys(issuer, self.settings, self.discovered)
        except KeySetError as exc:
            logger.warning("bearer_guard: fetching the keys of %r failed: %s", issuer.name, exc.reason)
            snap.attempt = Attempt(started, exc.reason)
            self.shared.store_attempt(issuer.source_id, started, exc.reason)
            self._recorded(issuer, started, trigger, exc.reason, ())
            raise
        entry = self.shared.store_keys(issuer.source_id, fetched.jwks, started, fetched.ttl)
        self.shared.store_attempt(issuer.source_id, started, None)
        snap.keys = _Keys(fetched.keyset, entry.version, started, fetched.ttl)
        snap.attempt = Attempt(started, None)
        logger.info("bearer_guard: fetched %d keys of %r from %s", len(fetched.keyset), issuer.name, fetched.url)
        self._recorded(issuer, started, trigger, None, fetched.keyset.kids)
        return fetched.keyset

    def _recorded(self, issuer: IssuerConfig, at: float, trigger: str, error: str | None,
                  kids: tuple[str | None, ...]) -> None:
        # Key health for operators, in the shared cache: never a database write on the request path.
        outcome = "failed" if error is not None else "fetched"
        event = {"at": at, "outcome": outcome, "error": error, "kids": list(kids), "trigger": trigger}
        self.shared.record(issuer.source_id, event)
        keys_fetched.send(sender=KeyStore, issuer=issuer.issuer, outcome=outcome, kids=kids, error=error)

    def _await_other_process(self, issuer: IssuerConfig, snap: _Snapshot, deadline: float) -> None:
        before = snap.keys
        while time.monotonic() < deadline:
            time.sleep(_POLL_SECONDS)
            self._sync(issuer, snap, force=True)
            if snap.keys is not before:
                return

    def _single_flight(self, issuer: IssuerConfig, snap: _Snapshot, *, unknown_kid: bool, wait_process: bool) -> None:
        """Fetch unless this or another process already is, or the fetch is not due any more."""
        timeout = self.settings.jwks_timeout
        deadline = time.monotonic() + timeout
        acquired = snap.lock.acquire(timeout=timeout) if wait_process or unknown_kid else snap.lock.acquire(False)
        if not acquired:
            return
        try:
            if not self._due(snap, unknown_kid=unknown_kid):
                return  # another thread of this process just fetched
            token = self.shared.acquire_lock(issuer.source_id)
            if token is None:
                if wait_process:
                    self._await_other_process(issuer, snap, deadline)
                return
            try:
                self._sync(issuer, snap, force=True)
                if self._due(snap, unknown_kid=unknown_kid):
                    self._fetch(issuer, snap, "unknown kid" if unknown_kid else "expiry")
            except KeySetError:
                pass  # logged and recorded by _fetch; the last good keys stay
            finally:
                self.shared.release_lock(issuer.source_id, token)
        finally:
            snap.lock.release()

    def _current_keys(self, issuer: IssuerConfig, snap: _Snapshot) -> _Keys:
        self._sync(issuer, snap)
        keys = snap.keys
        now = _clock.now()
        if (keys is None or now >= keys.expires_at - self._ahead(keys)) and self._due(snap, unknown_kid=False):
            if keys is not None and now < keys.expires_at:
                # Valid keys serve this request; one refresh runs beside it, ahead of the expiry.
                self._refresh_in_background(issuer, snap)
            else:
                # Expired keys: one request refreshes them; the others go on with stale keys
                # while it does, and wait only when none are usable.
                usable = keys is not None and now < self._stale_until(keys)
                self._single_flight(issuer, snap, unknown_kid=False, wait_process=not usable)
                keys = snap.keys
        if keys is None or _clock.now() >= self._stale_until(keys):
            attempt = snap.attempt
            error = attempt.error if attempt is not None else None
            state = "no keys" if keys is None else "only keys past the stale window"
            raise KeysUnavailable(f"issuer {issuer.issuer!r} has {state} (last error: {error})")
        return keys

    def _refresh_in_background(self, issuer: IssuerConfig, snap: _Snapshot) -> None:
        """Start one refresh in a thread, unless one runs or one started within SHARED_CHECK_INTERVAL."""
        now = time.monotonic()
        with self._lock:
            if snap.refreshing or now < snap.next_refresh:
                return
            snap.refreshing, snap.next_refresh = True, now + SHARED_CHECK_INTERVAL

        def refresh() -> None:
            try:
                self._single_flight(issuer, snap, unknown_kid=False, wait_process=False)
            finally:
                snap.refreshing = False

        _in_background("key-refresh", refresh)

    def prefetch(self, issuers: Iterable[IssuerConfig]) -> None:
        """Fetch, in one background thread, the keys of every issuer this process has none of yet.

        Issuers that are misconfigured, disabled or not fetched (inline keys, a shared secret)
        are skipped, and so are those whose keys another process already shared.
        """
        targets = [issuer for issuer in issuers if issuer.enabled and not issuer.problems and is_fetched(issuer)]
        if not targets:
            return

        def prefetch() -> None:
            for issuer in targets:
                snap = self.snapshot(issuer)
                self._sync(issuer, snap, force=True)  # what other processes already fetched
                if snap.keys is None and self._due(snap, unknown_kid=False):
                    self._single_flight(issuer, snap, unknown_kid=False, wait_process=False)

        _in_background("key-prefetch", prefetch)
