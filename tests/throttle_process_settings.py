"""Settings for gunicorn processes serving ``tests.throttle_urls``: the second-process settings,
with DRF rates for ``user`` and ``bearer_token`` of ``BG_THROTTLE_RATE`` requests a minute."""

from __future__ import annotations

import os
from typing import Any, cast

from tests.support.process_settings import *  # noqa: F403
from tests.support.process_settings import REST_FRAMEWORK as _BASE

ROOT_URLCONF = "tests.throttle_urls"
_RATE = f"{int(os.environ['BG_THROTTLE_RATE'])}/min"
# The base's values are lists of class paths; DRF takes a dict here.
REST_FRAMEWORK = {**_BASE, "DEFAULT_THROTTLE_RATES": cast(Any, {"user": _RATE, "bearer_token": _RATE})}
