"""What every harness shares: minimal Django settings and the atheris driver.

Nothing here imports atheris unless a harness runs as the main program, so the test suite can
import every harness and replay its seed corpus without atheris installed.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from typing import Any

import django
from django.conf import settings

__all__ = ["configure_django", "fuzz", "library_imports", "split"]

LIBRARY = "django_bearer_guard"


def configure_django() -> None:
    """Configure the few settings the harnessed code reads, unless Django is configured already.

    Under pytest, pytest-django has loaded ``tests.settings``: those are kept.
    """
    if settings.configured or os.environ.get("DJANGO_SETTINGS_MODULE"):
        return
    settings.configure(
        SECRET_KEY="fuzzing-only-not-secret",  # noqa: S106 - signs nothing outside a fuzzing run
        USE_TZ=True,
        INSTALLED_APPS=[],
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
        LOGGING_CONFIG=None,
    )
    django.setup()


def library_imports(module_name: str) -> contextlib.AbstractContextManager[Any]:
    """Instrument the library's modules for coverage when ``module_name`` is ``"__main__"``.

    A harness imports the library inside this context manager; imported by the test suite, it
    does nothing.
    """
    if module_name != "__main__":
        return contextlib.nullcontext()
    import atheris  # type: ignore[import-untyped, import-not-found, unused-ignore]  # untyped; absent in CI

    manager: contextlib.AbstractContextManager[Any] = atheris.instrument_imports(include=[LIBRARY])
    return manager


def fuzz(test_one_input: Callable[[bytes], None]) -> None:
    """Run libFuzzer on ``test_one_input`` with the command line's libFuzzer options."""
    import atheris  # type: ignore[import-untyped, import-not-found, unused-ignore]

    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


def split(data: bytes, parts: int) -> list[bytes]:
    """``data`` cut at its first ``parts - 1`` ``0xff`` bytes (never valid UTF-8), padded with ``b""``."""
    pieces = data.split(b"\xff", parts - 1)
    return pieces + [b""] * (parts - len(pieces))
