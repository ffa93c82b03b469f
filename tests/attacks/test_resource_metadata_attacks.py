"""Attacks on the RFC 9728 metadata document and the challenges that name it.

The document is public: an unauthenticated caller reads it and follows the URL a 401 names.
The attacker sends Host headers, paths and tokens of their choosing, holds one trusted issuer
(a partner IdP, whose token must not change what is published) or slips a value into the
settings through a templated deployment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client, override_settings

from django_bearer_guard.models import TrustedIssuer
from django_bearer_guard.testing import LocalIssuer
from tests.support.client import challenge_params

pytestmark = [pytest.mark.urls("tests.testapp.metadata_urls"), pytest.mark.django_db]

RESOURCE = "https://api.example.com/v1"
URL = "https://api.example.com/.well-known/oauth-protected-resource/v1"
PATH = "/.well-known/oauth-protected-resource/v1"


@pytest.fixture
def on(guard: Callable[..., None]) -> None:
    guard(RESOURCE_METADATA={"resource": RESOURCE})


@pytest.mark.usefixtures("on")
def test_host_header_cannot_point_clients_at_another_document() -> None:
    # A forged Host must not make the document or the challenge name an attacker's server.
    with override_settings(ALLOWED_HOSTS=["*"]):
        document = Client().get(PATH, HTTP_HOST="evil.example").json()
        challenge = Client().get("/scoped/reports/", HTTP_HOST="evil.example")["WWW-Authenticate"]
    assert document["resource"] == RESOURCE
    assert challenge_params(challenge)["resource_metadata"] == URL


@pytest.mark.usefixtures("on")
@pytest.mark.parametrize(
    "path",
    [
        PATH + "/../../admin/",
        PATH + "/..",
        PATH + "%2F..%2Fadmin",
        PATH + "/",
        PATH + "/%2e%2e",
        "/.well-known/oauth-protected-resource/v1/../v1",
        "/.well-known/oauth-protected-resource//v1",
        "/.well-known/oauth-protected-resource/V1",
        "/.well-known/oauth-protected-resource",
    ],
)
def test_only_the_exact_path_answers(path: str) -> None:
    assert Client().get(path).status_code == 404


def test_an_include_under_a_prefix_serves_nothing(guard: Callable[..., None]) -> None:
    # Mounted below /api/, the document would sit where no client looks (§3.1): 404, not a wrong URL.
    guard(RESOURCE_METADATA={"resource": "https://api.example.com"})
    with override_settings(ROOT_URLCONF="tests.testapp.prefixed_metadata_urls"):
        assert Client().get("/api/.well-known/oauth-protected-resource").status_code == 404


@pytest.mark.parametrize(
    "resource",
    [
        'https://api.example.com/v1", error="invalid_token',
        "https://api.example.com/v1\r\nSet-Cookie: session=stolen",
        "https://api.example.com/v1\x00",
        "https://api.example.com/v1 realm=other",
    ],
)
def test_a_resource_cannot_inject_challenge_parameters(guard: Callable[..., None], resource: str) -> None:
    guard(RESOURCE_METADATA={"resource": resource})
    response = Client().get("/scoped/reports/")
    assert response.status_code == 401
    # Refused by the check (E028): the document is off and no challenge names it.
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert "Set-Cookie" not in response
    assert Client().get(PATH).status_code == 404


def test_bad_settings_never_answer_500(guard: Callable[..., None], bearer: Callable[..., Any]) -> None:
    guard(RESOURCE_METADATA={"resource": RESOURCE, "authorization_servers": "https://idp.example"})
    assert Client().get(PATH).status_code == 404
    # Misconfiguration fails closed for tokens too, like every other settings error.
    response = Client().get("/scoped/reports/", **bearer(scope="reports:read"))
    assert response.status_code == 401
    body = response.json()
    assert set(body) == {"error", "error_description"}
    assert "RESOURCE_METADATA" not in response.content.decode()


@pytest.mark.usefixtures("on")
def test_disabled_and_broken_rows_are_not_published(make_idp: Callable[..., LocalIssuer], idp: LocalIssuer) -> None:
    # An unauthenticated caller must not learn of the issuers an operator switched off or got wrong.
    switched_off, broken = make_idp(), make_idp()
    TrustedIssuer.objects.create(name="Retired", enabled=False, **switched_off.issuer_settings())
    TrustedIssuer.objects.create(name="Typo", **broken.issuer_settings(audiences=[]))
    document = Client().get(PATH).json()
    assert document["authorization_servers"] == [idp.issuer]
    assert switched_off.issuer not in str(document) and broken.issuer not in str(document)


def test_an_explicit_list_keeps_a_partner_unpublished(
    guard: Callable[..., None], idp: LocalIssuer, make_idp: Callable[..., LocalIssuer]
) -> None:
    partner = make_idp()
    guard(
        issuers=[idp.issuer_settings(), partner.issuer_settings()],
        RESOURCE_METADATA={"resource": RESOURCE, "authorization_servers": [idp.issuer]},
    )
    document = Client().get(PATH).json()
    assert document["authorization_servers"] == [idp.issuer]
    assert partner.issuer not in str(document)


@pytest.mark.usefixtures("on")
def test_a_token_changes_nothing_in_the_document(idp: LocalIssuer) -> None:
    # The partner's token (valid, or forged) neither unlocks nor alters the public document.
    anonymous = Client().get(PATH).content
    token = idp.mint(scope="admin docs:admin")
    assert Client().get(PATH, HTTP_AUTHORIZATION=f"Bearer {token}").content == anonymous
    garbage = Client().get(PATH, HTTP_AUTHORIZATION="Bearer a.b.c")
    assert garbage.status_code == 200 and garbage.content == anonymous


@pytest.mark.usefixtures("on")
def test_scopes_of_unenforced_declarations_are_not_advertised() -> None:
    with override_settings(ROOT_URLCONF="tests.testapp.metadata_other_urls"):
        document = Client().get(PATH).json()
    assert document["scopes_supported"] == ["profile:read"]
