"""``manage.py bearer_guard_dev_issuer`` serving in a thread, and the settings it prints."""

from __future__ import annotations

import ast
import contextlib
import re
import threading
import time
from collections.abc import Iterator
from io import StringIO
from typing import Any

from django.core.management import call_command
from django.core.management.base import CommandError


@contextlib.contextmanager
def serving(*args: str) -> Iterator[str]:
    """The command serving in a thread until the block ends; what it printed once it served."""
    out, stop, failed = StringIO(), threading.Event(), []

    def run() -> None:
        try:
            call_command("bearer_guard_dev_issuer", *args, stop=stop, stdout=out, stderr=StringIO())
        except CommandError as exc:
            failed.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while "# Serving on " not in out.getvalue():
            if failed:
                raise failed[0]
            assert time.monotonic() < deadline, out.getvalue()
            time.sleep(0.02)
        yield out.getvalue()
    finally:
        stop.set()
        thread.join()


def printed_settings(output: str) -> tuple[str, dict[str, Any]]:
    """The printed ``BEARER_GUARD = {...}`` block, as text and as the value it assigns."""
    match = re.search(r"^BEARER_GUARD = \{$.*?^\}$", output, re.MULTILINE | re.DOTALL)
    assert match, output
    value: dict[str, Any] = ast.literal_eval(match[0].partition(" = ")[2])
    return match[0], value
