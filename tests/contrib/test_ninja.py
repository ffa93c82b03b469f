"""django-ninja: ``BearerGuard`` and ``install(api)`` answer as the DRF face and ``@bearer_required`` do."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client, RequestFactory

pytest.importorskip("ninja")

from django_bearer_guard.contrib.ninja import SCHEME, BearerGuard, BearerRefused
from django_bearer_guard.identity.dpop import current_nonce
from django_bearer_guard.signals import token_validated
from django_bearer_guard.testing import Clock, LocalIssuer, use_clock
from django_bearer_guard.testing.dpop import DPoPKey
from tests.support.faces import answer, assert_async_answers, library_exception_handler
from tests.testapp.plain_views import LOCAL

pytestmark = pytest.mark.urls("tests.testapp.ninja_urls")

FACES = {"drf": "/drf/{}", "plain": "/plain/{}", "ninja": "/ninja/{}"}
PROOF_KEY = DPoPKey("ES256")


@pytest.fixture(autouse=True)
def handler() -> Iterator[None]:
    with library_exception_handler():
        yield


def every_face(client: Client, method: str, resource: str, **extra: Any) -> dict[str, tuple[int, Any, str | None]]:
    return {face: answer(getattr(client, method)(path.format(resource), **extra)) for face, path in FACES.items()}


REQUESTS: list[tuple[str, str, Callable[[LocalIssuer], str | None], int]] = [
    ("no-credentials", "get", lambda idp: None, 401),
    ("other-scheme", "get", lambda idp: "Basic dXNlcjpwYXNz", 401),
    ("malformed", "get", lambda idp: "Bearer a b", 400),
    ("tab-separator", "get", lambda idp: f"Bearer\t{idp.mint()}", 400),
    ("two-credentials", "get", lambda idp: "Bearer aaa.bbb.ccc, Bearer ddd.eee.fff", 400),
    ("garbage", "get", lambda idp: "Bearer aaa.bbb.ccc", 401),
    ("oversized", "get", lambda idp: "Bearer " + "a" * 9000, 401),
    ("expired", "get", lambda idp: f"Bearer {idp.mint(exp=1)}", 401),
    ("untrusted-issuer", "get", lambda idp: f"Bearer {idp.mint(iss='https://evil.example/')}", 401),
    ("no-scope", "get", lambda idp: f"Bearer {idp.mint()}", 403),
    ("scope", "get", lambda idp: f"Bearer {idp.mint(scope='reports:read')}", 200),
    ("lower-case-scheme", "get", lambda idp: f"bearer {idp.mint(scope='reports:read')}", 200),
    ("post-half-the-scopes", "post", lambda idp: f"Bearer {idp.mint(scope='reports:write')}", 403),
    ("post-scopes", "post", lambda idp: f"Bearer {idp.mint(scope='reports:write reports:read')}", 201),
    ("post-alternative", "post", lambda idp: f"Bearer {idp.mint(scope='admin')}", 201),
]


@pytest.mark.parametrize("request_", REQUESTS, ids=[r[0] for r in REQUESTS])
def test_every_face_answers_alike(
    client: Client, idp: LocalIssuer, guard: Callable[..., None],
    request_: tuple[str, str, Callable[[LocalIssuer], str | None], int],
) -> None:
    _, method, header, status = request_
    value = header(idp)
    answers = every_face(client, method, "reports/", **({} if value is None else {"HTTP_AUTHORIZATION": value}))
    assert answers["plain"] == answers["drf"]
    assert answers["ninja"] == answers["drf"]
    assert answers["drf"][0] == status


def test_every_face_names_the_metadata_document_without_credentials(client: Client, guard: Callable[..., None]) -> None:
    guard(RESOURCE_METADATA={"resource": "https://api.example.com"})
    answers = every_face(client, "get", "reports/")
    assert answers["ninja"] == answers["plain"] == answers["drf"]
    assert answers["ninja"][2] == (
        'Bearer realm="api", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource"'
    )


def test_every_face_refuses_an_issuer_outside_allowed_issuers(
    client: Client, make_idp: Callable[..., LocalIssuer], guard: Callable[..., None]
) -> None:
    local, partner = make_idp(), make_idp()
    guard(issuers=[local.issuer_settings(issuer=LOCAL), partner.issuer_settings(issuer="https://partner.example/")])
    accepted = f"Bearer {local.mint(iss=LOCAL, scope='reports:read')}"
    refused = f"Bearer {partner.mint(iss='https://partner.example/', scope='reports:read')}"
    ok = every_face(client, "get", "local-reports/", HTTP_AUTHORIZATION=accepted)
    denied = every_face(client, "get", "local-reports/", HTTP_AUTHORIZATION=refused)
    assert ok["ninja"] == ok["plain"] == ok["drf"] and ok["drf"][0] == 200
    assert denied["ninja"] == denied["plain"] == denied["drf"]
    assert denied["drf"][:2] == (
        403, {"error": "access_denied", "error_description": "This resource does not accept tokens of this issuer."},
    )


def _dpop(client: Client, path: str, token: str, **proof: Any) -> Any:
    return client.get(
        path,
        HTTP_AUTHORIZATION=f"DPoP {token}",
        HTTP_DPOP=PROOF_KEY.proof("GET", f"http://testserver{path}", access_token=token, **proof),
    )


def test_every_face_answers_dpop_alike(client: Client, idp: LocalIssuer, guard: Callable[..., None]) -> None:
    guard(issuers=[idp.issuer_settings(binding="dpop", algorithms=["RS256", "ES256"])], DPOP_NONCE=True)
    with use_clock(Clock()) as clock:
        token = idp.mint(cnf={"jkt": PROOF_KEY.jkt}, scope="reports:read")
        missing = {face: _dpop(client, path.format("reports/"), token) for face, path in FACES.items()}
        stale = current_nonce(clock() - 300, 300)
        ok = {face: _dpop(client, path.format("reports/"), token, nonce=stale) for face, path in FACES.items()}
    assert answer(missing["ninja"]) == answer(missing["drf"])
    assert missing["ninja"]["DPoP-Nonce"] == missing["drf"]["DPoP-Nonce"]
    assert missing["ninja"]["WWW-Authenticate"].startswith('DPoP realm="api", error="use_dpop_nonce"')
    assert [response.status_code for response in ok.values()] == [200, 200, 200]
    assert ok["ninja"]["DPoP-Nonce"] == ok["drf"]["DPoP-Nonce"] == current_nonce(clock(), 300)


def test_guard_sets_the_token_and_its_user(client: Client, idp: LocalIssuer, guard: Callable[..., None]) -> None:
    response = client.get("/ninja/whoami/", HTTP_AUTHORIZATION=f"Bearer {idp.mint(scope='a')}")
    assert response.json() == {"issuer": idp.issuer, "scopes": ["a"], "user": "TokenUser", "username": "test-user"}


def test_async_route_validates_off_the_event_loop(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    assert_async_answers(idp, "/ninja/async-reports/")


def test_router_auth_guards_its_routes(client: Client, idp: LocalIssuer, guard: Callable[..., None]) -> None:
    assert client.get("/ninja/router/admin/", HTTP_AUTHORIZATION=f"Bearer {idp.mint(scope='admin')}").status_code == 200
    refused = client.get("/ninja/router/admin/", HTTP_AUTHORIZATION=f"Bearer {idp.mint()}")
    assert refused.status_code == 403 and 'scope="admin"' in refused["WWW-Authenticate"]
    assert client.get("/ninja/public/").status_code == 200


def test_request_without_a_token_lets_the_next_auth_try(
    client: Client, idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    assert client.get("/ninja/either/", HTTP_X_KEY="open-sesame").json() == {"auth": "key"}
    token = f"Bearer {idp.mint(scope='reports:read')}"
    assert client.get("/ninja/either/", HTTP_AUTHORIZATION=token).json() == {"auth": "token"}
    missing = client.get("/ninja/either/")
    assert (missing.status_code, missing["WWW-Authenticate"]) == (401, 'Bearer realm="api"')
    # A refused token is refused: the next auth does not get to accept the request instead.
    refused = client.get("/ninja/either/", HTTP_AUTHORIZATION="Bearer a.b.c", HTTP_X_KEY="open-sesame")
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_token"


def test_other_auth_keeps_ninjas_own_401(client: Client, guard: Callable[..., None]) -> None:
    response = client.get("/ninja/key-only/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Unauthorized"}
    assert "WWW-Authenticate" not in response


def test_api_without_install_keeps_the_status_in_ninjas_body(
    client: Client, idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    response = client.get("/bare/reports/", HTTP_AUTHORIZATION=f"Bearer {idp.mint()}")
    assert response.status_code == 403
    assert response.json() == {"detail": "The access token lacks a required scope."}
    assert client.get("/bare/reports/", HTTP_AUTHORIZATION="Bearer a b").status_code == 400


def test_signals_come_from_the_guard_class(client: Client, idp: LocalIssuer, guard: Callable[..., None]) -> None:
    senders: list[Any] = []

    def record(sender: Any, **kwargs: Any) -> None:
        senders.append(sender)

    token_validated.connect(record)
    try:
        client.get("/ninja/whoami/", HTTP_AUTHORIZATION=f"Bearer {idp.mint()}")
    finally:
        token_validated.disconnect(record)
    assert senders == [BearerGuard]


def test_authenticate_hook_reads_the_whole_header(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    request = RequestFactory().get("/", HTTP_AUTHORIZATION="Bearer a b")
    with pytest.raises(BearerRefused) as refused:
        BearerGuard().authenticate(request, "a b")
    assert refused.value.status_code == 400 and refused.value.answer.body["error"] == "invalid_request"
    token = idp.mint()
    accepted = BearerGuard().authenticate(RequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {token}"), token)
    assert accepted is not None and accepted.issuer == idp.issuer


def test_unreadable_scopes_fail_when_the_guard_is_built() -> None:
    with pytest.raises(TypeError, match="BearerGuard: scopes must be a list"):
        BearerGuard(scopes="reports:read")


def test_schema_lists_bearer_auth_with_each_operations_scopes(guard: Callable[..., None]) -> None:
    from tests.testapp.ninja_api import api

    schema = api.get_openapi_schema()
    scheme = schema["components"]["securitySchemes"]
    assert scheme[SCHEME] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    paths = schema["paths"]
    assert paths["/ninja/reports/"]["get"]["security"] == [{SCHEME: ["reports:read"]}]
    assert paths["/ninja/reports/"]["post"]["security"] == [{SCHEME: ["reports:write", "reports:read"]}]
    assert paths["/ninja/whoami/"]["get"]["security"] == [{SCHEME: []}]
    assert paths["/ninja/router/admin/"]["get"]["security"] == [{SCHEME: ["admin"]}]
    assert paths["/ninja/either/"]["get"]["security"] == [{SCHEME: ["reports:read"]}, {"_Key": []}]
    assert "security" not in paths["/ninja/public/"]["get"]
    assert set(scheme) == {SCHEME, "_Key"}
    assert "/reports/" in api.get_openapi_schema(path_prefix="")["paths"]


def test_schema_page_of_the_api_is_served(client: Client, guard: Callable[..., None]) -> None:
    response = client.get("/ninja/openapi.json")
    assert response.status_code == 200
    assert SCHEME in response.json()["components"]["securitySchemes"]
