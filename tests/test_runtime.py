"""One runtime per settings value, built once however many requests ask at the same time."""

from __future__ import annotations

import inspect
import sys
import threading
import time

from django.test import override_settings

from django_bearer_guard import conf, runtime
from django_bearer_guard.runtime import Runtime, get_runtime


def _waiting_for_the_lock(thread: threading.Thread) -> bool:
    source, first = inspect.getsourcelines(get_runtime)
    line = first + next(i for i, text in enumerate(source) if "with _lock:" in text)
    frame = sys._current_frames().get(thread.ident or -1)
    while frame is not None:
        if frame.f_code is get_runtime.__code__:
            return frame.f_lineno == line
        frame = frame.f_back
    return False


def test_get_runtime_is_built_once_for_callers_racing_past_the_first_check() -> None:
    conf.reload()
    results: list[Runtime] = []
    callers = [threading.Thread(target=lambda: results.append(get_runtime())) for _ in range(2)]
    with runtime._lock:
        for caller in callers:
            caller.start()
        deadline = time.monotonic() + 10
        while not all(_waiting_for_the_lock(caller) for caller in callers):
            assert time.monotonic() < deadline, "the callers never reached the lock"
            time.sleep(0.005)
    for caller in callers:
        caller.join(10)
    assert len(results) == 2
    assert results[0] is results[1] is get_runtime()


def test_get_runtime_after_the_settings_change_is_a_new_runtime_of_the_new_settings() -> None:
    before = get_runtime()
    assert get_runtime() is before
    with override_settings(BEARER_GUARD={"REALM": "files"}):
        after = get_runtime()
        assert after is not before
        assert after.settings.realm == "files"
