"""The health of an issuer's keys, for operators: one status, the keys served, the fetch history.

Everything here is read from what the key store already knows and from the shared cache,
where every process records its fetches (:meth:`SharedKeyCache.record
<django_bearer_guard.jwks.cache.SharedKeyCache.record>`); nothing fetches, nothing writes to
the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django_bearer_guard import _clock
from django_bearer_guard.exceptions import KeySetError
from django_bearer_guard.issuers.config import IssuerConfig
from django_bearer_guard.jose.keyset import JsonWebKey
from django_bearer_guard.jwks.fetch import is_fetched
from django_bearer_guard.jwks.refresh import KeyStore

__all__ = ["STATUSES", "HealthEvent", "IssuerHealth", "KeyInfo", "issuer_health", "key_info", "key_source"]

STATUSES = ("healthy", "stale", "failing", "misconfigured", "disabled", "shadowed", "not fetched yet")
"""Every status an issuer can have, the same in the admin, the commands and the logs."""


@dataclass(frozen=True)
class KeyInfo:
    """One key an issuer serves, described without its key material."""

    kid: str | None
    kty: str
    crv: str | None
    size: int | None
    """The RSA modulus size in bits; ``None`` for other key types."""
    alg: str | None
    use: str | None
    thumbprint: str | None
    """RFC 7638 SHA-256 thumbprint, base64url; ``None`` for a shared secret."""


@dataclass(frozen=True)
class HealthEvent:
    """One fetch attempt of any process."""

    at: float
    outcome: str
    """``"fetched"`` or ``"failed"``."""
    error: str | None
    kids: tuple[str | None, ...]
    trigger: str
    """``"expiry"``, ``"unknown kid"`` or ``"manual"``."""


@dataclass(frozen=True)
class IssuerHealth:
    """An issuer's status, keys and fetch history, as this process sees them."""

    config: IssuerConfig
    origin: str
    """``"settings"`` or ``"database"``."""
    status: str
    """One of :data:`STATUSES`."""
    source: str
    keys: tuple[KeyInfo, ...]
    last_attempt_at: float | None
    last_success_at: float | None
    last_error: str | None
    expires_at: float | None
    stale_until: float | None
    history: tuple[HealthEvent, ...]
    problems: tuple[str, ...]


def key_info(key: JsonWebKey) -> KeyInfo:
    """What may be shown of ``key``."""
    public = key.public_jwk
    size = getattr(key.key, "key_size", None) if key.kty == "RSA" else None
    return KeyInfo(
        kid=key.kid,
        kty=key.kty,
        crv=_text(public.get("crv")),
        size=size if isinstance(size, int) else None,
        alg=_text(public.get("alg")),
        use=_text(public.get("use")),
        thumbprint=key.thumbprint(),
    )


def key_source(config: IssuerConfig) -> str:
    """Where the issuer's keys come from, in words."""
    if config.jwks_uri:
        return "jwks_uri"
    if config.discovery:
        return "discovery"
    if config.jwks is not None:
        return "inline jwks"
    return "shared secret" if config.shared_secret is not None else "none"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _event(raw: Mapping[str, Any]) -> HealthEvent | None:
    at, outcome, error, kids, trigger = (raw.get(k) for k in ("at", "outcome", "error", "kids", "trigger"))
    if not (isinstance(at, (int, float)) and outcome in ("fetched", "failed") and isinstance(trigger, str)
            and (error is None or isinstance(error, str)) and isinstance(kids, list)):
        return None
    return HealthEvent(float(at), outcome, error, tuple(k if isinstance(k, str) else None for k in kids), trigger)


def issuer_health(keys: KeyStore, config: IssuerConfig, *, origin: str, shadowed: bool = False) -> IssuerHealth:
    """The health of ``config`` from what ``keys`` and the shared cache know; never fetches.

    ``shadowed`` marks a database row whose ``issuer`` the settings also name (the settings win).
    """
    problems = tuple(problem.msg for problem in config.problems)
    base: dict[str, Any] = {
        "config": config, "origin": origin, "source": key_source(config), "keys": (), "last_attempt_at": None,
        "last_success_at": None, "last_error": None, "expires_at": None, "stale_until": None, "history": (),
        "problems": problems,
    }
    fetched_at: float | None = None
    if not config.problems and not is_fetched(config):
        try:
            served = tuple(key_info(key) for key in keys.static_keyset(config).keys)
        except KeySetError as exc:
            base["problems"] = (*problems, exc.reason)
        else:
            base["keys"] = served
    elif not config.problems:
        status = keys.key_status(config)
        fetched_at = status.fetched_at
        snapshot = keys.snapshot(config).keys
        events, success = keys.shared.read_history(config.source_id)
        base.update(
            keys=tuple(key_info(key) for key in snapshot.keyset.keys) if snapshot is not None else (),
            last_attempt_at=status.last_attempt_at,
            last_success_at=success if success is not None else status.fetched_at,
            last_error=status.last_error,
            expires_at=status.expires_at,
            stale_until=status.stale_until,
            history=tuple(event for event in map(_event, events) if event is not None),
        )
    return IssuerHealth(status=_status(config, shadowed, fetched_at, base), **base)


def _status(config: IssuerConfig, shadowed: bool, fetched_at: float | None, health: Mapping[str, Any]) -> str:
    if shadowed or not config.enabled:
        return "shadowed" if shadowed else "disabled"
    if health["problems"]:
        return "misconfigured"
    if not is_fetched(config):
        return "healthy"
    if fetched_at is None:
        return "failing" if health["last_error"] is not None else "not fetched yet"
    if _clock.now() >= health["stale_until"]:
        return "failing"
    # The last attempt came after the keys it serves and failed: the last good keys are serving.
    failed_since = health["last_error"] is not None and health["last_attempt_at"] >= fetched_at
    return "stale" if failed_since else "healthy"
