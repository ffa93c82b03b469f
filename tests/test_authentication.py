from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client, RequestFactory, override_settings
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from django_bearer_guard.authentication import BearerTokenAuthentication
from django_bearer_guard.identity.principal import TokenUser
from django_bearer_guard.signals import token_rejected, token_validated
from django_bearer_guard.testing import Clock, LocalIssuer
from django_bearer_guard.tokens.verified import VerifiedToken
from tests.support.client import bearer
from tests.support.keys import ALL_ALGORITHMS


def get(client: Client, token: str | None = None, header: str | None = None, path: str = "/whoami/") -> Any:
    extra: dict[str, Any] = {}
    if header is not None:
        extra["HTTP_AUTHORIZATION"] = header
    elif token is not None:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client.get(path, **extra)


def test_valid_token_reaches_the_view_with_claims(client: Client, idp: LocalIssuer, guard: Callable[..., None]) -> None:
    response = get(client, idp.mint(scope="files:read docs:write", sub="svc-1"))
    assert response.status_code == 200
    body = response.json()
    assert body["issuer"] == idp.issuer
    assert body["scopes"] == ["docs:write", "files:read"]
    assert body["workload"] == "svc-1"
    assert body["claims"]["sub"] == "svc-1"


@pytest.mark.parametrize("alg", ALL_ALGORITHMS)
def test_every_supported_algorithm_is_accepted_when_allowed(
    client: Client, make_idp: Callable[..., LocalIssuer], guard: Callable[..., None], alg: str
) -> None:
    idp = make_idp((alg,))
    guard(issuers=[idp.issuer_settings()])
    assert get(client, idp.mint()).status_code == 200


