from __future__ import annotations

import importlib.util

from django.apps import AppConfig
from django.core.signals import setting_changed


class BearerGuardConfig(AppConfig):
    """Registers the system checks and the database issuers, and re-reads the settings when they change."""

    name = "django_bearer_guard"
    verbose_name = "Bearer guard"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django_bearer_guard import (
            _resource_document,
            checks,  # noqa: F401 - registers the checks
            runtime,
        )
        from django_bearer_guard.conf import setting_changed_receiver

        setting_changed.connect(setting_changed_receiver, dispatch_uid="django_bearer_guard.conf")
        setting_changed.connect(
            _resource_document.setting_changed_receiver, dispatch_uid="django_bearer_guard._resource_document"
        )
        runtime.install()
        if importlib.util.find_spec("drf_spectacular") is not None:
            # Registers the OpenAPI extension only where drf-spectacular is installed.
            import django_bearer_guard.contrib.spectacular  # noqa: F401
