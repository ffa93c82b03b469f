"""Everything a process derives from the settings, in one object.

:func:`get_runtime` builds a :class:`Runtime` from the parsed ``BEARER_GUARD`` on first use:
the settings, the issuer registry, the key store and the snapshot of the ``TrustedIssuer``
rows. ``setting_changed`` drops it whole (:func:`django_bearer_guard.conf.reload`), so nothing
derived from earlier settings survives. A validator built on it
(:class:`~django_bearer_guard.tokens.validator.TokenValidator`) serves DRF and plain Django
alike.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from django_bearer_guard._expiring import ExpiringLRU
from django_bearer_guard.conf import GuardSettings, get_settings, on_reload
from django_bearer_guard.exceptions import KeySetError
from django_bearer_guard.issuers import database
from django_bearer_guard.issuers.config import IssuerConfig, covers
from django_bearer_guard.issuers.database import DatabaseIssuers
from django_bearer_guard.issuers.registry import IssuerRegistry
from django_bearer_guard.jose.keyset import JsonWebKey, KeySet
from django_bearer_guard.jwks.health import IssuerHealth
from django_bearer_guard.jwks.health import issuer_health as _issuer_health
from django_bearer_guard.jwks.refresh import KeyStatus, KeyStore

if TYPE_CHECKING:
    from django_bearer_guard.models import TrustedIssuer

__all__ = [
    "Runtime",
    "all_health",
    "fetch_now",
    "get_key",
    "get_runtime",
    "health_of_row",
    "install",
    "issuer_health",
    "key_status",
    "refresh_now",
]

logger = logging.getLogger("django_bearer_guard")


class Runtime:
    """The settings and the state derived from them: issuers, their keys, the database rows.

    ``verified`` is the verified-token cache of the validator (``TOKEN_CACHE_SIZE`` entries,
    ``None`` when it is 0).
    """

    def __init__(self, settings: GuardSettings) -> None:
        self.settings = settings
        self.keys = KeyStore(settings)
        self.database = DatabaseIssuers(settings, on_change=self._database_changed)
        sources = (self.database,) if database.installed() else ()
        self.issuers = IssuerRegistry(settings.issuers, sources)
        size = settings.token_cache_size
        self.verified: ExpiringLRU[bytes, Any] | None = ExpiringLRU(size) if size else None
        self._prefetch_started = not settings.prefetch_keys

    def start_prefetch(self) -> None:
        """At the first call (``PREFETCH_KEYS``): fetch every known issuer's keys in the background.

        Known means the settings' issuers and the ``TrustedIssuer`` rows this process has read.
        """
        if self._prefetch_started:
            return
        # Two threads racing here may both start one: the prefetch skips issuers that have keys.
        self._prefetch_started = True
        self.keys.prefetch(self.issuers.known())

    def _database_changed(self) -> None:
        self.issuers.clear()


_runtime: Runtime | None = None
_lock = threading.Lock()


def get_runtime() -> Runtime:
    """The runtime of the current settings (built once, until the settings change)."""
    global _runtime
    runtime = _runtime
    if runtime is None:
        with _lock:
            if _runtime is None:
                _runtime = Runtime(get_settings())
            runtime = _runtime
    return runtime


@on_reload
def _drop() -> None:
    global _runtime
    with _lock:
        _runtime = None


def install() -> None:
    """Make the ``TrustedIssuer`` rows a source of trusted issuers (``AppConfig.ready``)."""
    database.install(lambda: get_runtime().database)
    _drop()


def get_key(issuer: IssuerConfig, kid: str | None, alg: str) -> JsonWebKey:
    """:meth:`KeyStore.get_key <django_bearer_guard.jwks.refresh.KeyStore.get_key>` of the current runtime."""
    return get_runtime().keys.get_key(issuer, kid, alg)


def refresh_now(issuer: IssuerConfig) -> KeySet:
    """:meth:`KeyStore.refresh_now <django_bearer_guard.jwks.refresh.KeyStore.refresh_now>` of the current runtime."""
    return get_runtime().keys.refresh_now(issuer)


def key_status(issuer: IssuerConfig) -> KeyStatus:
    """:meth:`KeyStore.key_status <django_bearer_guard.jwks.refresh.KeyStore.key_status>` of the current runtime."""
    return get_runtime().keys.key_status(issuer)


def issuer_health(config: IssuerConfig, *, origin: str = "settings") -> IssuerHealth:
    """The health of one issuer (its status, keys and fetch history); never fetches."""
    return _issuer_health(get_runtime().keys, config, origin=origin)


def health_of_row(row: TrustedIssuer) -> IssuerHealth:
    """The health of a ``TrustedIssuer`` row; ``shadowed`` when the settings name its issuer (or a template does)."""
    runtime = get_runtime()
    shadowed = covers(runtime.settings.issuers, row.issuer)
    return _issuer_health(runtime.keys, row.to_config(), origin="database", shadowed=shadowed)


def all_health() -> list[IssuerHealth]:
    """Every issuer: the settings', then every ``TrustedIssuer`` row (disabled and shadowed too).

    Reads the rows from the database now: for the admin and the commands, never the request path.
    """
    from django_bearer_guard.models import TrustedIssuer

    runtime = get_runtime()
    healths = [_issuer_health(runtime.keys, config, origin="settings") for config in runtime.settings.issuers]
    return healths + [health_of_row(row) for row in TrustedIssuer.objects.order_by("name", "pk")]


def fetch_now(config: IssuerConfig, *, who: str | None = None) -> IssuerHealth:
    """Fetch the issuer's keys now ("Fetch keys now", ``bearer_guard_refresh_keys``), logged with who asked.

    A failed fetch is recorded and reported in the health returned, never raised.
    """
    label = config.name or config.issuer
    logger.info("bearer_guard: keys of %r fetched on request of %r", label, who or "an operator")
    try:
        get_runtime().keys.refresh_now(config)
    except KeySetError as exc:
        logger.warning("bearer_guard: fetch of the keys of %r on request of %r failed: %s", label,
                       who or "an operator", exc.reason)
    origin = "settings" if config in get_runtime().settings.issuers else "database"
    return _issuer_health(get_runtime().keys, config, origin=origin)
