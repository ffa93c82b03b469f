"""The issuers' raw key sets in the Django cache that every worker process shares.

Three keys per issuer and key source (``IssuerConfig.source_id``, so a changed configuration
never reads another configuration's keys): the last good JWK Set with its ``fetched_at``, TTL
and version; the last fetch attempt with its error; and a short lock so one process fetches
at a time. A broken cache is logged and read as empty: the keys then live per process only.

The cache may be writable by more than this library (other apps, a shared Redis), so the key
set and attempt entries carry an HMAC-SHA256 tag keyed from ``SECRET_KEY`` (fallbacks
accepted) and bound to the entry's own cache key. An entry without a valid tag, or not shaped
like ours, is logged and read as absent; times read back are clamped to this process's clock
and the TTL to [``JWKS_MIN_TTL``, ``JWKS_MAX_TTL``].
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from django.core.cache import BaseCache
from django.core.signing import BadSignature, Signer

from django_bearer_guard import _clock, _shared
from django_bearer_guard.conf import GuardSettings
from django_bearer_guard.jwks.fetch import clamp_ttl

__all__ = ["CLOCK_SKEW", "HISTORY_LENGTH", "Attempt", "CachedJwks", "SharedKeyCache", "cache_keys", "history_key"]

logger = logging.getLogger("django_bearer_guard")

T = TypeVar("T")

# Seconds an abandoned lock (a process that died mid-fetch) outlives the fetch deadline.
LOCK_MARGIN = 5
# Seconds entries outlive the instant they become useless, so clocks a little apart agree.
EXPIRY_MARGIN = 60
CLOCK_SKEW = 60
"""Seconds a shared ``fetched_at`` or attempt time may lie ahead of this process's clock."""
_SALT = "django_bearer_guard.jwks.cache"
_MAX_REMEMBERED = 1024

@dataclass(frozen=True)
class CachedJwks:
    """A JWK Set as fetched by some process: the raw document, when, for how long, which version."""

    jwks: dict[str, Any]
    fetched_at: float
    ttl: int
    version: str


@dataclass(frozen=True)
class Attempt:
    """The last fetch attempt of any process: when, and its error (``None`` for a success)."""

    at: float
    error: str | None


def cache_keys(source_id: str) -> tuple[str, str, str]:
    """The shared cache keys (keys, attempt, lock) of one issuer and key source."""
    # "v2": tagged entries; the untagged ones of earlier versions are left to expire unread.
    return (f"bearer_guard:jwks:v2:{source_id}", f"bearer_guard:jwks-attempt:v2:{source_id}",
            f"bearer_guard:jwks-lock:{source_id}")


def _signer() -> Signer:
    # Django's salted HMAC-SHA256 from SECRET_KEY; SECRET_KEY_FALLBACKS verify during a rotation.
    return Signer(salt=_SALT, algorithm="sha256")


def _broken(action: str, exc: Exception) -> None:
    # An unusable cache was logged once for its outage by _shared; anything else is logged here.
    if not isinstance(exc, _shared.SharedCacheUnavailable):
        logger.warning("bearer_guard: shared cache unusable while %s: %s: %s", action, type(exc).__name__, exc)


def _seal(signer: Signer, key: str, data: dict[str, Any]) -> dict[str, str]:
    payload = json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return {"payload": payload, "tag": signer.signature(f"{key}\n{payload}")}


def _fingerprint(value: Any) -> str:
    tag = value.get("tag") if isinstance(value, Mapping) else None
    return tag if isinstance(tag, str) else hashlib.sha256(repr(value).encode()).hexdigest()


