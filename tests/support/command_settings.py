"""Settings of management commands run as real subprocesses (:func:`tests.support.commands.run`).

The test settings, then the settings the test hands over in ``BG_COMMAND_SETTINGS``: a JSON
object of setting names and values (``BEARER_GUARD``, ``DATABASES``, ``CACHES``…).
"""

from __future__ import annotations

import json
import os

from tests.settings import *  # noqa: F403 - the test settings first, the test's own over them

globals().update(json.loads(os.environ.get("BG_COMMAND_SETTINGS", "{}")))
