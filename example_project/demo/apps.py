from __future__ import annotations

from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The example API: whoami, an admin-only view, documents and file areas."""

    name = "example_project.demo"
    label = "demo"
    default_auto_field = "django.db.models.BigAutoField"
