"""Find a trusted issuer by the exact ``iss`` of a token."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from django_bearer_guard.conf import get_settings, on_reload
from django_bearer_guard.exceptions import UntrustedIssuer
from django_bearer_guard.issuers.config import IssuerConfig

__all__ = ["all_issuers", "get", "register_source"]

IssuerSource = Callable[[], Iterable[IssuerConfig]]
_sources: list[IssuerSource] = []
_pollers: list[Callable[[], None]] = []
_index: dict[str, IssuerConfig] | None = None
_pinned: frozenset[str] = frozenset()
# Replaced by every clear(), so that an index built from sources read before it is not kept.
_generation = object()
_generation_lock = threading.Lock()


def _from_settings() -> Iterable[IssuerConfig]:
    return get_settings().issuers


def register_source(source: IssuerSource, *, poll: Callable[[], None] | None = None) -> IssuerSource:
    """Add a provider of issuers beside the settings (settings win on a clash).

    ``poll``, when given, runs before every lookup the settings do not answer, so it must be
    cheap; it calls :func:`clear` when the source's issuers changed.
    """
    global _index
    _sources.append(source)
    if poll is not None:
        _pollers.append(poll)
    _index = None
    return source


@on_reload
def clear() -> None:
    """Forget the index; it is rebuilt on next use."""
    global _index, _generation
    with _generation_lock:
        _generation = object()
        _index = None


def all_issuers() -> tuple[IssuerConfig, ...]:
    """Every configured issuer, enabled or not, settings first."""
    _poll()
    return tuple(_build().values())


def _poll() -> None:
    for poll in _pollers:
        poll()


def _build() -> dict[str, IssuerConfig]:
    global _index, _pinned
    index = _index
    if index is None:
        generation = _generation
        index = {}
        for source in (_from_settings, *_sources):
            for config in source():
                index.setdefault(config.issuer, config)
        pinned = frozenset(config.issuer for config in _from_settings())
        with _generation_lock:
            if generation is _generation:
                _index, _pinned = index, pinned
    return index


def get(iss: str) -> IssuerConfig:
    """The issuer whose ``issuer`` equals ``iss`` exactly; :class:`UntrustedIssuer` otherwise."""
    # RFC 8725 §3.8: trust only configured issuers, by exact string (no normalisation).
    config = _build().get(iss)
    if _pollers and iss not in _pinned:
        # Only issuers the settings do not name can have changed in another source.
        _poll()
        config = _build().get(iss)
    if config is None or not config.enabled:
        raise UntrustedIssuer(f"issuer {iss[:200]!r} is not trusted")
    return config
