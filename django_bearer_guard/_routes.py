"""The views of the URLconf, for the system checks that inspect them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from django.urls import URLResolver, get_resolver


def _walk(patterns: Iterable[Any], prefix: str) -> Iterator[tuple[str, Any]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern.callback


def routes() -> Iterator[tuple[str, Any]]:
    """``(route, view callback)`` for every pattern of the root URLconf, includes flattened."""
    return _walk(get_resolver().url_patterns, "")


def routed_views(base: type) -> Iterator[tuple[str, Any, Any, Mapping[str, Any]]]:
    """``(route, callback, view class, initkwargs)`` for every route whose view class derives from ``base``."""
    for route, callback in routes():
        cls = getattr(callback, "cls", None)
        if isinstance(cls, type) and issubclass(cls, base):
            yield route, callback, cls, getattr(callback, "initkwargs", None) or {}


def view_methods(callback: Any, cls: type) -> Iterator[tuple[str, str | None]]:
    """``(method, action)`` for each HTTP method the routed view answers, lower case.

    A ViewSet route maps methods to actions; another view answers the methods it defines.
    """
    actions = getattr(callback, "actions", None)
    if actions:
        yield from actions.items()
    else:
        yield from ((method, None) for method in getattr(cls, "http_method_names", ()) if hasattr(cls, method))
