"""Prometheus metrics from the library's signals (the ``[prometheus]`` extra, ``prometheus_client``).

Importing this module registers on ``prometheus_client``'s default registry:

- ``bearer_guard_tokens_accepted_total{issuer}`` (``token_validated``),
- ``bearer_guard_tokens_refused_total{issuer, reason}`` (``token_rejected``; ``reason`` is the
  name of the refusal's class in :mod:`django_bearer_guard.exceptions`),
- ``bearer_guard_key_fetches_total{issuer, outcome}`` (``keys_fetched``; ``"fetched"`` or ``"failed"``),
- ``bearer_guard_keys_age_seconds{issuer}`` and ``bearer_guard_issuer_status{issuer, status}``,
  computed at each scrape from the shared cache (:class:`KeyHealthCollector`),
- ``bearer_guard_token_cache_hits_total`` and ``bearer_guard_token_cache_misses_total``, the
  lookups in the verified-token cache (``TOKEN_CACHE_SIZE``).

An ``issuer`` label only ever holds the ``issuer`` of a configured issuer (a settings entry, a
template's own string, a ``TrustedIssuer`` row), :data:`UNTRUSTED` for a token whose ``iss`` is
not trusted and :data:`NO_ISSUER` for one without a readable ``iss``: what callers send never
adds label values. :func:`metrics_view` serves the metrics, from every worker process when
``PROMETHEUS_MULTIPROC_DIR`` is set.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe
from prometheus_client import REGISTRY, CollectorRegistry, Counter
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from django_bearer_guard import _clock, exceptions
from django_bearer_guard.exceptions import BearerGuardError, UntrustedIssuer
from django_bearer_guard.jose.compact import decode_json, parse_compact
from django_bearer_guard.jwks.fetch import is_fetched
from django_bearer_guard.jwks.health import STATUSES, issuer_health
from django_bearer_guard.runtime import get_runtime
from django_bearer_guard.signals import keys_fetched, token_rejected, token_validated
from django_bearer_guard.tokens import validator
from django_bearer_guard.tokens.credentials import parse_authorization
from django_bearer_guard.tokens.verified import VerifiedToken

__all__ = [
    "KEY_FETCHES",
    "KEY_HEALTH",
    "NO_ISSUER",
    "TOKENS_ACCEPTED",
    "TOKENS_REFUSED",
    "TOKEN_CACHE_HITS",
    "TOKEN_CACHE_MISSES",
    "UNTRUSTED",
    "KeyHealthCollector",
    "metrics_view",
]

logger = logging.getLogger("django_bearer_guard")

UNTRUSTED = "untrusted"
"""The ``issuer`` label of a refused token whose ``iss`` names no trusted issuer."""
NO_ISSUER = "none"
"""The ``issuer`` label of a refused token without a readable ``iss``."""

TOKENS_ACCEPTED = Counter(
    "bearer_guard_tokens_accepted", "Tokens that passed every check, by configured issuer.", ["issuer"]
)
TOKENS_REFUSED = Counter(
    "bearer_guard_tokens_refused",
    "Refused credentials, by configured issuer and refusal class.",
    ["issuer", "reason"],
)
KEY_FETCHES = Counter(
    "bearer_guard_key_fetches",
    "Fetches of an issuer's keys by this process, by outcome.",
    ["issuer", "outcome"],
)
TOKEN_CACHE_HITS = Counter(
    "bearer_guard_token_cache_hits", "Lookups that found the token in the verified-token cache."
)
TOKEN_CACHE_MISSES = Counter(
    "bearer_guard_token_cache_misses", "Lookups in the verified-token cache that missed."
)


# Children by metric and label values: Counter.labels() costs more than the increment. Bounded
# like the labels themselves.
_children: dict[tuple[object, ...], Counter] = {}


def _child(metric: Counter, *labels: str) -> Counter:
    key = (metric, *labels)
    child = _children.get(key)
    if child is None:
        child = _children.setdefault(key, metric.labels(*labels))
    return child


def _configured(iss: str) -> str:
    """The configured ``issuer`` trusting ``iss`` (a template's own string for a tenant), else UNTRUSTED."""
    try:
        return get_runtime().issuers.get(iss).issuer
    except UntrustedIssuer:
        return UNTRUSTED
    except Exception as exc:
        # A metric must never turn an answer into a server error (the receivers run inside the request).
        logger.warning("bearer_guard: the metrics could not look up the issuer: %r", exc)
        return NO_ISSUER


def _named_issuer(request: Any) -> str:
    """The issuer label of the credential ``request`` carried, read with the library's strict parsers."""
    meta = getattr(request, "META", None)
    try:
        credential = parse_authorization(
            meta.get("HTTP_AUTHORIZATION") if meta is not None else None,
            schemes=("bearer", "dpop"),
            max_bytes=get_runtime().settings.max_token_bytes,
        )
        if credential is None:
            return NO_ISSUER
        iss = decode_json(parse_compact(credential[1]).payload, "payload").get("iss")
    except BearerGuardError:
        return NO_ISSUER
    except Exception as exc:
        # A metric must never turn a refusal into a server error.
        logger.warning("bearer_guard: the metrics could not read the refused credential: %r", exc)
        return NO_ISSUER
    # Label cardinality: an attacker's iss values must never become label values.
    return _configured(iss) if isinstance(iss, str) and iss else NO_ISSUER


def _reason(error: BaseException) -> str:
    # The nearest class of the library's error tree: a bounded set, whatever subclass was raised.
    library = (cls.__name__ for cls in type(error).__mro__ if cls.__module__ == exceptions.__name__)
    return next(library, "other")


def _accepted(sender: Any, token: VerifiedToken, **kwargs: Any) -> None:
    _child(TOKENS_ACCEPTED, _configured(token.issuer)).inc()


def _refused(sender: Any, error: BearerGuardError, request: Any = None, **kwargs: Any) -> None:
    issuer = UNTRUSTED if isinstance(error, UntrustedIssuer) else _named_issuer(request)
    _child(TOKENS_REFUSED, issuer, _reason(error)).inc()


def _fetched(sender: Any, issuer: str, outcome: str, **kwargs: Any) -> None:
    # The key store sends the configured issuer's own `issuer` and "fetched" or "failed".
    _child(KEY_FETCHES, issuer, outcome).inc()


def _cache_lookup(hit: bool) -> None:
    (TOKEN_CACHE_HITS if hit else TOKEN_CACHE_MISSES).inc()


class KeyHealthCollector(Collector):
    """The health of every configured issuer's keys, read at scrape time:

    - ``bearer_guard_keys_age_seconds{issuer}``, seconds since the last good fetch of each enabled
      issuer whose keys are fetched (``jwks_uri`` or discovery), ``+Inf`` before the first one.
      Issuers with inline keys or a shared secret, and those whose key URL is refused
      (``misconfigured``), have no sample.
    - ``bearer_guard_issuer_status{issuer, status}``, 1 for the issuer's status and 0 for the
      others of :data:`~django_bearer_guard.jwks.health.STATUSES`.

    Both come from the shared cache, where every process records its fetches, so any worker
    gives the same answer.
    """

    age = "bearer_guard_keys_age_seconds"
    age_help = "Seconds since the last good fetch of the issuer's keys (+Inf: no keys)."
    status = "bearer_guard_issuer_status"
    status_help = "1 for the issuer's status (healthy, stale, failing, ...), 0 for the others."

    def _families(self) -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        return (GaugeMetricFamily(self.age, self.age_help, labels=["issuer"]),
                GaugeMetricFamily(self.status, self.status_help, labels=["issuer", "status"]))

    def describe(self) -> list[Metric]:
        """The metrics without samples, so that registering the collector reads nothing."""
        return list(self._families())

    def collect(self) -> Iterator[Metric]:
        """The age of the keys and the status of every configured issuer, now."""
        age, status = self._families()
        now = _clock.now()
        runtime = get_runtime()
        for config in runtime.issuers.all_issuers():
            origin = "settings" if config in runtime.settings.issuers else "database"
            health = issuer_health(runtime.keys, config, origin=origin)
            for name in STATUSES:
                status.add_metric([config.issuer, name], 1.0 if name == health.status else 0.0)
            if config.enabled and is_fetched(config):
                success = health.last_success_at
                age.add_metric([config.issuer], math.inf if success is None else max(now - success, 0.0))
        yield age
        yield status


KEY_HEALTH = KeyHealthCollector()
REGISTRY.register(KEY_HEALTH)

token_validated.connect(_accepted, dispatch_uid="django_bearer_guard.contrib.prometheus")
token_rejected.connect(_refused, dispatch_uid="django_bearer_guard.contrib.prometheus")
keys_fetched.connect(_fetched, dispatch_uid="django_bearer_guard.contrib.prometheus")
validator.cache_observer = _cache_lookup


@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    """The metrics in Prometheus' text format (OpenMetrics when the scraper asks for it).

    With ``PROMETHEUS_MULTIPROC_DIR`` set, the counters are those of every worker process
    (``prometheus_client``'s multiprocess mode) and the key health that of the shared cache;
    without it, the default registry of this process. Anyone who can read it learns the names
    of your issuers: route it where only the scraper reaches it.
    """
    registry: CollectorRegistry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        registry.register(KEY_HEALTH)
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encoder(registry), content_type=content_type)