def test_authenticate_returns_token_user_and_verified_token_without_queries(
    rf: RequestFactory, idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    from rest_framework.request import Request

    request = Request(rf.get("/", HTTP_AUTHORIZATION=f"Bearer {idp.mint(jti='t-1')}"))
    # No django_db mark: any database query would raise here.
    authenticated = BearerTokenAuthentication().authenticate(request)
    assert authenticated is not None
    user, token = authenticated
    assert isinstance(user, TokenUser) and user.is_authenticated
    assert isinstance(token, VerifiedToken)
    assert (token.issuer, token.token_id, token.scopes) == (idp.issuer, "t-1", frozenset())


def test_no_credentials_answers_401_with_bare_challenge(client: Client, guard: Callable[..., None]) -> None:
    response = get(client)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_other_scheme_is_left_to_other_authenticators(client: Client, guard: Callable[..., None]) -> None:
    response = get(client, header="Basic dXNlcjpwYXNz")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_realm_setting_is_used_in_challenges(client: Client, idp: LocalIssuer, guard: Callable[..., None]) -> None:
    guard(REALM="files")
    assert get(client)["WWW-Authenticate"] == 'Bearer realm="files"'
    assert get(client, "x.y.z")["WWW-Authenticate"].startswith('Bearer realm="files", error="invalid_token"')


def test_invalid_token_answers_401_with_error_and_description(
    client: Client, idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    response = get(client, idp.mint(exp=1))
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == (
        'Bearer realm="api", error="invalid_token", error_description="The access token has expired."'
    )
    assert response.json() == {"error": "invalid_token", "error_description": "The access token has expired."}


def test_malformed_header_answers_400_invalid_request(client: Client, guard: Callable[..., None]) -> None:
    response = get(client, header="Bearer a b")
    assert response.status_code == 400
    assert response["WWW-Authenticate"].startswith('Bearer realm="api", error="invalid_request"')


def test_two_credentials_answer_400(client: Client, idp: LocalIssuer, guard: Callable[..., None]) -> None:
    token = idp.mint()
    assert get(client, header=f"Bearer {token}, Bearer {token}").status_code == 400


def test_oversized_token_answers_401_before_decoding(
    client: Client, idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    response = get(client, "a" * 9000)
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_token", "error_description": "The access token is invalid."}
    guard(MAX_TOKEN_BYTES=1024)
    assert get(client, idp.mint(padding="p" * 1200)).status_code == 401


def test_token_in_query_string_or_form_is_ignored(client: Client, idp: LocalIssuer, guard: Callable[..., None]) -> None:
    token = idp.mint()
    assert client.get(f"/whoami/?access_token={token}").status_code == 401
    assert client.post("/whoami/", {"access_token": token}).status_code == 401


def test_statuses_hold_when_session_authentication_comes_first(
    client: Client, idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    classes = [
        "rest_framework.authentication.SessionAuthentication",
        "django_bearer_guard.authentication.BearerTokenAuthentication",
    ]
    with override_settings(
        REST_FRAMEWORK={
            "DEFAULT_AUTHENTICATION_CLASSES": classes,
            "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
        }
    ):
        assert get(client, idp.mint()).status_code == 200
        assert get(client, idp.mint(exp=1)).status_code == 401
        assert get(client, header="Bearer a b").status_code == 400


def test_signals_carry_token_or_reason(client: Client, idp: LocalIssuer, guard: Callable[..., None]) -> None:
    seen: list[tuple[str, Any]] = []

    def validated(sender: Any, token: VerifiedToken, request: Any, **kwargs: Any) -> None:
        seen.append(("ok", token.token_id))

    def rejected(sender: Any, error: Exception, reason: str, request: Any, **kwargs: Any) -> None:
        seen.append(("no", reason))

    token_validated.connect(validated)
    token_rejected.connect(rejected)
    try:
        get(client, idp.mint(jti="abc"))
        get(client, idp.mint(aud="https://elsewhere"))
    finally:
        token_validated.disconnect(validated)
        token_rejected.disconnect(rejected)
    assert seen[0] == ("ok", "abc")
    assert seen[1][0] == "no" and "elsewhere" in seen[1][1]


def test_rejection_is_logged_with_the_real_reason_but_not_sent(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="django_bearer_guard"):
        response = get(client, idp.mint(aud="https://elsewhere"))
    assert "https://elsewhere" in caplog.text
    assert "elsewhere" not in response["WWW-Authenticate"]
    assert b"elsewhere" not in response.content


def test_unexpected_failure_fails_closed_with_401(
    client: Client,
    idp: LocalIssuer,
    guard: Callable[..., None],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from django_bearer_guard.tokens import validator

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("internal detail 42")

    monkeypatch.setattr(validator, "check_claims", broken)
    with caplog.at_level(logging.ERROR, logger="django_bearer_guard"):
        response = get(client, idp.mint())
    assert response.status_code == 401
    assert b"42" not in response.content and "42" not in response["WWW-Authenticate"]
    assert response.json() == {"error": "invalid_token", "error_description": "The access token is invalid."}
    assert "internal detail 42" in caplog.text


def test_global_misconfiguration_fails_closed_not_500(
    client: Client, idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    guard(LEEWAY="thirty")
    response = get(client, idp.mint())
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == (
        'Bearer realm="api", error="invalid_token", error_description="The access token is invalid."'
    )


def test_misconfigured_issuer_fails_closed_without_fetching(
    client: Client, idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    guard(issuers=[idp.issuer_settings()], ALLOW_HTTP_LOOPBACK=False)
    assert get(client, idp.mint()).status_code == 401
    assert idp.fetches() == 0


def test_disabled_issuer_is_untrusted(client: Client, idp: LocalIssuer, guard: Callable[..., None]) -> None:
    guard(issuers=[idp.issuer_settings(enabled=False)])
    assert get(client, idp.mint()).status_code == 401


def test_issuer_leeway_overrides_global_leeway(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    token = idp.mint(lifetime=10)
    clock.advance(25)
    guard(issuers=[idp.issuer_settings(leeway=0)], LEEWAY=60)
    assert get(client, token).status_code == 401
    guard(issuers=[idp.issuer_settings(leeway=30)], LEEWAY=0)
    assert get(client, token).status_code == 200


def test_required_typ_accepts_at_jwt_and_refuses_plain_jwt(
    client: Client, idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    guard(issuers=[idp.issuer_settings(required_typ="at+jwt")])
    assert get(client, idp.mint(headers={"typ": "at+jwt"})).status_code == 200
    assert get(client, idp.mint(headers={"typ": "application/AT+JWT"})).status_code == 200
    assert get(client, idp.mint()).status_code == 401


def test_rotated_key_is_accepted_without_restart(
    client: Client, idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    assert get(client, idp.mint()).status_code == 200
    idp.rotate()
    # Within the cool-down after the first fetch an unknown kid does not refetch...
    assert get(client, idp.mint()).status_code == 401
    clock.advance(31)
    # ...after it, the new kid triggers one refetch and is accepted.
    assert get(client, idp.mint()).status_code == 200
    assert idp.fetches() == 2


def test_shared_secret_issuer_verifies_hs256(client: Client, guard: Callable[..., None]) -> None:
    import jwt

    secret = "s" * 40
    guard(issuers=[{"issuer": "urn:internal", "audiences": ["api"], "algorithms": ["HS256"], "shared_secret": secret}])
    claims = {"iss": "urn:internal", "aud": "api", "exp": 4_000_000_000, "sub": "batch"}
    assert get(client, jwt.encode(claims, secret, algorithm="HS256")).status_code == 200
    assert get(client, jwt.encode(claims, "t" * 40, algorithm="HS256")).status_code == 401


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


def test_token_without_scope_claim_has_empty_scopes(
    client: Client, idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    body = bearer(client, idp.mint()).json()
    assert body["scopes"] == []


def test_defaults_scope_claim_scope_and_workload_claim_sub(
    client: Client, idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    body = bearer(client, idp.mint(scope="a:read b:write", scp=["c:read"], sub="svc-7", client_id="cid")).json()
    assert body["scopes"] == ["a:read", "b:write"]
    assert body["workload"] == "svc-7"