def _time(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


HISTORY_LENGTH = 20
"""Fetch attempts kept per issuer and key source in the shared history, newest first."""


def history_key(source_id: str) -> str:
    """The shared cache key of one key source's fetch history."""
    return f"bearer_guard:jwks-history:v1:{source_id}"


class SharedKeyCache:
    """The shared cache entries of every issuer, as one process reads and writes them.

    It remembers which bad entries it already logged and the clamped time of entries dated
    ahead, so that reading the same entry again does not push its time further ahead.
    """

    def __init__(self, settings: GuardSettings) -> None:
        self.settings = settings
        self._reported: set[tuple[str, str]] = set()
        self._bounds: dict[str, float] = {}
        self._lock = threading.Lock()

    def _call(self, action: Callable[[BaseCache], T]) -> T:
        return _shared.call(self.settings.cache_alias, self.settings.cache_timeout, action)

    def _reject(self, key: str, fingerprint: str, reason: str) -> None:
        # Once per distinct entry, not at every look; never its content, which may hold keys.
        with self._lock:
            if (key, fingerprint) in self._reported:
                return
            if len(self._reported) >= _MAX_REMEMBERED:
                self._reported.clear()
            self._reported.add((key, fingerprint))
        logger.warning("bearer_guard: ignoring the shared cache entry %s: %s", key, reason)

    def _open(self, signer: Signer, key: str, value: Any) -> tuple[dict[str, Any], str] | None:
        """The authenticated content and tag of an entry, or ``None`` (logged) for anything we did not write."""
        if value is None:
            return None
        payload, tag = (value.get("payload"), value.get("tag")) if isinstance(value, Mapping) else (None, None)
        if not (isinstance(payload, str) and isinstance(tag, str)):
            self._reject(key, _fingerprint(value), "not an entry of this library (no tag)")
            return None
        try:
            # Cache poisoning: only entries this library wrote under this very key are believed.
            signer.unsign(f"{key}\n{payload}:{tag}")
        except BadSignature:
            self._reject(key, tag, "bad tag (written by something else, under another key, or with another SECRET_KEY)")
            return None
        data = json.loads(payload)
        if not isinstance(data, dict):
            self._reject(key, tag, "unexpected shape")
            return None
        return data, tag

    def _not_ahead(self, tag: str, at: float, now: float) -> float:
        # Key pinning: a time far ahead would keep keys, or hold off refetches, for years.
        if at <= now + CLOCK_SKEW:
            return at
        with self._lock:
            if tag not in self._bounds and len(self._bounds) >= _MAX_REMEMBERED:
                self._bounds.clear()
            return self._bounds.setdefault(tag, now + CLOCK_SKEW)

    def _entry(self, key: str, opened: tuple[dict[str, Any], str] | None, now: float) -> CachedJwks | None:
        if opened is None:
            return None
        data, tag = opened
        if not (isinstance(data.get("jwks"), dict) and _time(data.get("fetched_at"))
                and isinstance(data.get("ttl"), int) and isinstance(data.get("version"), str)):
            self._reject(key, tag, "unexpected shape")
            return None
        # An absurd TTL (an older format, other settings) must not keep a key set beyond JWKS_MAX_TTL.
        ttl = clamp_ttl(data["ttl"], self.settings)
        return CachedJwks(data["jwks"], self._not_ahead(tag, float(data["fetched_at"]), now), ttl, data["version"])

    def _attempt(self, key: str, opened: tuple[dict[str, Any], str] | None, now: float) -> Attempt | None:
        if opened is None:
            return None
        data, tag = opened
        if not (_time(data.get("at")) and (data.get("error") is None or isinstance(data.get("error"), str))):
            self._reject(key, tag, "unexpected shape")
            return None
        return Attempt(self._not_ahead(tag, float(data["at"]), now), data["error"])

    def read(self, source_id: str) -> tuple[CachedJwks | None, Attempt | None]:
        """The shared key set and last attempt of one issuer, in one cache round trip.

        Entries without a valid tag, or of the wrong shape, are logged and read as absent;
        ``fetched_at`` and the attempt time are clamped to at most now + :data:`CLOCK_SKEW`, the TTL to
        [``JWKS_MIN_TTL``, ``JWKS_MAX_TTL``].
        """
        keys_key, attempt_key, _ = cache_keys(source_id)
        try:
            signer = _signer()
            values = self._call(lambda cache: cache.get_many([keys_key, attempt_key]))
        except Exception as exc:  # any backend failure (or no SECRET_KEY) means "nothing shared"
            _broken("reading keys", exc)
            return None, None
        now = _clock.now()
        keys = self._entry(keys_key, self._open(signer, keys_key, values.get(keys_key)), now)
        attempt = self._attempt(attempt_key, self._open(signer, attempt_key, values.get(attempt_key)), now)
        return keys, attempt

    def store_keys(self, source_id: str, jwks: dict[str, Any], fetched_at: float, ttl: int) -> CachedJwks:
        """Share a freshly fetched JWK Set with the other processes; returns it with a new version."""
        entry = CachedJwks(jwks, fetched_at, ttl, uuid.uuid4().hex)
        key = cache_keys(source_id)[0]
        data = {"jwks": jwks, "fetched_at": fetched_at, "ttl": ttl, "version": entry.version}
        try:
            sealed, timeout = _seal(_signer(), key, data), ttl + self.settings.jwks_stale_window + EXPIRY_MARGIN
            self._call(lambda cache: cache.set(key, sealed, timeout=timeout))
        except Exception as exc:
            _broken("storing keys", exc)
        return entry

    def store_attempt(self, source_id: str, at: float, error: str | None) -> None:
        """Record a fetch attempt, so the cool-down and back-off hold across processes."""
        timeout = self.settings.jwks_max_ttl + self.settings.jwks_stale_window + EXPIRY_MARGIN
        key = cache_keys(source_id)[1]
        try:
            sealed = _seal(_signer(), key, {"at": at, "error": error})
            self._call(lambda cache: cache.set(key, sealed, timeout=timeout))
        except Exception as exc:
            _broken("recording a fetch", exc)

    def acquire_lock(self, source_id: str) -> str | None:
        """Take the cross-process fetch lock: a token to release it with, or ``None`` when another holds it.

        With a broken cache the lock is granted: each process then fetches on its own.
        """
        token = uuid.uuid4().hex
        timeout = math.ceil(self.settings.jwks_timeout) + LOCK_MARGIN
        try:
            key = cache_keys(source_id)[2]
            return token if self._call(lambda cache: cache.add(key, token, timeout=timeout)) else None
        except Exception as exc:
            _broken("taking the fetch lock", exc)
            return token

    def release_lock(self, source_id: str, token: str) -> None:
        """Release the fetch lock if it is still ``token``'s (it may have expired and been retaken)."""
        key = cache_keys(source_id)[2]
        def release(cache: BaseCache) -> None:
            if cache.get(key) == token:
                cache.delete(key)

        try:
            self._call(release)
        except Exception as exc:
            _broken("releasing the fetch lock", exc)

    def read_history(self, source_id: str) -> tuple[list[dict[str, Any]], float | None]:
        """The shared fetch history (newest first) and the time of the last success.

        Entries are shaped as :meth:`record` writes them; anything else is logged and read as empty.
        """
        key = history_key(source_id)
        try:
            opened = self._open(_signer(), key, self._call(lambda cache: cache.get(key)))
        except Exception as exc:
            _broken("reading the fetch history", exc)
            return [], None
        if opened is None:
            return [], None
        data, tag = opened
        events, success = data.get("events"), data.get("last_success_at")
        if not (isinstance(events, list) and all(isinstance(e, dict) for e in events)
                and (success is None or _time(success))):
            self._reject(key, tag, "unexpected shape")
            return [], None
        now = _clock.now()
        return events[:HISTORY_LENGTH], None if success is None else self._not_ahead(tag, float(success), now)

    def record(self, source_id: str, event: dict[str, Any]) -> None:
        """Add a fetch attempt to the shared history (read, prepend, write back: best effort)."""
        events, success = self.read_history(source_id)
        if event.get("outcome") == "fetched":
            success = event["at"]
        data = {"events": [event, *events][:HISTORY_LENGTH], "last_success_at": success}
        key = history_key(source_id)
        timeout = self.settings.jwks_max_ttl + self.settings.jwks_stale_window + EXPIRY_MARGIN
        try:
            sealed = _seal(_signer(), key, data)
            self._call(lambda cache: cache.set(key, sealed, timeout=timeout))
        except Exception as exc:
            _broken("recording the fetch history", exc)
