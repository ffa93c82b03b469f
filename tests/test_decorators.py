"""``@bearer_required``: the DRF face's statuses, bodies and challenges for plain Django views, sync and async."""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import AsyncClient, Client, RequestFactory

from django_bearer_guard.decorators import bearer_required
from django_bearer_guard.identity.dpop import current_nonce
from django_bearer_guard.signals import token_rejected, token_validated
from django_bearer_guard.testing import Clock, LocalIssuer, use_clock
from django_bearer_guard.testing.dpop import DPoPKey
from tests.support.faces import answer, assert_async_answers, library_exception_handler
from tests.support.live import free_port
from tests.testapp.plain_views import LOCAL

pytestmark = pytest.mark.urls("tests.testapp.plain_urls")

PLAIN = ["/plain/reports/", "/plain/async-reports/", "/plain/class-reports/"]
PROOF_KEY = DPoPKey("ES256")


@pytest.fixture(autouse=True)
def handler() -> Iterator[None]:
    with library_exception_handler():
        yield


CASES: list[tuple[str, str, Callable[[LocalIssuer], str | None]]] = [
    ("no-credentials", "get", lambda idp: None),
    ("other-scheme", "get", lambda idp: "Basic dXNlcjpwYXNz"),
    ("malformed", "get", lambda idp: "Bearer a b"),
    ("two-credentials", "get", lambda idp: "Bearer aaa.bbb.ccc, Bearer ddd.eee.fff"),
    ("garbage", "get", lambda idp: "Bearer aaa.bbb.ccc"),
    ("oversized", "get", lambda idp: "Bearer " + "a" * 9000),
    ("expired", "get", lambda idp: f"Bearer {idp.mint(exp=1)}"),
    ("wrong-audience", "get", lambda idp: f"Bearer {idp.mint(aud='https://other.example')}"),
    ("no-scope", "get", lambda idp: f"Bearer {idp.mint()}"),
    ("scope", "get", lambda idp: f"Bearer {idp.mint(scope='reports:read')}"),
    ("post-half-the-scopes", "post", lambda idp: f"Bearer {idp.mint(scope='reports:write')}"),
    ("post-scopes", "post", lambda idp: f"Bearer {idp.mint(scope='reports:write reports:read')}"),
    ("post-alternative", "post", lambda idp: f"Bearer {idp.mint(scope='admin')}"),
]


@pytest.mark.parametrize("path", PLAIN)
@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_decorated_view_answers_as_the_drf_view(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], path: str,
    case: tuple[str, str, Callable[[LocalIssuer], str | None]],
) -> None:
    _, method, header = case
    value = header(idp)
    extra: dict[str, Any] = {} if value is None else {"HTTP_AUTHORIZATION": value}
    drf = getattr(client, method)("/drf/reports/", **extra)
    plain = getattr(client, method)(path, **extra)
    assert answer(plain) == answer(drf)
    assert plain.status_code in (200, 201, 400, 401, 403)


def test_no_credentials_answer_names_the_metadata_document(client: Client, guard: Callable[..., None]) -> None:
    guard(RESOURCE_METADATA={"resource": "https://api.example.com"})
    drf, plain = client.get("/drf/reports/"), client.get("/plain/reports/")
    assert answer(plain) == answer(drf)
    assert plain.status_code == 401
    description = "Authentication credentials were not provided."
    assert plain.json() == {"error": "missing_token", "error_description": description}
    assert plain["WWW-Authenticate"] == (
        'Bearer realm="api", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource"'
    )


def test_bad_token_answer_names_the_realm_and_metadata_document(
    client: Client, guard: Callable[..., None]
) -> None:
    guard(REALM="files", RESOURCE_METADATA={"resource": "https://api.example.com"})
    extra: dict[str, Any] = {"HTTP_AUTHORIZATION": "Bearer a.b.c"}
    drf, plain = client.get("/drf/reports/", **extra), client.get("/plain/reports/", **extra)
    assert answer(plain) == answer(drf)
    assert plain["WWW-Authenticate"].startswith('Bearer realm="files", error="invalid_token"')
    assert "resource_metadata=" in plain["WWW-Authenticate"]


