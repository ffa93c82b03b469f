"""Sphinx configuration for django-bearer-guard."""

from __future__ import annotations

import sys
from pathlib import Path

import django
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Autodoc imports the package's Django modules: give them a minimal configuration.
if not settings.configured:
    settings.configure(
        SECRET_KEY="docs-only",
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "rest_framework",
            "django_bearer_guard",
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        USE_TZ=True,
        BEARER_GUARD={},
    )
    django.setup()

from django_bearer_guard import __version__  # noqa: E402

project = "django-bearer-guard"
author = "django-bearer-guard contributors"
copyright = "django-bearer-guard contributors"
release = __version__
version = ".".join(__version__.split(".")[:2])

extensions = [
    "myst_parser",  # the changelog is Markdown
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
]
exclude_patterns = ["_build"]
default_role = "code"
nitpicky = False

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}


try:
    import furo  # noqa: F401

    html_theme = "furo"
except ImportError:
    html_theme = "alabaster"
html_title = f"django-bearer-guard {release}"

# The changelog's Markdown starts at "## <release>", below the page's own title.
suppress_warnings = ["myst.header"]
