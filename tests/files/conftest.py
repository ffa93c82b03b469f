from __future__ import annotations

from tests.files.fixtures import bearer, store

__all__ = ["bearer", "store"]