def test_view_sees_the_token_and_its_user(client: Client, idp: LocalIssuer, guard: Callable[..., None]) -> None:
    response = client.get("/plain/whoami/", HTTP_AUTHORIZATION=f"Bearer {idp.mint(scope='a b')}")
    assert response.json() == {
        "issuer": idp.issuer, "scopes": ["a", "b"], "user": "TokenUser", "username": "test-user", "same_user": True,
    }


def test_async_view_sees_the_token_user_through_auser(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    async def call() -> Any:
        return await AsyncClient().get("/plain/async-whoami/", headers={"Authorization": f"Bearer {idp.mint()}"})

    response = asyncio.run(call())
    assert response.status_code == 200
    assert response.json()["user"] == "TokenUser" and response.json()["same_user"] is True


@pytest.mark.parametrize("path", ["/plain/async-reports/", "/plain/async-class-reports/"])
def test_async_views_answer_through_the_async_client(idp: LocalIssuer, guard: Callable[..., None], path: str) -> None:
    assert_async_answers(idp, path)


def test_decorated_views_are_marked_async_or_sync() -> None:
    from asgiref.sync import iscoroutinefunction

    from tests.testapp import plain_views

    assert iscoroutinefunction(plain_views.async_reports)
    assert not iscoroutinefunction(plain_views.reports)
    assert plain_views.reports.__name__ == "reports"


def test_empty_scopes_accept_any_token(client: Client, idp: LocalIssuer, guard: Callable[..., None]) -> None:
    assert client.get("/plain/any-token/", HTTP_AUTHORIZATION=f"Bearer {idp.mint()}").status_code == 200
    assert client.get("/plain/any-token/").status_code == 401


def test_allowed_issuers_refuses_other_issuers_as_the_drf_view(
    client: Client, make_idp: Callable[..., LocalIssuer], guard: Callable[..., None]
) -> None:
    local, partner = make_idp(), make_idp()
    guard(issuers=[local.issuer_settings(issuer=LOCAL), partner.issuer_settings(issuer="https://partner.example/")])
    for idp, iss, status in ((local, LOCAL, 200), (partner, "https://partner.example/", 403)):
        extra: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {idp.mint(iss=iss, scope='reports:read')}"}
        drf, plain = client.get("/drf/local-reports/", **extra), client.get("/plain/local-reports/", **extra)
        assert answer(plain) == answer(drf)
        assert plain.status_code == status
    assert plain.json() == {
        "error": "access_denied", "error_description": "This resource does not accept tokens of this issuer.",
    }


def test_post_with_a_token_needs_no_csrf_token(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post("/plain/reports/", HTTP_AUTHORIZATION=f"Bearer {idp.mint(scope='admin')}")
    assert response.status_code == 201
    assert client.post("/plain/reports/").status_code == 401


def test_signals_come_from_bearer_required(client: Client, idp: LocalIssuer, guard: Callable[..., None]) -> None:
    seen: list[tuple[str, Any, Any]] = []

    def validated(sender: Any, request: Any, **kwargs: Any) -> None:
        seen.append(("validated", sender, request))

    def rejected(sender: Any, request: Any, **kwargs: Any) -> None:
        seen.append(("rejected", sender, request))

    token_validated.connect(validated)
    token_rejected.connect(rejected)
    try:
        client.get("/plain/whoami/", HTTP_AUTHORIZATION=f"Bearer {idp.mint()}")
        client.get("/plain/whoami/", HTTP_AUTHORIZATION="Bearer a.b.c")
    finally:
        token_validated.disconnect(validated)
        token_rejected.disconnect(rejected)
    assert [(kind, sender) for kind, sender, _ in seen] == [
        ("validated", bearer_required), ("rejected", bearer_required),
    ]
    assert all(isinstance(request, HttpRequest) for _, _, request in seen)


def _view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scopes": "reports:read"}, "scopes must be a list"),
        ({"scopes": [["a"], "b"]}, "scopes must be a list"),
        ({"scopes": ["a b"]}, "scopes must be a list"),
        ({"scopes_by_method": {"GTE": ["a"]}}, "'GTE', which is not an HTTP method"),
        ({"scopes_by_method": {1: ["a"]}}, "1, which is not an HTTP method"),
        ({"scopes_by_method": {"post": "a"}}, r"scopes_by_method\['post'\] must be a list"),
        ({"scopes_by_method": [("GET", ["a"])]}, "scopes_by_method must be a dict"),
        ({"allowed_issuers": LOCAL}, "allowed_issuers must be a list"),
        ({"allowed_issuers": [""]}, "non-empty strings"),
    ],
)
def test_unreadable_declaration_fails_when_the_view_is_declared(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(TypeError, match=message):
        bearer_required(**kwargs)(_view)


def test_method_outside_scopes_by_method_is_refused(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    view = bearer_required(scopes_by_method={"post": ["a"]})(_view)
    factory = RequestFactory()
    token = f"Bearer {idp.mint(scope='a')}"
    assert view(factory.post("/", HTTP_AUTHORIZATION=token)).status_code == 200
    refused = view(factory.get("/", HTTP_AUTHORIZATION=token))
    assert refused.status_code == 403
    assert json.loads(refused.content) == {
        "error": "access_denied", "error_description": "This resource declares no scopes.",
    }
    assert "WWW-Authenticate" not in refused


# -- DPoP ----------------------------------------------------------------------------------------


@pytest.fixture
def dpop_guard(idp: LocalIssuer, guard: Callable[..., None]) -> Callable[..., None]:
    def apply(**settings: Any) -> None:
        guard(issuers=[idp.issuer_settings(binding="dpop", algorithms=["RS256", "ES256"])], **settings)

    apply()
    return apply


def _dpop(client: Client, path: str, token: str, **proof: Any) -> Any:
    return client.get(
        path,
        HTTP_AUTHORIZATION=f"DPoP {token}",
        HTTP_DPOP=PROOF_KEY.proof("GET", f"http://testserver{path}", access_token=token, **proof),
    )


def test_dpop_request_is_accepted_and_gets_the_next_nonce(
    client: Client, idp: LocalIssuer, dpop_guard: Callable[..., None]
) -> None:
    dpop_guard(DPOP_NONCE=True)
    with use_clock(Clock()) as clock:
        token = idp.mint(cnf={"jkt": PROOF_KEY.jkt}, scope="reports:read")
        stale = current_nonce(clock() - 300, 300)
        drf, plain = (_dpop(client, path, token, nonce=stale) for path in ("/drf/reports/", "/plain/reports/"))
        assert (plain.status_code, plain.json()) == (drf.status_code, drf.json()) == (200, {"report": "ok"})
        assert plain["DPoP-Nonce"] == drf["DPoP-Nonce"] == current_nonce(clock(), 300)


def test_dpop_refusals_carry_the_dpop_challenge_as_the_drf_view(
    client: Client, idp: LocalIssuer, dpop_guard: Callable[..., None]
) -> None:
    dpop_guard(DPOP_NONCE=True)
    token = idp.mint(cnf={"jkt": PROOF_KEY.jkt}, scope="reports:read")
    drf, plain = (_dpop(client, path, token) for path in ("/drf/reports/", "/plain/reports/"))
    assert answer(plain) == answer(drf)
    assert plain.json()["error"] == "use_dpop_nonce" and plain["DPoP-Nonce"] == drf["DPoP-Nonce"]
    assert plain["WWW-Authenticate"].startswith('DPoP realm="api", error="use_dpop_nonce"')
    dpop_guard()
    unscoped = idp.mint(cnf={"jkt": PROOF_KEY.jkt})
    drf, plain = (_dpop(client, path, unscoped) for path in ("/drf/reports/", "/plain/reports/"))
    assert answer(plain) == answer(drf)
    assert plain.status_code == 403
    assert plain["WWW-Authenticate"].startswith('DPoP realm="api", error="insufficient_scope"')
    extra: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    drf, plain = client.get("/drf/reports/", **extra), client.get("/plain/reports/", **extra)
    assert answer(plain) == answer(drf)
    assert plain.status_code == 401


def test_refusals_after_a_stale_nonce_still_carry_the_next_nonce(
    client: Client, make_idp: Callable[..., LocalIssuer], guard: Callable[..., None]
) -> None:
    local, partner = make_idp(("RS256", "ES256")), make_idp(("RS256", "ES256"))
    guard(
        issuers=[
            local.issuer_settings(issuer=LOCAL, binding="dpop"),
            partner.issuer_settings(issuer="https://partner.example/", binding="dpop"),
        ],
        DPOP_NONCE=True,
    )
    with use_clock(Clock()) as clock:
        stale, fresh = current_nonce(clock() - 300, 300), current_nonce(clock(), 300)
        unscoped = local.mint(iss=LOCAL, cnf={"jkt": PROOF_KEY.jkt})
        partners = partner.mint(iss="https://partner.example/", cnf={"jkt": PROOF_KEY.jkt}, scope="reports:read")
        for resource, token, status in (("reports/", unscoped, 403), ("local-reports/", partners, 403)):
            drf, plain = (_dpop(client, f"/{face}/{resource}", token, nonce=stale) for face in ("drf", "plain"))
            assert answer(plain) == answer(drf)
            assert plain.status_code == status
            assert plain["DPoP-Nonce"] == drf["DPoP-Nonce"] == fresh


# -- a real ASGI server ----------------------------------------------------------------------------


@pytest.fixture
def asgi_server(guard: Callable[..., None]) -> Iterator[tuple[str, int]]:
    """uvicorn serving this process's Django (its settings and URLconf) on 127.0.0.1."""
    import uvicorn
    from django.core.asgi import get_asgi_application

    config = uvicorn.Config(
        get_asgi_application(), host="127.0.0.1", port=free_port(), lifespan="off", log_level="warning",
        http="h11", ws="none",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    try:
        yield ("127.0.0.1", config.port)
    finally:
        server.should_exit = True
        thread.join(10)


def _get(address: tuple[str, int], path: str, header: str | None) -> tuple[int, float]:
    start = time.monotonic()
    conn = http.client.HTTPConnection(*address, timeout=10)
    try:
        conn.request("GET", path, headers={} if header is None else {"Authorization": header})
        response = conn.getresponse()
        response.read()
        return response.status, time.monotonic() - start
    finally:
        conn.close()


def test_slow_key_fetch_does_not_block_the_event_loop(
    idp: LocalIssuer, guard: Callable[..., None], asgi_server: tuple[str, int]
) -> None:
    guard(PREFETCH_KEYS=False)
    idp.mode, idp.delay = "slow", 1.5
    token = idp.mint(scope="reports:read")
    slow: list[tuple[int, float]] = []
    fetching = threading.Thread(
        target=lambda: slow.append(_get(asgi_server, "/plain/async-reports/", f"Bearer {token}"))
    )
    fetching.start()
    deadline = time.monotonic() + 5
    while idp.fetches() == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    # The issuer is now holding the key fetch: another request is answered meanwhile.
    status, elapsed = _get(asgi_server, "/plain/async-reports/", None)
    fetching.join(10)
    assert status == 401 and elapsed < 1.0
    assert slow[0][0] == 200 and slow[0][1] >= 1.4
