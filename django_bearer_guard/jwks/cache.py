"""The issuers' raw key sets in the Django cache that every worker process shares.

Three keys per issuer and key source (``IssuerConfig.source_id``, so a changed configuration
never reads another configuration's keys): the last good JWK Set with its ``fetched_at``, TTL
and version; the last fetch attempt with its error; and a short lock so one process fetches
at a time. A broken cache is logged and read as empty: the keys then live per process only.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.cache import BaseCache, caches

from django_bearer_guard.conf import GuardSettings

__all__ = [
    "Attempt",
    "CachedJwks",
    "acquire_lock",
    "cache_keys",
    "read",
    "release_lock",
    "store_attempt",
    "store_keys",
]

logger = logging.getLogger("django_bearer_guard")

# Seconds an abandoned lock (a process that died mid-fetch) outlives the fetch deadline.
LOCK_MARGIN = 5
# Seconds entries outlive the instant they become useless, so clocks a little apart agree.
EXPIRY_MARGIN = 60


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
    return (f"bearer_guard:jwks:{source_id}", f"bearer_guard:jwks-attempt:{source_id}",
            f"bearer_guard:jwks-lock:{source_id}")


def _cache(settings: GuardSettings) -> BaseCache:
    return caches[settings.cache_alias]


def _broken(action: str, exc: Exception) -> None:
    logger.warning("bearer_guard: shared cache unusable while %s: %s: %s", action, type(exc).__name__, exc)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _entry(value: Any) -> CachedJwks | None:
    # The cache may be shared with other code: anything not shaped like our entry is ignored.
    if not (isinstance(value, Mapping) and isinstance(value.get("jwks"), dict)
            and _number(value.get("fetched_at")) and isinstance(value.get("ttl"), int)
            and isinstance(value.get("version"), str)):
        return None
    return CachedJwks(value["jwks"], float(value["fetched_at"]), value["ttl"], value["version"])


def _attempt(value: Any) -> Attempt | None:
    if not (isinstance(value, Mapping) and _number(value.get("at"))
            and (value.get("error") is None or isinstance(value.get("error"), str))):
        return None
    return Attempt(float(value["at"]), value["error"])


def read(settings: GuardSettings, source_id: str) -> tuple[CachedJwks | None, Attempt | None]:
    """The shared key set and last attempt of one issuer, in one cache round trip."""
    keys_key, attempt_key, _ = cache_keys(source_id)
    try:
        values = _cache(settings).get_many([keys_key, attempt_key])
    except Exception as exc:  # any backend failure means "nothing shared"
        _broken("reading keys", exc)
        return None, None
    return _entry(values.get(keys_key)), _attempt(values.get(attempt_key))


def store_keys(settings: GuardSettings, source_id: str, jwks: dict[str, Any], fetched_at: float,
               ttl: int) -> CachedJwks:
    """Share a freshly fetched JWK Set with the other processes; returns it with a new version."""
    entry = CachedJwks(jwks, fetched_at, ttl, uuid.uuid4().hex)
    value = {"jwks": jwks, "fetched_at": fetched_at, "ttl": ttl, "version": entry.version}
    try:
        _cache(settings).set(cache_keys(source_id)[0], value,
                             timeout=ttl + settings.jwks_stale_window + EXPIRY_MARGIN)
    except Exception as exc:
        _broken("storing keys", exc)
    return entry


def store_attempt(settings: GuardSettings, source_id: str, at: float, error: str | None) -> None:
    """Record a fetch attempt, so the cool-down and back-off hold across processes."""
    timeout = settings.jwks_max_ttl + settings.jwks_stale_window + EXPIRY_MARGIN
    try:
        _cache(settings).set(cache_keys(source_id)[1], {"at": at, "error": error}, timeout=timeout)
    except Exception as exc:
        _broken("recording a fetch", exc)


def acquire_lock(settings: GuardSettings, source_id: str) -> str | None:
    """Take the cross-process fetch lock: a token to release it with, or ``None`` when another holds it.

    With a broken cache the lock is granted: each process then fetches on its own.
    """
    token = uuid.uuid4().hex
    timeout = math.ceil(settings.jwks_timeout) + LOCK_MARGIN
    try:
        return token if _cache(settings).add(cache_keys(source_id)[2], token, timeout=timeout) else None
    except Exception as exc:
        _broken("taking the fetch lock", exc)
        return token


def release_lock(settings: GuardSettings, source_id: str, token: str) -> None:
    """Release the fetch lock if it is still ``token``'s (it may have expired and been retaken)."""
    key = cache_keys(source_id)[2]
    try:
        cache = _cache(settings)
        if cache.get(key) == token:
            cache.delete(key)
    except Exception as exc:
        _broken("releasing the fetch lock", exc)
