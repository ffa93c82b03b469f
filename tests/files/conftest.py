from __future__ import annotations

from tests.files.fixtures import auth, bearer, server, store

__all__ = ["auth", "bearer", "server", "store"]
