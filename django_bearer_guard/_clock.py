from __future__ import annotations

import time
from collections.abc import Callable

_clock: Callable[[], float] = time.time


def now() -> float:
    """Seconds since the epoch, from the library's replaceable clock."""
    return _clock()


def set_clock(fn: Callable[[], float] | None) -> Callable[[], float]:
    """Install ``fn`` as the clock (``None`` restores the system clock); return the previous one."""
    global _clock
    previous = _clock
    _clock = time.time if fn is None else fn
    return previous
