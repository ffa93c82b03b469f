"""Settings for gunicorn processes serving ``tests.contrib.prometheus_urls`` (the metrics at ``metrics/``):
the second-process settings with that URLconf."""

from __future__ import annotations

from tests.support.process_settings import *  # noqa: F403

ROOT_URLCONF = "tests.contrib.prometheus_urls"
