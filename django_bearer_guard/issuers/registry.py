"""Find a trusted issuer by the exact ``iss`` of a token."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django_bearer_guard.conf import get_settings, on_reload
from django_bearer_guard.exceptions import UntrustedIssuer
from django_bearer_guard.issuers.config import IssuerConfig

__all__ = ["all_issuers", "get", "register_source"]

IssuerSource = Callable[[], Iterable[IssuerConfig]]
_sources: list[IssuerSource] = []
_index: dict[str, IssuerConfig] | None = None


def _from_settings() -> Iterable[IssuerConfig]:
    return get_settings().issuers


def register_source(source: IssuerSource) -> IssuerSource:
    """Add a provider of issuers beside the settings (settings win on a clash)."""
    global _index
    _sources.append(source)
    _index = None
    return source


@on_reload
def clear() -> None:
    """Forget the index; it is rebuilt on next use."""
    global _index
    _index = None


def all_issuers() -> tuple[IssuerConfig, ...]:
    """Every configured issuer, enabled or not, settings first."""
    return tuple(_build().values())


def _build() -> dict[str, IssuerConfig]:
    global _index
    if _index is None:
        index: dict[str, IssuerConfig] = {}
        for source in (_from_settings, *_sources):
            for config in source():
                index.setdefault(config.issuer, config)
        _index = index
    return _index


def get(iss: str) -> IssuerConfig:
    """The issuer whose ``issuer`` equals ``iss`` exactly; :class:`UntrustedIssuer` otherwise."""
    # RFC 8725 §3.8: trust only configured issuers, by exact string (no normalisation).
    config = _build().get(iss)
    if config is None or not config.enabled:
        raise UntrustedIssuer(f"issuer {iss[:200]!r} is not trusted")
    return config
