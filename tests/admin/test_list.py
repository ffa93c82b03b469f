"""The changelist: its columns, the search and each filter."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib import admin
from django.test import Client, override_settings

from django_bearer_guard import runtime
from django_bearer_guard.admin import TrustedIssuerAdmin
from django_bearer_guard.models import TrustedIssuer
from django_bearer_guard.testing import LocalIssuer
from tests.admin.conftest import CHANGELIST
from tests.admin.pages import changelist_rows

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_rows_only")]


@pytest.fixture
def rows(idp: LocalIssuer, make_idp: Callable[..., LocalIssuer]) -> dict[str, TrustedIssuer]:
    """Four rows: fetched and healthy, failing, disabled with inline keys, never fetched."""
    down, inline, fresh = make_idp(), make_idp(), make_idp()
    down.mode = "down"
    made = {
        "healthy": TrustedIssuer.objects.create(name="Corporate", **idp.issuer_settings()),
        "failing": TrustedIssuer.objects.create(name="Partner", **down.issuer_settings()),
        "disabled": TrustedIssuer.objects.create(
            name="Lab", **inline.issuer_settings(jwks=inline.jwks(), enabled=False)
        ),
        "not fetched yet": TrustedIssuer.objects.create(name="Fresh", **fresh.issuer_settings()),
    }
    runtime.fetch_now(made["healthy"].to_config())
    runtime.fetch_now(made["failing"].to_config())
    return made


def test_trusted_issuer_admin_is_registered_on_the_default_site() -> None:
    assert isinstance(admin.site.get_model_admin(TrustedIssuer), TrustedIssuerAdmin)


@override_settings(TIME_ZONE="UTC")
def test_changelist_shows_each_issuer_with_its_health(admin_client: Client, rows: dict[str, TrustedIssuer]) -> None:
    response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    html = response.content.decode()
    for header in ("Name", "Issuer", "Enabled", "Key source", "Status", "Keys", "Last success", "Last error"):
        assert f">{header}</a>" in html or f">{header}</span>" in html, header
    cells = changelist_rows(response)
    healthy = cells[rows["healthy"].issuer]
    assert (healthy["name"], healthy["key_source"], healthy["status"], healthy["key_count"]) == (
        "Corporate", "jwks_uri", "healthy", "1"
    )
    assert healthy["last_success"] == "2027-01-15 08:00:00 UTC"
    assert healthy["last_error"] == "-"
    failing = cells[rows["failing"].issuer]
    assert (failing["status"], failing["key_count"], failing["last_success"]) == ("failing", "0", "-")
    assert "503" in failing["last_error"]
    disabled = cells[rows["disabled"].issuer]
    assert (disabled["key_source"], disabled["status"], disabled["key_count"]) == ("inline jwks", "disabled", "1")
    assert cells[rows["not fetched yet"].issuer]["status"] == "not fetched yet"


def test_changelist_searches_names_and_issuers(admin_client: Client, rows: dict[str, TrustedIssuer]) -> None:
    by_name = changelist_rows(admin_client.get(CHANGELIST, {"q": "partner"}))
    assert list(by_name) == [rows["failing"].issuer]
    port = rows["healthy"].issuer.rsplit(":", 1)[1]
    assert list(changelist_rows(admin_client.get(CHANGELIST, {"q": port}))) == [rows["healthy"].issuer]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"enabled__exact": "0"}, {"disabled"}),
        ({"enabled__exact": "1"}, {"healthy", "failing", "not fetched yet"}),
        ({"status": "healthy"}, {"healthy"}),
        ({"status": "failing"}, {"failing"}),
        ({"status": "not fetched yet"}, {"not fetched yet"}),
        ({"status": "stale"}, set()),
        ({"source": "inline jwks"}, {"disabled"}),
        ({"source": "jwks_uri"}, {"healthy", "failing", "not fetched yet"}),
        ({"source": "discovery"}, set()),
        ({"status": "healthy", "source": "jwks_uri", "enabled__exact": "1"}, {"healthy"}),
    ],
)
def test_changelist_filters(
    admin_client: Client, rows: dict[str, TrustedIssuer], query: dict[str, str], expected: set[str]
) -> None:
    response = admin_client.get(CHANGELIST, query)
    assert response.status_code == 200
    assert set(changelist_rows(response)) == {rows[name].issuer for name in expected}


def test_changelist_offers_every_status_and_row_source_as_a_filter(
    admin_client: Client, rows: dict[str, TrustedIssuer]
) -> None:
    html = admin_client.get(CHANGELIST).content.decode()
    for value in ("healthy", "stale", "failing", "misconfigured", "disabled", "shadowed", "not+fetched+yet"):
        assert f"?status={value}" in html, value
    for value in ("jwks_uri", "discovery", "inline+jwks", "none"):
        assert f"?source={value}" in html, value


def test_status_filter_sees_shadowed_and_misconfigured_rows(
    admin_client: Client, idp: LocalIssuer, make_idp: Callable[..., LocalIssuer], guard: Callable[..., None]
) -> None:
    other = make_idp()
    shadowed = TrustedIssuer.objects.create(**idp.issuer_settings())
    broken = TrustedIssuer.objects.create(**other.issuer_settings(algorithms=["none"]))
    guard(ISSUERS=[idp.issuer_settings()])
    assert set(changelist_rows(admin_client.get(CHANGELIST, {"status": "shadowed"}))) == {shadowed.issuer}
    assert set(changelist_rows(admin_client.get(CHANGELIST, {"status": "misconfigured"}))) == {broken.issuer}
