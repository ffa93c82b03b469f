"""The "All issuers" page: the settings' issuers and the rows, each with its status and keys."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from django_bearer_guard import runtime
from django_bearer_guard.models import TrustedIssuer
from django_bearer_guard.testing import LocalIssuer
from tests.admin.conftest import CHANGELIST

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_rows_only")]

ALL = CHANGELIST + "all/"


def sections(html: str) -> list[str]:
    """Each issuer's part of the page, in order."""
    return html.split('<div class="module bearer-guard-issuer">')[1:]


def test_all_issuers_lists_the_settings_then_the_rows(
    admin_client: Client, idp: LocalIssuer, make_idp: Callable[..., LocalIssuer], guard: Callable[..., None]
) -> None:
    partner = make_idp()
    guard(ISSUERS=[idp.issuer_settings(name="Corporate")])
    TrustedIssuer.objects.create(name="Partner", **partner.issuer_settings())
    TrustedIssuer.objects.create(name="Shadow", **idp.issuer_settings())
    runtime.fetch_now(runtime.get_runtime().settings.issuers[0])

    response = admin_client.get(ALL)

    assert response.status_code == 200
    corporate, partner_part, shadow = sections(response.content.decode())
    assert "<h2>Corporate <small>(settings)</small></h2>" in corporate
    assert "bearer-guard-status-healthy" in corporate and "configured in BEARER_GUARD" in corporate
    assert f"<td>{idp.signing_key().kid}</td>" in corporate
    assert "<h2>Partner <small>(database)</small></h2>" in partner_part
    assert "bearer-guard-status-not-fetched-yet" in partner_part and "No keys." in partner_part
    assert "<h2>Shadow <small>(database)</small></h2>" in shadow and "bearer-guard-status-shadowed" in shadow
    assert f'href="{CHANGELIST}check-token/"' in response.content.decode()


def test_all_issuers_shows_the_problems_of_a_misconfigured_issuer(
    admin_client: Client, idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    guard(ISSUERS=[idp.issuer_settings(jwks_uri="http://idp.example/jwks")])
    (part,) = sections(admin_client.get(ALL).content.decode())
    assert "bearer-guard-status-misconfigured" in part
    assert '<ul class="errorlist"><li>ISSUERS[0]: &#x27;jwks_uri&#x27;' in part


def test_all_issuers_says_when_there_are_none(admin_client: Client) -> None:
    assert "No trusted issuers: every Bearer token is refused." in admin_client.get(ALL).content.decode()


def test_all_issuers_needs_the_view_permission(staff_client: Callable[..., Client]) -> None:
    assert staff_client("check_token").get(ALL).status_code == 403


def test_all_issuers_is_shown_to_staff_who_may_view_the_rows(staff_client: Callable[..., Client]) -> None:
    response = staff_client("view_trustedissuer").get(ALL)
    assert response.status_code == 200
    assert f'href="{CHANGELIST}check-token/"' not in response.content.decode()


def test_all_issuers_sends_anonymous_users_to_the_login_page() -> None:
    assert Client().get(ALL)["Location"].startswith("/admin/login/?next=")
