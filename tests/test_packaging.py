"""Test what ships: the installed package, its typing marker and its data files."""

from __future__ import annotations

import os
from importlib import metadata
from pathlib import Path

import pytest

import django_bearer_guard

PACKAGE_DIR = Path(django_bearer_guard.__file__).resolve().parent
SOURCE_DIR = Path(__file__).resolve().parents[1] / "django_bearer_guard"


def test_installed_package_is_the_one_imported() -> None:
    if os.environ.get("BG_EXPECT_INSTALLED") != "1":
        pytest.skip("runs in the tox 'wheel' environment, against the installed wheel")
    assert "site-packages" in PACKAGE_DIR.parts
    assert SOURCE_DIR.resolve() != PACKAGE_DIR
    assert metadata.version("django-bearer-guard") == django_bearer_guard.__version__


def test_package_ships_typing_marker_and_migrations() -> None:
    assert (PACKAGE_DIR / "py.typed").is_file()
    assert (PACKAGE_DIR / "migrations" / "0001_initial.py").is_file()


def test_package_init_imports_no_django() -> None:
    source = (PACKAGE_DIR / "__init__.py").read_text()
    assert "import" not in source.replace("__version__", "")
