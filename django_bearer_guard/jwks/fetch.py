"""Fetch an issuer's JWK Set over HTTP, or build the key set of an issuer that is never fetched."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

from django_bearer_guard import _clock
from django_bearer_guard._http import get_json
from django_bearer_guard._urls import peer_address_problem
from django_bearer_guard.conf import GuardSettings
from django_bearer_guard.exceptions import KeyFetchError, WeakKey
from django_bearer_guard.issuers.config import IssuerConfig
from django_bearer_guard.jose.algorithms import ALGORITHMS, HMAC_ALGORITHMS
from django_bearer_guard.jose.keyset import JsonWebKey, KeySet
from django_bearer_guard.jwks.discovery import discover_jwks_uri

__all__ = ["DiscoveredUris", "FetchedKeys", "clamp_ttl", "fetch_keys", "is_fetched", "static_keyset"]

@dataclass(frozen=True)
class FetchedKeys:
    """A fetched and checked JWK Set: the raw document, its parsed keys and its lifetime."""

    jwks: dict[str, Any]
    keyset: KeySet
    ttl: int
    url: str


def is_fetched(issuer: IssuerConfig) -> bool:
    """True when the issuer's keys come over HTTP (``jwks_uri`` or discovery)."""
    return bool(issuer.jwks_uri) or issuer.discovery


def clamp_ttl(max_age: int | None, settings: GuardSettings) -> int:
    """``Cache-Control: max-age`` clamped to [JWKS_MIN_TTL, JWKS_MAX_TTL]; absent means the minimum."""
    if max_age is None:
        return settings.jwks_min_ttl
    return min(max(max_age, settings.jwks_min_ttl), settings.jwks_max_ttl)


class DiscoveredUris:
    """The ``jwks_uri`` discovery found, per issuer and key source, kept for the metadata's own lifetime.

    The lifetime is the metadata's ``Cache-Control: max-age`` clamped to [``JWKS_MIN_TTL``,
    ``JWKS_MAX_TTL``], like a key set's; a key fetch from a remembered URL that fails forgets it.
    """

    def __init__(self) -> None:
        self._known: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def get(self, source_id: str) -> str | None:
        """The remembered ``jwks_uri`` of ``source_id``, unless it has expired."""
        known = self._known.get(source_id)
        return known[0] if known is not None and _clock.now() < known[1] else None

    def remember(self, source_id: str, jwks_uri: str, ttl: int) -> None:
        """Keep ``jwks_uri`` for ``ttl`` seconds."""
        with self._lock:
            self._known[source_id] = (jwks_uri, _clock.now() + ttl)

    def forget(self, source_id: str) -> None:
        """Discover again at the next fetch."""
        with self._lock:
            self._known.pop(source_id, None)


def fetch_keys(issuer: IssuerConfig, settings: GuardSettings, discovered: DiscoveredUris | None = None) -> FetchedKeys:
    """Fetch and parse the issuer's JWK Set, discovery included, within ``JWKS_TIMEOUT`` in total.

    With ``discovered``, the metadata is read again only when its lifetime is over, or when the
    remembered ``jwks_uri`` fails (then once more within the same deadline). Raises a
    :class:`~django_bearer_guard.exceptions.KeySetError`: ``KeyFetchError`` when nothing usable
    arrived, or the parse error of a refused set (weak keys, duplicate kids…).
    """
    deadline = time.monotonic() + settings.jwks_timeout
    if issuer.jwks_uri:
        return _fetch_from(issuer.jwks_uri, issuer, settings, deadline)
    if not issuer.discovery:
        raise KeyFetchError(f"issuer {issuer.issuer!r} has no key URL")
    remembered = discovered.get(issuer.source_id) if discovered is not None else None
    if remembered is not None and discovered is not None:
        try:
            return _fetch_from(remembered, issuer, settings, deadline)
        except KeyFetchError:
            # The issuer may have moved its keys: read its metadata again.
            discovered.forget(issuer.source_id)
    found = discover_jwks_uri(
        issuer.issuer,
        deadline=deadline,
        max_bytes=settings.jwks_max_bytes,
        allow_http_loopback=settings.allow_http_loopback,
        jwks_hosts=issuer.jwks_hosts,
    )
    fetched = _fetch_from(found.jwks_uri, issuer, settings, deadline)
    if discovered is not None:
        discovered.remember(issuer.source_id, found.jwks_uri, clamp_ttl(found.max_age, settings))
    return fetched


def _fetch_from(url: str, issuer: IssuerConfig, settings: GuardSettings, deadline: float) -> FetchedKeys:
    # A discovered URL came from the issuer's metadata: whatever its name resolves to must be public.
    loopback = settings.allow_http_loopback
    response = get_json(
        url,
        timeout=max(deadline - time.monotonic(), 0.001),
        max_bytes=settings.jwks_max_bytes,
        allow_http_loopback=loopback,
        peers=None if issuer.jwks_uri else partial(peer_address_problem, allow_loopback=loopback),
    )
    # RFC 8725 §3.2: HMAC keys never come from a published key set (key confusion).
    keyset = KeySet.from_jwks(response.data, allow_symmetric=False)
    return FetchedKeys(response.data, keyset, clamp_ttl(response.max_age, settings), url)


def static_keyset(issuer: IssuerConfig) -> KeySet:
    """The key set of an issuer configured with inline ``jwks`` or a ``shared_secret``.

    Raises the :class:`~django_bearer_guard.exceptions.KeySetError` of a refused
    configuration. The shared secret becomes one ``oct`` key without a ``kid``, allowed for
    the issuer's HS algorithms whose minimum key length it meets.
    """
    if issuer.jwks is not None:
        return KeySet.from_jwks(issuer.jwks, allow_symmetric=False)
    if issuer.shared_secret is None:
        raise KeyFetchError(f"issuer {issuer.issuer!r} has no inline keys")
    secret = issuer.shared_secret
    # RFC 7518 §3.2: an HMAC key shorter than the hash output is refused.
    algorithms = frozenset(
        alg for alg in issuer.algorithms
        if alg in HMAC_ALGORITHMS and len(secret) >= ALGORITHMS[alg].min_secret_bytes
    )
    if not algorithms:
        raise WeakKey(f"the shared secret of {issuer.issuer!r} is too short for {list(issuer.algorithms)}")
    return KeySet((JsonWebKey(None, "oct", algorithms, secret, {"kty": "oct"}),))
