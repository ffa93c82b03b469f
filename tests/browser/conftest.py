"""The browser harness: a live server, a superuser, a logged-in headless Chromium page, a JWKS server.

Chromium is Debian's (``/usr/bin/chromium``, installed by ``.ci/run``), driven by Playwright for
Python with ``executable_path``: Playwright's own browser downloads are never used. Without
Playwright (every tox env but py313-django61) the browser tests skip; without Chromium they skip
on a developer machine and fail under CI. The reason is printed at the end of the run.
``BG_SCREENSHOTS=1`` makes :func:`screenshot` write the docs' pictures to ``docs/_static/``.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pytest
from django.contrib.auth.models import User
from django.test import override_settings
from pytest_django.live_server_helper import LiveServer

from django_bearer_guard.testing import LocalIssuer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, ViewportSize

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "_static"
PASSWORD = "browser-test-password"
VIEWPORT: ViewportSize = {"width": 1440, "height": 900}

_skipped: list[str] = []


def _missing() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "Playwright for Python is not installed (pip install playwright)"
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing (apt-get install --no-install-recommends chromium)"
    return None


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _skipped:
        terminalreporter.write_line(f"browser tests skipped: {_skipped[0]}")


@pytest.fixture(scope="session")
def live_server(django_db_setup: None, live_server: LiveServer) -> LiveServer:
    """pytest-django's live server, started once the test database exists.

    Started before it, the server would see the settings' ``:memory:`` database and share this
    thread's SQLite connection with its own threads.
    """
    return live_server


@pytest.fixture
def superuser(transactional_db: None) -> User:
    """A superuser in the database the live server reads (committed, hence transactional_db)."""
    user: User = User.objects.create_superuser("operator", "operator@example.test", PASSWORD)
    return user


@pytest.fixture
def chromium(transactional_db: None) -> Iterator[Browser]:
    """Headless Debian Chromium driven by Playwright, for one test.

    Request it after every fixture that writes to the database, and touch the database only
    through the browser while it runs: Playwright's event loop makes this thread look async to
    Django, which then refuses ORM calls. It is stopped before the database is flushed.
    """
    missing = _missing()
    if missing is not None:
        # Envs without Playwright skip everywhere; with it, CI must have the browser (.ci/run).
        if os.environ.get("CI") and importlib.util.find_spec("playwright") is not None:
            pytest.fail(f"the browser tests cannot run under CI: {missing}")
        _skipped.append(missing)
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--disable-dev-shm-usage"]
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def admin_page(live_server: LiveServer, superuser: User, chromium: Browser) -> Iterator[Page]:
    """A page logged in to the admin of the live server through its login form."""
    context = chromium.new_context(base_url=live_server.url, viewport=VIEWPORT)
    # The admin's navigation sidebar starts closed: the pages get the whole width.
    context.add_init_script("localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto("/admin/login/?next=/admin/")
        page.fill("#id_username", superuser.get_username())
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url("**/admin/")
        # The admin's times read UTC, like the token checker's (and so do the docs' pictures).
        with override_settings(TIME_ZONE="UTC"):
            yield page
    finally:
        context.close()


@pytest.fixture
def jwks_server(make_idp: Callable[..., LocalIssuer]) -> LocalIssuer:
    """An identity provider on 127.0.0.1 serving its JWKS (stopped after the test)."""
    return make_idp()


class Screenshot(Protocol):
    """The ``screenshot`` fixture's function."""

    def __call__(self, page: Page, name: str, *, full_page: bool = False) -> None: ...


@pytest.fixture
def screenshot() -> Screenshot:
    """``screenshot(page, name)``: with ``BG_SCREENSHOTS=1``, the page into docs/_static/admin-<name>.png."""

    def take(page: Page, name: str, *, full_page: bool = False) -> None:
        if os.environ.get("BG_SCREENSHOTS") == "1":
            page.screenshot(path=str(SCREENSHOTS / f"admin-{name}.png"), full_page=full_page)

    return take
