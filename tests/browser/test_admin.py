"""The issuer admin in headless Chromium: add an issuer, fetch its keys, watch it go stale, check tokens."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from django_bearer_guard.testing import LocalIssuer

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from tests.browser.conftest import Screenshot

pytestmark = pytest.mark.browser

CHANGELIST = "/admin/django_bearer_guard/trustedissuer/"


def _fetch_keys_now(page: Page, name: str) -> str:
    """Run the "Fetch keys now" action on the row ``name``; the message it reports."""
    page.goto(CHANGELIST)
    page.locator("#result_list tbody tr", has_text=name).locator("input[name=_selected_action]").check()
    page.select_option("select[name=action]", label="Fetch keys now")
    page.click("button[name=index]")
    return page.locator("ul.messagelist li").inner_text()


def _cells(page: Page, name: str, *fields: str) -> tuple[str, ...]:
    """The changelist row of ``name``: the text of its columns ``fields`` (the admin's field-<name> cells)."""
    row = page.locator("#result_list tbody tr", has_text=name)
    return tuple((row.locator(f".field-{field}").text_content() or "").strip() for field in fields)


def _check(page: Page, token: str) -> tuple[str, list[tuple[str, str]]]:
    """Paste ``token`` into the token checker: the verdict's heading and its failed steps (name, detail)."""
    page.goto(CHANGELIST)
    page.click("text=Token checker")
    page.fill("textarea[name=token]", token)
    page.click("#check-token-form input[type=submit]")
    # The heading waits for the verdict's page; the rows are read from that page.
    heading = page.locator("#verdict h2").inner_text()
    failed = [
        (row.locator("td").nth(1).inner_text(), row.locator("td").nth(2).inner_text())
        for row in page.locator("#verdict tr.bearer-guard-step-failed").all()
    ]
    return heading, failed


def test_operator_adds_an_issuer_fetches_its_keys_sees_it_go_stale_and_checks_tokens(
    admin_page: Page, jwks_server: LocalIssuer, screenshot: Screenshot
) -> None:
    page = admin_page
    name = "Orders identity provider"
    key = jwks_server.signing_key()

    page.goto(CHANGELIST + "add/")
    page.fill("#id_name", name)
    page.fill("#id_issuer", jwks_server.issuer)
    page.fill("#id_jwks_uri", jwks_server.url + jwks_server.jwks_path)
    page.fill("#id_audiences", f'["{jwks_server.audience}"]')
    page.fill("#id_algorithms", '["RS256"]')
    page.click("input[name=_save]")
    assert "was added successfully" in page.locator("ul.messagelist").inner_text()
    assert _cells(page, name, "status", "key_count") == ("not fetched yet", "0")

    message = _fetch_keys_now(page, name)
    assert message == f"{name}: healthy, 1 key(s): {key.kid}"
    assert _cells(page, name, "status", "key_count", "last_error") == ("healthy", "1", "-")
    screenshot(page, "list")

    page.click(f"#result_list a:text-is('{name}')")
    page.wait_for_url("**/change/")
    keys = page.locator("table.bearer-guard-keys tbody tr")
    assert keys.count() == 1
    assert keys.locator("td").first.inner_text() == key.kid
    assert page.locator(".bearer-guard-status strong").inner_text() == "healthy"
    screenshot(page, "change")

    jwks_server.stop()
    message = _fetch_keys_now(page, name)
    assert message.startswith(f"{name}: stale: ")
    status, last_error = _cells(page, name, "status", "last_error")
    assert status == "stale"
    assert last_error != "-"

    page.click("text=All issuers")
    issuer = page.locator(".bearer-guard-issuer", has_text=name)
    assert issuer.locator(".bearer-guard-status strong").inner_text() == "stale"
    assert issuer.locator("table.bearer-guard-keys td").first.inner_text() == key.kid
    screenshot(page, "all-issuers")

    # The last good keys still verify tokens while stale.
    heading, failed = _check(page, jwks_server.mint(sub="orders-service"))
    assert heading == "✓ accepted"
    assert failed == []
    screenshot(page, "token-checker", full_page=True)

    now = int(time.time())
    heading, failed = _check(page, jwks_server.mint(iat=now - 900, exp=now - 300))
    assert heading == "✗ refused: ExpiredToken"
    [(step, detail)] = failed
    assert step == "exp"
    assert detail.startswith("expired 5 minutes ago")
