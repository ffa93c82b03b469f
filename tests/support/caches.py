"""Cache backends whose server is unreachable or hangs, and CACHES that name them ("broken", "hanging")."""

from __future__ import annotations

import threading
import time
from typing import Any

from django.core.cache import BaseCache


class BrokenCache(BaseCache):
    """A cache backend whose server is unreachable."""

    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(params)

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("cache server unreachable")

    add = get = set = delete = get_many = _fail

    @property
    def _cache(self) -> Any:  # the client, as Django's Redis and Memcached backends build it
        raise ConnectionError("cache server unreachable")


class SlowClientCache(BaseCache):
    """A working cache whose client takes a while to build (the first import of its library)."""

    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(params)
        self._client: dict[str, Any] | None = None

    @property
    def _cache(self) -> dict[str, Any]:
        if self._client is None:
            time.sleep(0.3)
            self._client = {}
        return self._client

    def get(self, key: str, default: Any = None, version: int | None = None) -> Any:
        return self._cache.get(key, default)


BROKEN_CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "broken": {"BACKEND": "tests.support.caches.BrokenCache"},
}


class HangingCache(BaseCache):
    """A cache backend whose server accepted the connection and stopped answering (a stopped Redis).

    Every call blocks until :data:`RELEASE` is set; then it fails, as a server that timed out would.
    """

    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(params)

    def _hang(self, *args: Any, **kwargs: Any) -> Any:
        RELEASE.wait(30)
        raise TimeoutError("cache server stopped answering")

    add = get = set = delete = get_many = _hang


RELEASE = threading.Event()

HANGING_CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "hanging": {"BACKEND": "tests.support.caches.HangingCache"},
}
