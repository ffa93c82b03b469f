"""The token checker page: who may use it, what it shows, and what it never keeps or sends back."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.test import Client

from django_bearer_guard.testing import Clock, LocalIssuer
from tests.admin.conftest import CHANGELIST
from tests.admin.pages import rows_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_rows_only")]

CHECK = CHANGELIST + "check-token/"


@pytest.fixture(autouse=True)
def _trusted(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    guard(ISSUERS=[idp.issuer_settings()])


def no_store(response: Any) -> bool:
    return "no-store" in response.get("Cache-Control", "")


def steps_of(response: Any) -> list[list[str]]:
    return [list(row.values()) for row in rows_of(response.content.decode(), 'id="verdict"')[1:]]


def test_checker_sends_anonymous_users_to_the_login_page() -> None:
    for response in (Client().get(CHECK), Client().post(CHECK, {"token": "x"})):
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/?next=")
        assert no_store(response)


def test_checker_refuses_staff_without_the_permission(staff_client: Callable[..., Client]) -> None:
    client = staff_client("view_trustedissuer", "change_trustedissuer")
    for response in (client.get(CHECK), client.post(CHECK, {"token": "x"})):
        assert response.status_code == 403
        assert no_store(response)


def test_checker_shows_its_form_to_staff_with_the_permission(staff_client: Callable[..., Client]) -> None:
    response = staff_client("check_token").get(CHECK)
    assert response.status_code == 200
    assert no_store(response)
    html = response.content.decode()
    assert '<textarea name="token"' in html and 'name="path"' in html
    assert 'id="verdict"' not in html


def test_checker_refuses_a_post_without_the_csrf_token(admin_user: User, idp: LocalIssuer) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    refused = client.post(CHECK, {"token": idp.mint()})
    assert refused.status_code == 403
    assert no_store(refused)
    assert 'id="verdict"' not in refused.content.decode()
    client.get(CHECK)
    accepted = client.post(CHECK, {"token": idp.mint(), "csrfmiddlewaretoken": client.cookies["csrftoken"].value})
    assert accepted.status_code == 200
    assert "✓ accepted" in accepted.content.decode()


def test_checker_shows_the_verdict_of_an_accepted_token_without_the_token(
    admin_client: Client, idp: LocalIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    token = idp.mint(scope="reports:read files:read", team="blue")
    caplog.set_level(logging.DEBUG)
    response = admin_client.post(CHECK, {"token": token})
    assert response.status_code == 200
    assert no_store(response)
    html = response.content.decode()
    assert "✓ accepted" in html and "<h3>Claims</h3>" in html
    steps = steps_of(response)
    assert steps and all(step[0] == "✓" for step in steps), steps
    assert [step[1] for step in steps][:3] == ["settings", "compact form and header", "issuer trusted"]
    assert "<code>files:read</code> <code>reports:read</code>" in html
    assert "<code>test-user</code>" in html
    assert "&quot;team&quot;: &quot;blue&quot;" in html and "&quot;kid&quot;" in html
    # The token is neither sent back, nor logged, nor recorded; its signature never appears.
    assert token not in html and token.rsplit(".", 1)[1] not in html
    assert token not in caplog.text
    assert not LogEntry.objects.exists()
    # An error report of the request would mask it too.
    assert getattr(response.wsgi_request, "sensitive_post_parameters", None) == ("token",)


def test_checker_shows_the_failing_step_of_an_expired_token(
    admin_client: Client, idp: LocalIssuer, clock: Clock
) -> None:
    token = idp.mint(lifetime=60)
    clock.advance(60 + 30 + 240)
    response = admin_client.post(CHECK, {"token": token})
    html = response.content.decode()
    assert "✗ refused: ExpiredToken" in html
    steps = {step[1]: step for step in steps_of(response)}
    assert steps["exp"][0] == "✗" and "expired 4 minutes ago" in steps["exp"][2], steps["exp"]
    assert steps["audience"][:3] == ["·", "audience", "not reached"]
    assert "<h3>Claims (signature verified, but the token was refused)</h3>" in html
    assert "<h3>Scopes</h3>" not in html
    assert token not in html


def test_checker_checks_the_scopes_of_a_view(admin_client: Client, idp: LocalIssuer) -> None:
    response = admin_client.post(CHECK, {"token": idp.mint(scope="files:read"), "path": "/scoped/reports/"})
    html = response.content.decode()
    assert "✗ refused: InsufficientScope" in html
    (view,) = (step for step in steps_of(response) if step[1] == "view scopes")
    assert view[0] == "✗" and "reports:read" in view[2]
    assert 'value="/scoped/reports/"' in html
    # Verified, yet refused for this view: what the token holds is shown.
    assert "<h3>Scopes</h3>" in html and "<code>files:read</code>" in html
    assert "<h3>Claims (signature verified, but the token was refused)</h3>" in html


def test_checker_shows_what_it_could_not_decode(admin_client: Client) -> None:
    response = admin_client.post(CHECK, {"token": "Bearer not-a-token"})
    html = response.content.decode()
    assert "✗ refused: MalformedToken" in html
    assert html.count("Not decoded.") == 2
    assert "<h3>Header (not verified: the token was refused)</h3>" in html
    (failed,) = (step for step in steps_of(response) if step[0] == "✗")
    assert "without the 'Bearer '" in failed[3]


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"token": ""}, "token", "This field is required."),
        ({"token": "   "}, "token", "This field is required."),
        ({"path": "scoped/reports/"}, "path", "Give a path of this site, starting with '/'."),
    ],
)
def test_checker_form_refuses_bad_input_without_sending_the_token_back(
    admin_client: Client, idp: LocalIssuer, data: dict[str, str], field: str, message: str
) -> None:
    token = idp.mint()
    response = admin_client.post(CHECK, {"token": token, **data})
    assert response.status_code == 200
    assert response.context["form"].errors[field] == [message]
    html = response.content.decode()
    assert 'id="verdict"' not in html
    assert token not in html


def test_changelist_links_to_the_extra_pages(admin_client: Client, staff_client: Callable[..., Client]) -> None:
    html = admin_client.get(CHANGELIST).content.decode()
    assert f'href="{CHANGELIST}all/"' in html and f'href="{CHECK}"' in html
    html = staff_client("view_trustedissuer").get(CHANGELIST).content.decode()
    assert f'href="{CHANGELIST}all/"' in html and f'href="{CHECK}"' not in html
