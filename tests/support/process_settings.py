"""Settings for a second process of the suite: the test settings, with ``BEARER_GUARD`` and
``CACHES`` from the ``BG_GUARD`` and ``BG_CACHES`` environment variables (JSON)."""

from __future__ import annotations

import json
import os

from tests.settings import *  # noqa: F403

BEARER_GUARD = json.loads(os.environ["BG_GUARD"])
CACHES = json.loads(os.environ["BG_CACHES"])
