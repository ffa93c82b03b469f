"""Settings for a second process of the suite: the test settings, with ``BEARER_GUARD`` and
``CACHES`` from the ``BG_GUARD`` and ``BG_CACHES`` environment variables (JSON).

So that a test can tell the worker processes of one server apart, every answer names the
process that gave it (``X-Worker-Pid``), and the library's log lines (``INFO`` and up) go to
stderr with that pid and their time (seconds since the epoch). Server errors (5xx) are logged
there too, with their traceback, which the tests look for.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from tests.settings import *  # noqa: F403
from tests.settings import MIDDLEWARE

BEARER_GUARD = json.loads(os.environ["BG_GUARD"])
CACHES = json.loads(os.environ["BG_CACHES"])
MIDDLEWARE = [f"{__name__}.worker_pid", *MIDDLEWARE]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"pid": {"format": "%(process)d %(created).3f %(levelname)s %(name)s %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "pid"}},
    "loggers": {
        "django_bearer_guard": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "django.request": {"handlers": ["stderr"], "level": "ERROR", "propagate": False},
    },
}


def worker_pid(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """Middleware: the answer's ``X-Worker-Pid`` header names the process that gave it."""

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        # Read per answer: with a preloaded application the middleware is built before the fork.
        response["X-Worker-Pid"] = str(os.getpid())
        return response

    return middleware
