"""System checks (``bearer_guard.E0xx`` / ``W0xx``) over the parsed settings."""

from __future__ import annotations
