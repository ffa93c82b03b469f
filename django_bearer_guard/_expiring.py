"""A bounded map whose entries leave at their own expiry or, when full, least recently used first."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, TypeVar

__all__ = ["ExpiringLRU"]

K = TypeVar("K")
V = TypeVar("V")


class ExpiringLRU(Generic[K, V]):
    """At most ``size`` entries, each with its expiry time (seconds since the epoch); thread-safe."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[K, tuple[V, float]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K, now: float) -> V | None:
        """The value of ``key`` unless absent or expired at ``now`` (an expired entry is dropped)."""
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            if now >= found[1]:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return found[0]

    def put(self, key: K, value: V, expires_at: float) -> None:
        """Keep ``value`` until ``expires_at``, dropping the least recently used entry when full."""
        with self._lock:
            self._entries[key] = (value, expires_at)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
