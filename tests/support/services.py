"""Whether the suite runs against the real services (PostgreSQL and Redis on 127.0.0.1)."""

from __future__ import annotations

import os


def services_required() -> bool:
    return os.environ.get("BG_SERVICES") == "1"
