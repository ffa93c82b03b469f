"""Settings for a file view server in a subprocess (large-download test, benchmark).

BG_FILES_LOCATION names the storage directory; BG_GUARD holds BEARER_GUARD as JSON; BG_URLCONF,
when set, names the URLconf (default tests.files_urls).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.files.fixtures import storages_setting
from tests.settings import *  # noqa: F403

ROOT_URLCONF = os.environ.get("BG_URLCONF", "tests.files_urls")
STORAGES = storages_setting(Path(os.environ["BG_FILES_LOCATION"]))
BEARER_GUARD = json.loads(os.environ["BG_GUARD"])
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
