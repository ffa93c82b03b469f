"""The plain Django and django-ninja faces refuse what the DRF face refuses, one test per attack.

Each request goes to the DRF view and to its twin behind ``@bearer_required`` (and, where
django-ninja is installed, behind ``BearerGuard``): the twin must answer exactly as the DRF view.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from django.contrib.auth import get_user_model
from django.test import Client
from pytest_django import Settings

from django_bearer_guard.testing import LocalIssuer, generate_key
from django_bearer_guard.testing.dpop import DPoPKey
from tests.attacks.test_token_attacks import b64, claims_for, forge
from tests.testapp.plain_views import LOCAL

HANDLER = "django_bearer_guard.exceptions.exception_handler"


@pytest.fixture(params=["plain", "ninja"])
def face(request: pytest.FixtureRequest, settings: Settings, guard: Callable[..., None]) -> str:
    """The path prefix of the face under attack, with its URLconf and the library's DRF handler."""
    if request.param == "ninja":
        pytest.importorskip("ninja")
        settings.ROOT_URLCONF = "tests.testapp.ninja_urls"
    else:
        settings.ROOT_URLCONF = "tests.testapp.plain_urls"
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "EXCEPTION_HANDLER": HANDLER}
    return f"/{request.param}/"


def answer(response: Any) -> tuple[int, Any, str | None]:
    return response.status_code, response.json(), response.get("WWW-Authenticate")


def same_as_drf(
    client: Client, face: str, resource: str, method: str = "get", **extra: Any
) -> tuple[int, Any, str | None]:
    drf = answer(getattr(client, method)(f"/drf/{resource}", **extra))
    twin = answer(getattr(client, method)(f"{face}{resource}", **extra))
    assert twin == drf
    return twin


def _key_confusion(idp: LocalIssuer) -> str:
    public = idp.signing_key().private_key.public_key()
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = {"alg": "HS256", "kid": idp.signing_key().kid, "typ": "JWT"}
    signing_input = f"{b64(json.dumps(header))}.{b64(json.dumps(claims_for(idp, scope='reports:read')))}".encode()
    mac = jwt.algorithms.HMACAlgorithm(jwt.algorithms.HMACAlgorithm.SHA256).sign(signing_input, pem)
    return signing_input.decode() + "." + b64(mac)


ATTACKS: list[tuple[str, Callable[[LocalIssuer], str]]] = [
    ("alg-none", lambda idp: forge({"alg": "none", "kid": idp.signing_key().kid}, claims_for(idp))),
    ("hs256-with-the-public-key", _key_confusion),
    ("unknown-key-known-kid", lambda idp: idp.mint(key=generate_key("RS256", kid=idp.signing_key().kid),
                                                   scope="reports:read")),
    ("attacker-key-url", lambda idp: idp.mint(headers={"jku": "http://127.0.0.1:9/jwks"}, scope="reports:read")),
    ("untrusted-issuer", lambda idp: idp.mint(iss=idp.issuer + "evil", scope="reports:read")),
    ("expired", lambda idp: idp.mint(exp=1, scope="reports:read")),
    ("other-audience", lambda idp: idp.mint(aud="https://other.example", scope="reports:read")),
]


@pytest.mark.parametrize(("attack", "token"), ATTACKS, ids=[attack for attack, _ in ATTACKS])
def test_token_the_drf_face_refuses_is_refused_by_every_face(
    client: Client, idp: LocalIssuer, face: str, attack: str, token: Callable[[LocalIssuer], str]
) -> None:
    status, body, challenge = same_as_drf(client, face, "reports/", HTTP_AUTHORIZATION=f"Bearer {token(idp)}")
    assert status == 401 and body["error"] == "invalid_token"
    assert challenge is not None and 'error="invalid_token"' in challenge


def test_partner_token_outside_allowed_issuers_is_forbidden(
    client: Client, make_idp: Callable[..., LocalIssuer], guard: Callable[..., None], face: str
) -> None:
    local, partner = make_idp(), make_idp()
    guard(issuers=[local.issuer_settings(issuer=LOCAL), partner.issuer_settings(issuer="https://partner.example/")])
    token = partner.mint(iss="https://partner.example/", scope="reports:read")
    status, body, challenge = same_as_drf(client, face, "local-reports/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert (status, body["error"], challenge) == (403, "access_denied", None)


def test_token_in_the_query_string_is_not_a_credential(client: Client, idp: LocalIssuer, face: str) -> None:
    status, body, challenge = same_as_drf(client, face, f"reports/?access_token={idp.mint(scope='reports:read')}")
    assert (status, body["error"], challenge) == (401, "missing_token", 'Bearer realm="api"')


@pytest.mark.parametrize(
    "header",
    ["Bearer {token}, Bearer {token}", "Bearer {token} x", "Bearer\t{token}", "Bearer {token}\x00"],
    ids=["second-credential", "trailing-word", "tab", "nul"],
)
def test_credential_outside_the_rfc_6750_grammar_is_invalid_request(
    client: Client, idp: LocalIssuer, face: str, header: str
) -> None:
    value = header.format(token=idp.mint(scope="reports:read"))
    status, body, _ = same_as_drf(client, face, "reports/", HTTP_AUTHORIZATION=value)
    assert (status, body["error"]) == (400, "invalid_request")


def test_stolen_dpop_token_replayed_as_bearer_is_refused(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], face: str
) -> None:
    guard(issuers=[idp.issuer_settings(binding="dpop", algorithms=["RS256", "ES256"])])
    token = idp.mint(cnf={"jkt": DPoPKey("ES256").jkt}, scope="reports:read")
    status, body, _ = same_as_drf(client, face, "reports/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert (status, body["error"]) == (401, "invalid_token")


@pytest.mark.django_db
def test_session_without_a_token_gets_401_and_never_reaches_the_view(face: str) -> None:
    # A logged-in browser, lured to a cross-site form: the session cookie goes along, no token does.
    user = get_user_model().objects.create_user("alice", password="pw", is_superuser=True)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    for method in ("get", "post"):
        response = getattr(browser, method)(f"{face}reports/")
        assert response.status_code == 401
        assert response.json()["error"] == "missing_token"


@pytest.mark.django_db
def test_token_caller_is_never_the_session_user(idp: LocalIssuer, guard: Callable[..., None], face: str) -> None:
    admin = get_user_model().objects.create_user("admin", password="pw", is_superuser=True)
    browser = Client()
    browser.force_login(admin)
    paths = ["whoami/"] if face == "/ninja/" else ["whoami/", "async-whoami/"]
    for path in paths:
        response = browser.get(f"{face}{path}", HTTP_AUTHORIZATION=f"Bearer {idp.mint(sub='mallory')}")
        assert response.status_code == 200
        assert (response.json()["user"], response.json()["username"]) == ("TokenUser", "mallory")
