"""A cache backend whose server is unreachable, and CACHES that name it as the "broken" alias."""

from __future__ import annotations

from typing import Any

from django.core.cache import BaseCache


class BrokenCache(BaseCache):
    """A cache backend whose server is unreachable."""

    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(params)

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("cache server unreachable")

    add = get = set = delete = get_many = _fail


BROKEN_CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "broken": {"BACKEND": "tests.support.caches.BrokenCache"},
}
