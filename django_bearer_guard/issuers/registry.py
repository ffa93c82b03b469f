"""Find a trusted issuer by the exact ``iss`` of a token."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Protocol

from django_bearer_guard.exceptions import UntrustedIssuer
from django_bearer_guard.issuers.config import IssuerConfig

__all__ = ["IssuerRegistry", "IssuerSource"]


class IssuerSource(Protocol):
    """A provider of issuers beside the settings, such as the ``TrustedIssuer`` rows."""

    def issuers(self) -> Iterable[IssuerConfig]:
        """The source's issuers as last read; never does I/O."""

    def poll(self) -> None:
        """Look for changes; runs before every lookup the settings do not answer, so it must be cheap.

        It calls the registry's :meth:`IssuerRegistry.clear` when its issuers changed.
        """


class IssuerRegistry:
    """The settings' issuers, then those of the other sources (the settings win on a clash)."""

    def __init__(self, pinned: Iterable[IssuerConfig], sources: Sequence[IssuerSource] = ()) -> None:
        self._settings_issuers = tuple(pinned)
        self._pinned = frozenset(config.issuer for config in self._settings_issuers if not config.template)
        # Only the settings may hold templates: a row could otherwise claim every tenant of a provider.
        self._templates = tuple(config for config in self._settings_issuers if config.template)
        self._sources = tuple(sources)
        self._index: dict[str, IssuerConfig] | None = None
        # Replaced by every clear(), so that an index built from sources read before it is not kept.
        self._generation = object()
        self._lock = threading.Lock()

    def clear(self) -> None:
        """Forget the index; it is rebuilt on next use."""
        with self._lock:
            self._generation = object()
            self._index = None

    def all_issuers(self) -> tuple[IssuerConfig, ...]:
        """Every configured issuer, enabled or not, settings first."""
        self._poll()
        return tuple(self._build().values())

    def known(self) -> tuple[IssuerConfig, ...]:
        """Every issuer as last read, enabled or not, settings first; never does I/O."""
        return tuple(self._build().values())

    def get(self, iss: str) -> IssuerConfig:
        """The issuer whose ``issuer`` equals ``iss`` exactly, or the settings template admitting it.

        Raises :class:`UntrustedIssuer` otherwise. The settings' exact issuers come first, then
        their templates, then the other sources.
        """
        # RFC 8725 §3.8: trust only configured issuers, by exact string (no normalisation).
        config = self._exact(iss)
        if iss not in self._pinned:
            template = next((t for t in self._templates if t.tenant_of(iss) is not None), None)
            if template is not None:
                config = template
            elif self._sources:
                # Only issuers the settings do not name can have changed in another source.
                self._poll()
                config = self._exact(iss)
        if config is None or not config.enabled:
            raise UntrustedIssuer(f"issuer {iss[:200]!r} is not trusted")
        return config

    def _exact(self, iss: str) -> IssuerConfig | None:
        config = self._build().get(iss)
        # A template's own string ("…/{tenantid}/v2.0") is no tenant's iss.
        return None if config is None or config.template else config

    def _poll(self) -> None:
        for source in self._sources:
            source.poll()

    def _build(self) -> dict[str, IssuerConfig]:
        index = self._index
        if index is None:
            generation = self._generation
            index = {}
            for config in self._settings_issuers:
                index.setdefault(config.issuer, config)
            for source in self._sources:
                for config in source.issuers():
                    index.setdefault(config.issuer, config)
            with self._lock:
                if generation is self._generation:
                    self._index = index
        return index
