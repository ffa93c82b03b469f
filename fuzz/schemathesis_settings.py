"""The example project's settings, plus drf-spectacular serving its OpenAPI schema (for schemathesis)."""

from __future__ import annotations

from typing import Any

from example_project.settings import *  # noqa: F403 - the example project, unchanged
from example_project.settings import INSTALLED_APPS, REST_FRAMEWORK

INSTALLED_APPS = [*INSTALLED_APPS, "drf_spectacular"]
_rest_framework: dict[str, Any] = {**REST_FRAMEWORK, "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}
REST_FRAMEWORK = _rest_framework
ROOT_URLCONF = "fuzz.schemathesis_urls"
SPECTACULAR_SETTINGS = {"TITLE": "django-bearer-guard example API", "VERSION": "1"}
