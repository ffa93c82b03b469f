"""TrustedIssuerAdmin on a project's own AdminSite: every page and link stays on that site."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from django_bearer_guard.models import TrustedIssuer
from django_bearer_guard.testing import LocalIssuer
from tests.admin.pages import changelist_rows, messages_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_rows_only"), pytest.mark.urls("tests.admin.site_urls")]

OPS = "/ops/django_bearer_guard/trustedissuer/"


def test_custom_site_serves_the_changelist_and_its_links(
    admin_client: Client, make_row: Callable[..., TrustedIssuer]
) -> None:
    row = make_row(name="Corporate")
    response = admin_client.get(OPS)
    assert response.status_code == 200
    assert list(changelist_rows(response)) == [row.issuer]
    html = response.content.decode()
    assert f'href="{OPS}all/"' in html and f'href="{OPS}check-token/"' in html


@pytest.mark.parametrize("page", ["all/", "check-token/", "add/"])
def test_custom_site_serves_the_extra_pages_under_its_own_prefix(admin_client: Client, page: str) -> None:
    response = admin_client.get(OPS + page)
    assert response.status_code == 200
    html = response.content.decode()
    assert f'href="{OPS}"' in html and 'href="/admin/' not in html


def test_custom_site_sends_anonymous_users_to_its_own_login() -> None:
    assert Client().get(OPS + "check-token/")["Location"].startswith("/ops/login/?next=")


def test_custom_site_runs_the_actions(
    admin_client: Client, idp: LocalIssuer, make_row: Callable[..., TrustedIssuer]
) -> None:
    row = make_row(name="Corporate")
    response = admin_client.post(OPS, {"action": "disable", "_selected_action": [str(row.pk)]}, follow=True)
    assert messages_of(response) == [("success", "Disabled 1 issuer(s): Corporate.")]
    row.refresh_from_db()
    assert not row.enabled


def test_custom_site_checks_tokens(admin_client: Client, idp: LocalIssuer, guard: Callable[..., None]) -> None:
    guard(ISSUERS=[idp.issuer_settings()])
    response = admin_client.post(OPS + "check-token/", {"token": idp.mint()})
    assert "✓ accepted" in response.content.decode()
