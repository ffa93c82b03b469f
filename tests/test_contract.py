"""Acceptance checks of DESIGN.md's behaviour contract, public names and settings keys.

Each test reads one promise of the contract and checks it through the public surface only:
a DRF view behind ``BearerTokenAuthentication``, real ``LocalIssuer`` servers on 127.0.0.1,
``manage.py check``, and the plain APIs (``KeySet.from_jwks``, ``verify_compact``, ``use_clock``).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.core.checks import Error
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client, override_settings
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from django_bearer_guard.checks import check_settings
from django_bearer_guard.exceptions import (
    DisallowedAlgorithm,
    DuplicateKeyId,
    ExpiredToken,
    InvalidToken,
    KeyMismatch,
    KeySetError,
    NoSigningKeys,
    WeakKey,
)
from django_bearer_guard.jwks import KeySet
from django_bearer_guard.testing import Clock, LocalIssuer, SigningKey, use_clock
from django_bearer_guard.tokens import verify_compact
from django_bearer_guard.tokens.validator import TokenValidator
from tests.support.keys import pooled_key

_PARAM = re.compile(r'([a-z_]+)="((?:[^"\\]|\\.)*)"')
_ERROR_CHALLENGE = re.compile(
    r'^Bearer realm="api", error="(invalid_request|invalid_token|insufficient_scope)"'
    r'(, error_description="[ -!#-\[\]-~]*")?(, scope="[^"]+")?$'
)


def challenge_params(value: str) -> dict[str, str]:
    assert value.startswith("Bearer "), value
    return dict(_PARAM.findall(value))


def call(client: Client, header: str | None, path: str = "/whoami/", **extra: Any) -> Any:
    if header is not None:
        extra["HTTP_AUTHORIZATION"] = header
    return client.get(path, **extra)


def bearer(client: Client, token: str, path: str = "/whoami/") -> Any:
    return call(client, f"Bearer {token}", path)


def assert_refused(response: Any, status: int, error: str) -> dict[str, str]:
    assert response.status_code == status, (response.status_code, response.content[:300])
    header = response["WWW-Authenticate"]
    assert _ERROR_CHALLENGE.match(header), header
    params = challenge_params(header)
    assert params["error"] == error
    return params


# -- Statuses and challenges (RFC 6750 §3, §3.1) -----------------------------------------------


def test_no_credentials_get_401_with_realm_only(client: Client, guard: Any) -> None:
    response = call(client, None)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_token_in_query_string_is_not_a_credential(client: Client, idp: LocalIssuer, guard: Any) -> None:
    response = client.get("/whoami/", {"access_token": idp.mint()})
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Bearer a b",
        "Bearer aaa.bbb.ccc, Bearer ddd.eee.fff",
        "Bearer aaa.bbb.ccc,Bearer ddd.eee.fff",
        "Bearer tok@n",
        'Bearer "quoted"',
        "Bearer a=b",
        "Bearer \u00e9t\u00e9",
    ],
    ids=["no-token", "empty-token", "two-words", "two-credentials", "two-credentials-no-space", "at-sign",
         "quoted", "inner-equals", "non-ascii"],
)
def test_malformed_authorization_gets_400_invalid_request(client: Client, guard: Any, header: str) -> None:
    params = assert_refused(call(client, header), 400, "invalid_request")
    assert "scope" not in params


def test_bearer_scheme_is_case_insensitive(client: Client, idp: LocalIssuer, guard: Any) -> None:
    assert call(client, f"bearer {idp.mint()}").status_code == 200
    assert call(client, f"BEARER {idp.mint()}").status_code == 200


@pytest.mark.parametrize("length", [8193, 20000])
def test_oversized_credential_gets_401_invalid_token(client: Client, guard: Any, length: int) -> None:
    assert_refused(call(client, "Bearer " + "a" * length), 401, "invalid_token")


def test_oversized_signed_token_gets_401_although_valid(client: Client, idp: LocalIssuer, guard: Any) -> None:
    token = idp.mint(padding="x" * 7000)
    assert len(token) > 8192
    assert_refused(bearer(client, token), 401, "invalid_token")
    guard(MAX_TOKEN_BYTES=len(token))
    assert bearer(client, token).status_code == 200


@pytest.mark.parametrize(
    "claims",
    [{"exp": 1}, {"iss": "https://evil.example/"}, {"aud": "https://other.example"}, {"nbf": 1_900_000_000}],
    ids=["expired", "untrusted-issuer", "wrong-audience", "not-yet-valid"],
)
def test_bad_token_gets_401_invalid_token(client: Client, idp: LocalIssuer, guard: Any, claims: Any) -> None:
    assert_refused(bearer(client, idp.mint(**claims)), 401, "invalid_token")


def test_garbage_token_gets_401_invalid_token(client: Client, guard: Any) -> None:
    assert_refused(bearer(client, "aaa.bbb.ccc"), 401, "invalid_token")


def test_missing_scope_gets_403_insufficient_scope_naming_it(client: Client, idp: LocalIssuer, guard: Any) -> None:
    response = bearer(client, idp.mint(scope="other"), "/scoped/reports/")
    params = assert_refused(response, 403, "insufficient_scope")
    assert params["scope"] == "reports:read"
    assert bearer(client, idp.mint(scope="reports:read"), "/scoped/reports/").status_code == 200


def test_realm_setting_reaches_every_challenge(client: Client, idp: LocalIssuer, guard: Any) -> None:
    guard(REALM="files")
    assert call(client, None)["WWW-Authenticate"] == 'Bearer realm="files"'
    assert challenge_params(call(client, "Bearer a b")["WWW-Authenticate"])["realm"] == "files"
    assert challenge_params(bearer(client, "a.b.c")["WWW-Authenticate"])["realm"] == "files"
    forbidden = bearer(client, idp.mint(), "/scoped/reports/")
    assert challenge_params(forbidden["WWW-Authenticate"])["realm"] == "files"


# -- Claims ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("claim", ["exp", "iss", "aud"])
def test_exp_iss_aud_are_always_required(client: Client, idp: LocalIssuer, guard: Any, claim: str) -> None:
    missing: dict[str, Any] = {claim: None}
    assert_refused(bearer(client, idp.mint(**missing)), 401, "invalid_token")


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("kind", ["numeric-string", "boolean", "null-in-list"])
def test_time_claims_must_be_numbers(
    client: Client, idp: LocalIssuer, guard: Any, *, clock: Clock, claim: str, kind: str
) -> None:
    good: Any = int(clock.now) + (100 if claim == "exp" else -100)
    value: Any = {"numeric-string": str(good), "boolean": True, "null-in-list": [good]}[kind]
    assert bearer(client, idp.mint(**{claim: good})).status_code == 200
    assert_refused(bearer(client, idp.mint(**{claim: value})), 401, "invalid_token")


def test_fractional_exp_is_a_number(client: Client, idp: LocalIssuer, guard: Any, clock: Clock) -> None:
    assert bearer(client, idp.mint(exp=clock.now + 60.5)).status_code == 200


def test_required_claims_must_be_present_and_non_empty(
    client: Client, idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    guard(issuers=[idp.issuer_settings(required_claims=["client_id", "jti"])])
    assert bearer(client, idp.mint(client_id="app")).status_code == 200
    assert_refused(bearer(client, idp.mint()), 401, "invalid_token")
    assert_refused(bearer(client, idp.mint(client_id="")), 401, "invalid_token")
    assert_refused(bearer(client, idp.mint(client_id="app", jti=None)), 401, "invalid_token")


@pytest.mark.parametrize(
    ("typ", "accepted"),
    [
        ("at+jwt", True),
        ("application/at+jwt", True),
        ("AT+JWT", True),
        ("Application/At+JWT", True),
        ("JWT", False),
        ("application/jwt", False),
        ("at+jwt ", False),
        ("dpop+jwt", False),
        (None, False),
    ],
)
def test_required_typ_at_jwt(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], typ: str | None, accepted: bool
) -> None:
    guard(issuers=[idp.issuer_settings(required_typ="at+jwt")])
    response = bearer(client, idp.mint(headers={"typ": typ}))
    if accepted:
        assert response.status_code == 200
    else:
        assert_refused(response, 401, "invalid_token")


def test_without_required_typ_any_typ_passes(client: Client, idp: LocalIssuer, guard: Any) -> None:
    assert bearer(client, idp.mint(headers={"typ": None})).status_code == 200
    assert bearer(client, idp.mint(headers={"typ": "at+jwt"})).status_code == 200


def test_token_without_scope_claim_has_empty_scopes(client: Client, idp: LocalIssuer, guard: Any) -> None:
    body = bearer(client, idp.mint()).json()
    assert body["scopes"] == []


def test_defaults_scope_claim_scope_and_workload_claim_sub(client: Client, idp: LocalIssuer, guard: Any) -> None:
    body = bearer(client, idp.mint(scope="a:read b:write", scp=["c:read"], sub="svc-7", client_id="cid")).json()
    assert body["scopes"] == ["a:read", "b:write"]
    assert body["workload"] == "svc-7"


def test_exact_issuer_match_only(client: Client, idp: LocalIssuer, guard: Any) -> None:
    assert idp.issuer.endswith("/")
    assert_refused(bearer(client, idp.mint(iss=idp.issuer.rstrip("/"))), 401, "invalid_token")
    assert_refused(bearer(client, idp.mint(iss=idp.issuer.upper())), 401, "invalid_token")


# -- request.auth and request.user --------------------------------------------------------------


class _Capture(APIView):
    seen: list[Request] = []

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        self.seen.append(request)
        return Response({})


def test_request_auth_and_user_shapes(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    guard(SCOPE_PERMISSIONS={"docs:write": ["testapp.add_document"]})
    _Capture.seen = []
    token = idp.mint(scope="docs:write docs:read", sub="spiffe://example.org/svc", jti="tid-1")
    response = _Capture.as_view()(APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {token}"))
    assert response.status_code == 200
    request = _Capture.seen[0]
    auth: Any = request.auth
    assert type(auth.claims) is dict and auth.claims["jti"] == "tid-1"
    assert auth.scopes == frozenset({"docs:write", "docs:read"}) and isinstance(auth.scopes, frozenset)
    assert auth.issuer == idp.issuer
    assert auth.workload == "spiffe://example.org/svc"
    assert auth.token_id == "tid-1"
    user = request.user
    assert type(user).__name__ == "TokenUser"
    assert user.is_authenticated is True
    assert user.has_perm("testapp.add_document") is True
    assert user.has_perm("testapp.delete_document") is False


def test_workload_is_none_without_the_claim(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    guard(issuers=[idp.issuer_settings(workload_claim="client_id")])
    _Capture.seen = []
    _Capture.as_view()(APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {idp.mint()}"))
    auth: Any = _Capture.seen[0].auth
    assert auth.workload is None
    assert auth.token_id is not None


# -- Settings: override_settings controls everything; checks ------------------------------------


def test_override_settings_fully_controls_behaviour(client: Client, idp: LocalIssuer, guard: Any) -> None:
    token = idp.mint()
    assert bearer(client, token).status_code == 200
    with override_settings(BEARER_GUARD={"ISSUERS": [], "REALM": "other", "ALLOW_HTTP_LOOPBACK": True}):
        response = bearer(client, token)
        assert response.status_code == 401
        assert challenge_params(response["WWW-Authenticate"])["realm"] == "other"
    with override_settings(BEARER_GUARD={"ISSUERS": [idp.issuer_settings()], "ALLOW_HTTP_LOOPBACK": True,
                                         "MAX_TOKEN_BYTES": 300}):
        assert bearer(client, token).status_code == 401
    with override_settings(BEARER_GUARD={"ISSUERS": [idp.issuer_settings(audiences=["urn:other"])],
                                         "ALLOW_HTTP_LOOPBACK": True}):
        assert bearer(client, token).status_code == 401
    assert bearer(client, token).status_code == 200


def test_documented_settings_keys_are_accepted(guard: Callable[..., None], idp: LocalIssuer) -> None:
    guard(
        issuers=[idp.issuer_settings(scope_claim="scp", workload_claim="azp", required_typ="at+jwt",
                                     required_claims=["exp", "iat", "sub"], leeway=10)],
        LEEWAY=30, REALM="api", MAX_TOKEN_BYTES=8192, CACHE_ALIAS="default", JWKS_TIMEOUT=2.0,
        JWKS_MAX_BYTES=262144, JWKS_MIN_TTL=300, JWKS_MAX_TTL=86400, JWKS_REFETCH_COOLDOWN=30,
        JWKS_STALE_WINDOW=86400, USER_LOOKUP=None, SCOPE_PERMISSIONS={},
        TRANSPORT_IDENTITY={"source": None, "header": "X-Forwarded-Client-Cert", "trusted_proxies": []},
    )
    assert [m for m in check_settings() if isinstance(m, Error)] == []


def test_small_timing_values_are_legal(guard: Callable[..., None]) -> None:
    guard(JWKS_TIMEOUT=1, JWKS_MIN_TTL=1, JWKS_MAX_TTL=1, JWKS_REFETCH_COOLDOWN=1, JWKS_STALE_WINDOW=1, LEEWAY=1)
    assert [m for m in check_settings() if isinstance(m, Error)] == []


# Django 6.1 hands every database to the checks, which then read TrustedIssuer rows.
@pytest.mark.django_db
def test_http_key_url_without_loopback_setting_fails_closed_logged_and_checked(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> None:
    guard(ALLOW_HTTP_LOOPBACK=False)
    with caplog.at_level(logging.INFO, logger="django_bearer_guard"):
        assert_refused(bearer(client, idp.mint()), 401, "invalid_token")
    assert idp.fetches() == 0
    assert any("http" in record.getMessage() and record.name.startswith("django_bearer_guard")
               for record in caplog.records)
    assert any(isinstance(m, Error) for m in check_settings())
    with pytest.raises(SystemCheckError):
        call_command("check")


# Django 6.1 hands every database to the checks, which then read TrustedIssuer rows.
@pytest.mark.django_db
def test_global_misconfiguration_fails_closed_not_500(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> None:
    guard(LEEWAY="thirty")
    with caplog.at_level(logging.INFO, logger="django_bearer_guard"):
        assert_refused(bearer(client, idp.mint()), 401, "invalid_token")
    assert any(record.name.startswith("django_bearer_guard") for record in caplog.records)
    assert any(isinstance(m, Error) and "LEEWAY" in m.msg for m in check_settings())
    with pytest.raises(SystemCheckError):
        call_command("check")


def test_unreachable_issuer_is_401_not_500(client: Client, idp: LocalIssuer, guard: Any) -> None:
    idp.mode = "down"
    assert_refused(bearer(client, idp.mint()), 401, "invalid_token")
    idp.mode = "garbage"
    assert_refused(bearer(client, idp.mint()), 401, "invalid_token")


# -- JWKS timing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cache_control", "min_ttl", "max_ttl", "ttl"),
    [
        (None, 300, 86400, 300),
        ("max-age=10", 300, 86400, 300),
        ("max-age=1000", 300, 86400, 1000),
        ("public, max-age=999999", 300, 86400, 86400),
        ("max-age=700", 60, 500, 500),
        (None, 60, 500, 60),
    ],
)
def test_ttl_is_max_age_clamped_and_expiry_ignores_cooldown(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], *, clock: Clock,
    cache_control: str | None, min_ttl: int, max_ttl: int, ttl: int,
) -> None:
    idp.cache_control = cache_control
    guard(JWKS_MIN_TTL=min_ttl, JWKS_MAX_TTL=max_ttl, JWKS_REFETCH_COOLDOWN=10**6)
    assert bearer(client, idp.mint()).status_code == 200
    assert idp.fetches() == 1
    clock.advance(ttl - 1)
    assert bearer(client, idp.mint()).status_code == 200
    assert idp.fetches() == 1
    clock.advance(2)
    assert bearer(client, idp.mint()).status_code == 200
    assert idp.fetches() == 2


def test_expiry_refetches_are_not_limited_by_cooldown(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    idp.cache_control = None
    guard(JWKS_MIN_TTL=5, JWKS_MAX_TTL=5, JWKS_REFETCH_COOLDOWN=1000)
    for expected in (1, 2, 3):
        assert bearer(client, idp.mint()).status_code == 200
        assert idp.fetches() == expected
        clock.advance(6)


def test_unknown_kid_refetches_only_without_any_fetch_in_cooldown(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    idp.cache_control = None
    guard(JWKS_MIN_TTL=100, JWKS_MAX_TTL=100, JWKS_REFETCH_COOLDOWN=30)
    ghost = {"kid": "ghost-kid"}
    start = clock.now
    assert bearer(client, idp.mint()).status_code == 200  # t0: first fetch
    clock.now = start + 10
    assert_refused(bearer(client, idp.mint(headers=ghost)), 401, "invalid_token")
    assert idp.fetches() == 1  # within the cool-down of the first fetch
    clock.now = start + 31
    assert_refused(bearer(client, idp.mint(headers=ghost)), 401, "invalid_token")
    assert idp.fetches() == 2  # cool-down over: one refetch
    clock.now = start + 45
    assert_refused(bearer(client, idp.mint(headers=ghost)), 401, "invalid_token")
    assert idp.fetches() == 2
    clock.now = start + 132  # keys fetched at +31 expire at +131: an expiry fetch
    assert bearer(client, idp.mint()).status_code == 200
    assert idp.fetches() == 3
    clock.now = start + 152  # 20 s after the expiry fetch: still within the cool-down
    assert_refused(bearer(client, idp.mint(headers=ghost)), 401, "invalid_token")
    assert idp.fetches() == 3
    clock.now = start + 163
    assert_refused(bearer(client, idp.mint(headers=ghost)), 401, "invalid_token")
    assert idp.fetches() == 4


def test_rotated_key_is_picked_up_after_cooldown(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    guard(JWKS_REFETCH_COOLDOWN=30)
    assert bearer(client, idp.mint()).status_code == 200
    idp.keys = [*idp.keys, pooled_key("RS256", 1)]
    new = idp.signing_key()
    assert new.kid == pooled_key("RS256", 1).kid
    clock.advance(5)
    assert_refused(bearer(client, idp.mint(key=new)), 401, "invalid_token")
    clock.advance(26)
    assert bearer(client, idp.mint(key=new)).status_code == 200
    assert idp.fetches() == 2


def test_stale_keys_serve_until_fetched_at_plus_ttl_plus_window(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    idp.cache_control = None
    guard(JWKS_MIN_TTL=100, JWKS_MAX_TTL=100, JWKS_STALE_WINDOW=50)
    start = clock.now
    assert bearer(client, idp.mint()).status_code == 200
    idp.mode = "down"
    for offset in (101, 120, 149.5):
        clock.now = start + offset
        assert bearer(client, idp.mint()).status_code == 200, offset
    assert idp.fetches() > 1  # refreshes were tried and failed
    clock.now = start + 150.5
    assert_refused(bearer(client, idp.mint()), 401, "invalid_token")
    idp.mode = "ok"
    clock.now = start + 170
    assert bearer(client, idp.mint()).status_code == 200


def test_jwks_timeout_is_a_total_deadline_for_a_dribbling_server(
    client: Client, idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    idp.mode, idp.delay = "dribble", 0.01  # ~450 bytes: ~4.5 s in all, every byte well within timeout
    guard(JWKS_TIMEOUT=0.5)
    started = time.monotonic()
    assert_refused(bearer(client, idp.mint()), 401, "invalid_token")
    assert time.monotonic() - started < 1.5


def test_jwks_timeout_covers_discovery_and_keys_together(
    client: Client, idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    idp.mode, idp.delay = "slow", 0.4  # two requests of 0.4 s each, each under the timeout
    guard(issuers=[idp.issuer_settings(discovery=True)], JWKS_TIMEOUT=0.6)
    started = time.monotonic()
    assert_refused(bearer(client, idp.mint()), 401, "invalid_token")
    assert time.monotonic() - started < 1.2


# -- Cache keys ---------------------------------------------------------------------------------


def _same_kid(index: int) -> SigningKey:
    return SigningKey("shared-kid", "RS256", pooled_key("RS256", index).private_key)


def test_changed_key_source_never_reuses_cached_keys(
    client: Client, make_idp: Callable[..., LocalIssuer], guard: Callable[..., None]
) -> None:
    first = make_idp(keys=[_same_kid(0)])
    second = make_idp(keys=[_same_kid(1)])
    issuer = "https://idp.example.test/"
    entry = {"issuer": issuer, "audiences": [first.audience], "algorithms": ["RS256"]}
    guard(issuers=[{**entry, "jwks_uri": first.url + first.jwks_path}])
    assert bearer(client, first.mint(iss=issuer)).status_code == 200
    guard(issuers=[{**entry, "jwks_uri": second.url + second.jwks_path}])
    # Same issuer, same kid, other key source: the first source's cached key must not verify.
    assert_refused(bearer(client, first.mint(iss=issuer)), 401, "invalid_token")
    assert bearer(client, second.mint(iss=issuer)).status_code == 200
    assert second.fetches() == 1


def test_changed_issuer_never_reuses_cached_keys(
    client: Client, make_idp: Callable[..., LocalIssuer], guard: Callable[..., None]
) -> None:
    idp = make_idp(keys=[_same_kid(0)])
    base = {"audiences": [idp.audience], "algorithms": ["RS256"], "jwks_uri": idp.url + idp.jwks_path}
    guard(issuers=[{**base, "issuer": "https://a.example.test/"}])
    assert bearer(client, idp.mint(iss="https://a.example.test/")).status_code == 200
    guard(issuers=[{**base, "issuer": "https://b.example.test/"}])
    assert bearer(client, idp.mint(iss="https://b.example.test/")).status_code == 200
    assert idp.fetches() == 2


# -- Discovery ----------------------------------------------------------------------------------


class _MetadataServer:
    """Serves fixed documents on 127.0.0.1 and records the order of requested paths."""

    def __init__(self) -> None:
        self.documents: dict[str, Any] = {}
        self.paths: list[str] = []
        server_self = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                server_self.paths.append(self.path)
                document = server_self.documents.get(self.path)
                if document is None:
                    self.send_error(404)
                    return
                body = json.dumps(document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join()
        self.server.server_close()


@pytest.fixture
def metadata_server() -> Iterator[_MetadataServer]:
    server = _MetadataServer()
    yield server
    server.close()


def _discovery_setup(server: _MetadataServer, idp: LocalIssuer, guard: Callable[..., None]) -> tuple[str, str, str]:
    issuer = server.url + "/tenant/a"
    oidc = "/tenant/a/.well-known/openid-configuration"
    rfc8414 = "/.well-known/oauth-authorization-server/tenant/a"
    server.documents["/keys"] = idp.jwks()
    guard(issuers=[{"issuer": issuer, "audiences": [idp.audience], "algorithms": ["RS256"], "discovery": True}])
    return issuer, oidc, rfc8414


def test_discovery_tries_openid_configuration_first(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], metadata_server: _MetadataServer
) -> None:
    issuer, oidc, rfc8414 = _discovery_setup(metadata_server, idp, guard)
    for path in (oidc, rfc8414):
        metadata_server.documents[path] = {"issuer": issuer, "jwks_uri": metadata_server.url + "/keys"}
    assert bearer(client, idp.mint(iss=issuer)).status_code == 200
    assert metadata_server.paths == [oidc, "/keys"]


def test_discovery_falls_back_to_rfc8414_inserted_before_the_path(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], metadata_server: _MetadataServer
) -> None:
    issuer, oidc, rfc8414 = _discovery_setup(metadata_server, idp, guard)
    metadata_server.documents[rfc8414] = {"issuer": issuer, "jwks_uri": metadata_server.url + "/keys"}
    assert bearer(client, idp.mint(iss=issuer)).status_code == 200
    assert metadata_server.paths == [oidc, rfc8414, "/keys"]


@pytest.mark.parametrize("announced", ["{issuer}/", "{issuer}/x", "https://evil.example/tenant/a", None])
def test_discovery_requires_exact_issuer_match(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], metadata_server: _MetadataServer,
    announced: str | None,
) -> None:
    issuer, oidc, rfc8414 = _discovery_setup(metadata_server, idp, guard)
    claimed = announced.format(issuer=issuer) if announced else None
    for path in (oidc, rfc8414):
        metadata_server.documents[path] = {"issuer": claimed, "jwks_uri": metadata_server.url + "/keys"}
    assert_refused(bearer(client, idp.mint(iss=issuer)), 401, "invalid_token")
    assert "/keys" not in metadata_server.paths


def test_discovery_with_root_issuer_uses_the_idp_documents(
    client: Client, idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    guard(issuers=[idp.issuer_settings(discovery=True)])
    assert bearer(client, idp.mint()).status_code == 200
    assert idp.fetches("/.well-known/openid-configuration") == 1
    assert idp.fetches("/.well-known/oauth-authorization-server") == 0


# -- Plain APIs -----------------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _rsa_jwk(bits: int = 2048, **extra: Any) -> dict[str, Any]:
    key = pooled_key("RS256").private_key if bits == 2048 else rsa.generate_private_key(65537, bits)
    return {**RSAAlgorithm.to_jwk(key.public_key(), as_dict=True), **extra}


def _ec_jwk(**extra: Any) -> dict[str, Any]:
    key = pooled_key("ES256").private_key
    return {**ECAlgorithm.to_jwk(key.public_key(), as_dict=True), **extra}


@pytest.mark.parametrize(
    ("jwks", "error"),
    [
        (lambda: {"keys": [_rsa_jwk(1024, kid="weak")]}, WeakKey),
        (lambda: {"keys": [_ec_jwk(kid="e", alg="RS256")]}, KeyMismatch),
        (lambda: {"keys": [_rsa_jwk(kid="r", alg="ES256")]}, KeyMismatch),
        (lambda: {"keys": [_ec_jwk(kid="e", alg="ES384")]}, KeyMismatch),
        (lambda: {"keys": [_rsa_jwk(kid="r", use="enc")]}, NoSigningKeys),
        (lambda: {"keys": [_rsa_jwk(kid="r", key_ops=["encrypt", "wrapKey"])]}, NoSigningKeys),
        (lambda: {"keys": [_rsa_jwk(kid="r", alg="RSA-OAEP")]}, NoSigningKeys),
        (lambda: {"keys": [_rsa_jwk(kid="same"), _ec_jwk(kid="same")]}, DuplicateKeyId),
        (lambda: {"keys": [_rsa_jwk(kid="same"), _rsa_jwk(kid="same")]}, DuplicateKeyId),
    ],
    ids=["weak-rsa", "ec-as-rs256", "rsa-as-es256", "p256-as-es384", "use-enc", "ops-encrypt", "alg-oaep",
         "dup-kid-mixed-kty", "dup-kid"],
)
def test_keyset_from_jwks_refuses_with_typed_error(jwks: Callable[[], dict[str, Any]], error: type[Exception]) -> None:
    with pytest.raises(error) as caught:
        KeySet.from_jwks(jwks())
    assert isinstance(caught.value, KeySetError)
    assert not isinstance(caught.value, InvalidToken)


def test_keyset_from_jwks_keeps_signing_keys_beside_enc_keys() -> None:
    keyset = KeySet.from_jwks({"keys": [_rsa_jwk(kid="enc", use="enc"), _rsa_jwk(kid="sig", use="sig")]})
    assert keyset.find("sig", "RS256") is not None
    assert keyset.find("enc", "RS256") is None


def test_verify_compact_returns_header_and_payload_bytes_without_claim_checks(idp: LocalIssuer) -> None:
    keyset = KeySet.from_jwks(idp.jwks())
    token = idp.mint(exp=1, aud="somebody-else")  # claims are not verify_compact's business
    header, payload = verify_compact(token, keyset, ["RS256"])
    assert header["alg"] == "RS256" and header["kid"] == idp.signing_key().kid
    assert isinstance(payload, bytes) and json.loads(payload)["exp"] == 1


def test_verify_compact_applies_the_algorithm_list_and_signature(idp: LocalIssuer) -> None:
    keyset = KeySet.from_jwks(idp.jwks())
    token = idp.mint()
    with pytest.raises(DisallowedAlgorithm):
        verify_compact(token, keyset, ["ES256"])
    head, body, signature = token.split(".")
    tampered = f"{head}.{body[:-2]}{'A' if body[-2] != 'A' else 'B'}{body[-1]}.{signature}"
    with pytest.raises(InvalidToken):
        verify_compact(tampered, keyset, ["RS256"])
    unsigned = _b64url(b'{"alg":"none"}') + "." + _b64url(b"{}") + "."
    with pytest.raises(InvalidToken):
        verify_compact(unsigned, keyset, ["RS256", "none"])
    other = KeySet.from_jwks({"keys": [{**pooled_key("RS256", 1).public_jwk(), "kid": idp.signing_key().kid}]})
    with pytest.raises(InvalidToken):
        verify_compact(token, other, ["RS256"])


def test_use_clock_replaces_the_library_clock(idp: LocalIssuer, guard: Any) -> None:
    token = idp.mint(lifetime=60)
    validator = TokenValidator()
    assert validator.validate(token).issuer == idp.issuer
    with use_clock(lambda: time.time() + 3600), pytest.raises(ExpiredToken):
        validator.validate(token)
    assert validator.validate(token).issuer == idp.issuer


# -- Real identity-provider shaped tokens ---------------------------------------------------------


_API = "https://api.example.test"
IDP_SHAPES: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any], set[str], str]] = {
    # name: (issuer overrides, header, claims, expected scopes, expected workload)
    "auth0-rfc9068": (
        {"required_typ": "at+jwt", "scope_claim": "permissions", "workload_claim": "client_id",
         "required_claims": ["sub", "client_id", "iat", "jti"]},
        {"typ": "at+jwt"},
        {"aud": [_API, "https://tenant.eu.auth0.com/userinfo"], "azp": "Ab12Cd34", "client_id": "Ab12Cd34",
         "scope": "openid profile read:files", "permissions": ["read:files", "write:files"],
         "gty": "client-credentials", "sub": "Ab12Cd34@clients"},
        {"read:files", "write:files"}, "Ab12Cd34",
    ),
    "okta": (
        {"scope_claim": "scp", "workload_claim": "cid"},
        {"typ": "application/at+jwt"},
        {"aud": _API, "cid": "0oa1bcd2efGHIJK3l4m5", "uid": "00u1", "scp": ["files.read", "offline_access"],
         "ver": 1, "auth_time": 1_799_999_000, "sub": "user@example.com"},
        {"files.read", "offline_access"}, "0oa1bcd2efGHIJK3l4m5",
    ),
    "keycloak": (
        {"scope_claim": "realm_access.roles", "workload_claim": "azp"},
        {"typ": "JWT"},
        {"aud": [_API, "account"], "azp": "files-cli", "typ": "Bearer", "session_state": "abc",
         "realm_access": {"roles": ["offline_access", "files-reader"]},
         "resource_access": {"account": {"roles": ["manage-account"]}},
         "scope": "openid email profile", "sid": "abc", "email_verified": False,
         "preferred_username": "svc-files"},
        {"offline_access", "files-reader"}, "files-cli",
    ),
    "entra-v2": (
        {"scope_claim": "scp", "workload_claim": "azp", "required_claims": ["tid", "oid"]},
        {"typ": "JWT", "x5t": "nOo3ZDrODXEK1jKWhXslHR_KXEg"},
        {"aud": _API, "azp": "6e74172b-be56-4843-9ff4-e66a39bb12e3", "azpacr": "1", "ver": "2.0",
         "scp": "Files.Read Files.ReadWrite", "roles": ["Admin"],
         "tid": "72f988bf-86f1-41af-91ab-2d7cd011db47", "oid": "b9a6c2f1-0000-0000-0000-000000000000",
         "uti": "AbCdEf", "rh": "0.AAAA", "name": "Service"},
        {"Files.Read", "Files.ReadWrite"}, "6e74172b-be56-4843-9ff4-e66a39bb12e3",
    ),
}


@pytest.mark.parametrize("shape", sorted(IDP_SHAPES))
def test_identity_provider_shaped_tokens_pass(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], shape: str
) -> None:
    overrides, header, claims, scopes, workload = IDP_SHAPES[shape]
    guard(issuers=[idp.issuer_settings(**overrides)])
    response = bearer(client, idp.mint(headers=header, **claims))
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body["scopes"]) == scopes
    assert body["workload"] == workload


def test_identity_provider_token_with_nbf_and_long_lifetime_passes(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    guard(issuers=[idp.issuer_settings(required_typ="at+jwt")])
    token = idp.mint(headers={"typ": "at+jwt"}, nbf=int(clock.now) - 5, lifetime=86400, client_id="c")
    assert bearer(client, token).status_code == 200


def test_ec_and_rsa_keys_in_one_published_set(
    client: Client, make_idp: Callable[..., LocalIssuer], guard: Callable[..., None]
) -> None:
    idp = make_idp(("RS256", "ES256"))
    guard(issuers=[idp.issuer_settings()])
    assert bearer(client, idp.mint(alg="RS256")).status_code == 200
    assert bearer(client, idp.mint(alg="ES256")).status_code == 200


def test_ec_key_never_verifies_rs256_labelled_token(
    client: Client, make_idp: Callable[..., LocalIssuer], guard: Callable[..., None]
) -> None:
    idp = make_idp(("ES256",))
    guard(issuers=[idp.issuer_settings(algorithms=["ES256", "RS256"])])
    key = ec.generate_private_key(ec.SECP256R1())
    forged = jwt.encode({"iss": idp.issuer}, key, algorithm="ES256", headers={"kid": idp.signing_key().kid})
    assert_refused(bearer(client, forged), 401, "invalid_token")


def test_no_credentials_on_a_scoped_view_get_401_with_realm_only(client: Client, guard: Any) -> None:
    response = call(client, None, "/scoped/reports/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_token_without_scope_claim_gets_403_on_a_scoped_view(client: Client, idp: LocalIssuer, guard: Any) -> None:
    params = assert_refused(bearer(client, idp.mint(), "/scoped/reports/"), 403, "insufficient_scope")
    assert params["scope"] == "reports:read"


# -- Gaps found by this review, fixed ----------------------------------------------------------


def test_verified_claims_are_always_valid_unicode(idp: LocalIssuer, guard: Any) -> None:
    token = idp.mint(name="\ud800 broken")  # json.dumps writes the escape "\ud800"
    try:
        claims = TokenValidator().validate(token).claims
    except InvalidToken:
        return
    json.dumps(claims, ensure_ascii=False).encode("utf-8")


@pytest.mark.parametrize("timeout", [float("nan"), float("inf")])
def test_non_finite_jwks_timeout_is_a_check_error(guard: Callable[..., None], timeout: float) -> None:
    guard(JWKS_TIMEOUT=timeout)
    assert any(isinstance(m, Error) and "JWKS_TIMEOUT" in m.msg for m in check_settings())


def test_user_lookup_on_a_missing_field_is_a_check_error(guard: Callable[..., None]) -> None:
    guard(USER_LOOKUP={"claim": "sub", "field": "no_such_field", "create": False})
    assert any(isinstance(m, Error) and "USER_LOOKUP" in m.msg for m in check_settings())


def test_bearer_with_tab_separator_is_invalid_request(client: Client, idp: LocalIssuer, guard: Any) -> None:
    assert_refused(call(client, f"Bearer\t{idp.mint()}"), 400, "invalid_request")


def _published(index: int, **members: Any) -> dict[str, Any]:
    jwk = {k: v for k, v in pooled_key("RS256", index).public_jwk().items() if k not in ("alg", "use")}
    return {**jwk, **members}


@pytest.mark.parametrize(
    "shape",
    [
        # Entra ID: no alg, x5t and x5c, a non-standard issuer member.
        lambda: [_published(0, use="sig", x5t="nOo3ZDrODXEK1jKWhXslHR_KXEg", x5c=["MIIDBTCCAe2gAwIBAgIQ"],
                            issuer="https://login.microsoftonline.com/tid/v2.0")],
        # Keycloak: a signing key beside an encryption key (RSA-OAEP).
        lambda: [_published(1, alg="RSA-OAEP", use="enc", kid="enc-1"), _published(0, alg="RS256", use="sig")],
        # Auth0 / Okta: alg and use on every key, x5c on some.
        lambda: [_published(0, alg="RS256", use="sig", x5c=["MIIDHTCCAgWgAwIBAgIJ"]),
                 _published(1, alg="RS256", use="sig")],
    ],
    ids=["entra", "keycloak", "auth0"],
)
def test_identity_provider_shaped_key_sets_verify_their_tokens(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], metadata_server: _MetadataServer,
    shape: Callable[[], list[dict[str, Any]]],
) -> None:
    metadata_server.documents["/keys"] = {"keys": shape()}
    guard(issuers=[idp.issuer_settings(jwks_uri=metadata_server.url + "/keys")])
    assert bearer(client, idp.mint(key=pooled_key("RS256", 0))).status_code == 200


def _validate_concurrently(token: str, threads: int = 8) -> list[str]:
    validator, outcomes = TokenValidator(), []

    def run() -> None:
        try:
            validator.validate(token)
            outcomes.append("ok")
        except InvalidToken as exc:
            outcomes.append(type(exc).__name__)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return outcomes


def test_first_and_expiry_fetches_are_single_flight(idp: LocalIssuer, guard: Any, clock: Clock) -> None:
    idp.mode, idp.delay = "slow", 0.2
    assert _validate_concurrently(idp.mint()) == ["ok"] * 8
    assert idp.fetches() == 1
    clock.advance(301)
    assert _validate_concurrently(idp.mint()) == ["ok"] * 8
    assert idp.fetches() == 2


def test_concurrent_unknown_kids_refetch_once(idp: LocalIssuer, guard: Callable[..., None], clock: Clock) -> None:
    guard(JWKS_REFETCH_COOLDOWN=30)
    assert _validate_concurrently(idp.mint(), threads=1) == ["ok"]
    idp.mode, idp.delay = "slow", 0.2
    clock.advance(31)
    assert _validate_concurrently(idp.mint(headers={"kid": "ghost"})) == ["UnknownKey"] * 8
    assert idp.fetches() == 2
