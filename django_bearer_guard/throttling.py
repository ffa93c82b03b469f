"""DRF throttling for token callers: one bucket per caller of each issuer, rates per scope.

A caller is the token's issuer and its workload (the issuer's ``workload_claim``), or its
subject when the token names no workload. Cache keys hold a SHA-256 of that identity, never a
claim, so they have one length and one alphabet whatever the token carries. The counts live in
the library's shared cache (``CACHE_ALIAS``), so every worker process draws on the same bucket.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from django_bearer_guard import _clock, _shared
from django_bearer_guard._declarations import InvalidDeclaration, throttle_rates_by_scope
from django_bearer_guard.conf import get_settings
from django_bearer_guard.tokens.verified import VerifiedToken

__all__ = ["TokenRateThrottle"]

logger = logging.getLogger("django_bearer_guard.throttling")

# (cache key, requests allowed, window in seconds)
_Bucket = tuple[str, int, int]


def _identity(token: VerifiedToken) -> list[str | None]:
    # A workload and a subject of the same spelling are different callers.
    if token.workload is not None:
        return [token.issuer, "workload", token.workload]
    return [token.issuer, "subject", token.subject]


class TokenRateThrottle(SimpleRateThrottle):
    """Throttle requests with a verified token per caller: its issuer and its workload or subject.

    The rate is ``DEFAULT_THROTTLE_RATES["bearer_token"]`` (read when the throttle is built, so
    ``override_settings`` works), or the ``rate`` of a subclass; without either, DRF raises
    ``ImproperlyConfigured`` when the view is called, as for its own throttles.

    A view may set ``throttle_rates_by_scope = {"reports:read": "100/min"}``. A token holding
    listed scopes is throttled at each of their rates, in a bucket per caller and scope, and
    passes only when every one of them has room (the strictest decides); the default rate does
    not apply to it. A token holding none of them gets the default rate. A request refused by
    one bucket is counted in none. A declaration that cannot be read refuses every request with
    a token (429, logged; ``bearer_guard.E033``).

    Requests without a verified token (anonymous, session users) are not throttled here; add
    DRF's ``AnonRateThrottle`` or ``UserRateThrottle`` for them. While the shared cache does
    not answer, requests are not throttled (the library logs the outage once).
    """

    scope = "bearer_token"
    timer = staticmethod(_clock.now)
    num_requests: int | None
    duration: int | None
    _wait: float | None = None

    def get_rate(self) -> str | None:
        """The rate of :attr:`scope` in ``DEFAULT_THROTTLE_RATES`` (or a subclass's ``THROTTLE_RATES``)."""
        rates: Mapping[str, Any] = self.THROTTLE_RATES
        if rates is SimpleRateThrottle.THROTTLE_RATES:
            rates = api_settings.DEFAULT_THROTTLE_RATES  # DRF's class attribute keeps the settings of import time
        if not self.scope:
            return super().get_rate()
        try:
            rate: str | None = rates[self.scope]
        except KeyError:
            raise ImproperlyConfigured(
                f"No default throttle rate set for {self.scope!r} scope: add it to "
                "REST_FRAMEWORK['DEFAULT_THROTTLE_RATES'] or set rate on a subclass of TokenRateThrottle."
            ) from None
        return rate

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        """The cache key of the caller's default bucket; ``None`` without a verified token."""
        token = request.auth
        return self._key(token, None) if isinstance(token, VerifiedToken) else None

    def _key(self, token: VerifiedToken, scope: str | None) -> str:
        # Claims are attacker-chosen: hashed, they cannot break or lengthen a memcached key.
        encoded = json.dumps([*_identity(token), scope]).encode("ascii")
        ident = hashlib.sha256(encoded).hexdigest()
        return str(self.cache_format % {"scope": self.scope, "ident": ident})

    def _buckets(self, request: Request, token: VerifiedToken, view: APIView) -> list[_Bucket]:
        rates = throttle_rates_by_scope(view)
        held = sorted(rates.keys() & token.scopes)
        buckets: list[_Bucket] = []
        for scope in held:
            allowed, window = rates[scope]
            # A bucket per rate too: a view's shorter window must not trim another view's count of the scope.
            buckets.append((self._key(token, f"{scope} {allowed}/{window}"), allowed, window))
        if buckets:
            return buckets
        key = self.get_cache_key(request, view)
        if key is None or self.num_requests is None or self.duration is None:
            return []  # a rate of None: DRF's way of switching a throttle off
        return [(key, self.num_requests, self.duration)]

    def allow_request(self, request: Request, view: APIView) -> bool:
        """Count the request in each of the caller's buckets, or refuse it when one is full."""
        self._wait = None
        token = request.auth
        if not isinstance(token, VerifiedToken):
            return True
        try:
            buckets = self._buckets(request, token, view)
        except InvalidDeclaration as exc:
            # Fail closed: a rate that cannot be read must not become no rate.
            logger.error("%s: %s; request refused", type(view).__qualname__, exc)
            return False
        if not buckets:
            return True
        self.now = now = self.timer()
        settings = get_settings()
        try:
            waits = _shared.call(settings.cache_alias, settings.cache_timeout, lambda cache: _take(cache, buckets, now))
        except _shared.SharedCacheUnavailable:
            return True
        if not waits:
            return True
        self._wait = max((wait for wait in waits if wait is not None), default=None)
        return False

    def wait(self) -> float | None:
        """Seconds until the fullest bucket has room (DRF's ``Retry-After``); ``None`` when it never will."""
        return self._wait


def _take(cache: Any, buckets: list[_Bucket], now: float) -> list[float | None]:
    """Record ``now`` in every bucket and return ``[]``, or, when some are full, record nothing
    and return how long each full one waits (``None``: never, for a rate of 0)."""
    histories: dict[str, Any] = cache.get_many([key for key, _, _ in buckets])
    waits: list[float | None] = []
    kept: list[tuple[str, list[float], int]] = []
    for key, allowed, window in buckets:
        stored = histories.get(key, [])
        # A writer to the shared cache must not make every request of a caller fail (and pause the cache):
        # an entry that is not a list of numbers is no history, as if it had been deleted.
        if not isinstance(stored, list) or not all(type(stamp) in (int, float) for stamp in stored):
            stored = []
        # Newest first, as DRF keeps them: drop what left the window.
        history = [stamp for stamp in stored if stamp > now - window]
        if len(history) >= allowed:
            waits.append(history[allowed - 1] + window - now if allowed else None)
        kept.append((key, history, window))
    if waits:
        return waits
    for key, history, window in kept:
        cache.set(key, [now, *history], window)
    return []
