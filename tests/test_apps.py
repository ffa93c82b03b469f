"""The app's start-up: the OpenAPI extension is imported only where drf-spectacular is installed."""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

import pytest
from django.apps import apps

EXTENSION = "django_bearer_guard.contrib.spectacular"


def test_ready_without_drf_spectacular_imports_no_extension(monkeypatch: pytest.MonkeyPatch) -> None:
    # drf-spectacular is installed here: find_spec answers as on a system without it.
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == "drf_spectacular" else real_find_spec(name, *args)

    assert EXTENSION in sys.modules  # imported when the app started, drf-spectacular being there
    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    monkeypatch.delitem(sys.modules, EXTENSION)
    apps.get_app_config("django_bearer_guard").ready()
    assert EXTENSION not in sys.modules
