"""Everything a process derives from the settings, in one object.

:func:`get_runtime` builds a :class:`Runtime` from the parsed ``BEARER_GUARD`` on first use:
the settings, the issuer registry, the key store and the snapshot of the ``TrustedIssuer``
rows. ``setting_changed`` drops it whole (:func:`django_bearer_guard.conf.reload`), so nothing
derived from earlier settings survives. A validator built on it
(:class:`~django_bearer_guard.tokens.validator.TokenValidator`) serves DRF and plain Django
alike.
"""

from __future__ import annotations

import threading

from django_bearer_guard.conf import GuardSettings, get_settings, on_reload
from django_bearer_guard.issuers import database
from django_bearer_guard.issuers.config import IssuerConfig
from django_bearer_guard.issuers.database import DatabaseIssuers
from django_bearer_guard.issuers.registry import IssuerRegistry
from django_bearer_guard.jose.keyset import JsonWebKey, KeySet
from django_bearer_guard.jwks.refresh import KeyStatus, KeyStore

__all__ = ["Runtime", "get_key", "get_runtime", "install", "key_status", "refresh_now"]


class Runtime:
    """The settings and the state derived from them: issuers, their keys, the database rows."""

    def __init__(self, settings: GuardSettings) -> None:
        self.settings = settings
        self.keys = KeyStore(settings)
        self.database = DatabaseIssuers(settings, on_change=self._database_changed)
        sources = (self.database,) if database.installed() else ()
        self.issuers = IssuerRegistry(settings.issuers, sources)

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
