"""The token checker: the validator's verdict, step by step, with near-miss hints."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any

import jwt
import pytest

from django_bearer_guard.checker import Step, Verdict, check_token
from django_bearer_guard.testing import Clock, LocalIssuer, SigningKey
from django_bearer_guard.tokens.trace import STEPS
from tests.support.keys import pooled_key

ALL_STEPS = ("settings", *STEPS)


def failed(verdict: Verdict) -> Step:
    """The one failed step; every step before it passed, every one after was not reached."""
    states = [step.ok for step in verdict.steps]
    assert states.count(False) == 1, verdict.steps
    index = states.index(False)
    assert states[:index] == [True] * index
    assert states[index + 1 :] == [None] * (len(states) - index - 1)
    assert all(step.detail == "not reached" for step in verdict.steps[index + 1 :])
    return verdict.steps[index]


def step(verdict: Verdict, name: str) -> Step:
    return next(s for s in verdict.steps if s.name == name)


def test_check_token_accepts_a_good_token_passing_every_step_in_order(
    idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    verdict = check_token(idp.mint(scope="files:read docs:read", sub="svc"))
    assert verdict.accepted
    assert (verdict.error, verdict.description) == (None, "accepted")
    assert tuple(s.name for s in verdict.steps) == ALL_STEPS
    assert all(s.ok for s in verdict.steps)
    assert verdict.scopes == ("docs:read", "files:read")
    assert verdict.workload == "svc"
    assert verdict.header is not None and verdict.header["kid"] == idp.signing_key().kid
    assert verdict.claims is not None and verdict.claims["sub"] == "svc"
    assert step(verdict, "exp").detail == "valid for 5 more minutes (exp 2027-01-15 08:05:00 UTC, leeway 30 seconds)"
    assert step(verdict, "nbf").detail == "absent"
    assert step(verdict, "iat").detail.startswith("issued 0 seconds ago")
    assert step(verdict, "audience").detail == "['https://api.example.test'], expected here"
    assert step(verdict, "scopes").detail == "docs:read files:read"
    assert step(verdict, "workload").detail == "'svc'"
    assert step(verdict, "typ").detail == "not required"
    assert step(verdict, "required claims").detail == "none required"
    assert step(verdict, "issuer trusted").detail == repr(idp.issuer)


def test_check_token_names_a_named_issuer(idp: LocalIssuer, guard: Callable[..., None], clock: Clock) -> None:
    guard(issuers=[idp.issuer_settings(name="corp")])
    assert step(check_token(idp.mint()), "issuer trusted").detail == f"{idp.issuer!r}, named 'corp'"


def test_check_token_shows_the_key_by_kid_and_thumbprint(
    idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    key = idp.signing_key()
    public = key.public_jwk()
    canonical = json.dumps({m: public[m] for m in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True)
    expected = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=")
    verdict = check_token(idp.mint())
    assert step(verdict, "key found").detail == f"kid {key.kid!r}, RSA key, thumbprint {expected.decode()}"
    # The modulus of the key is key material: it is never part of the verdict.
    assert public["n"] not in json.dumps(verdict.to_dict())


def test_check_token_never_shows_a_shared_secret(idp: LocalIssuer, guard: Callable[..., None], clock: Clock) -> None:
    secret = "correct horse battery staple, 32+"
    guard(issuers=[{"issuer": idp.issuer, "audiences": [idp.audience], "algorithms": ["HS256"],
                    "shared_secret": secret}])
    now = int(clock.now)
    token = jwt.encode({"iss": idp.issuer, "aud": idp.audience, "exp": now + 60}, secret, algorithm="HS256")
    verdict = check_token(token)
    assert verdict.accepted
    assert step(verdict, "key found").detail == "kid None, oct key, the shared secret"
    shown = json.dumps(verdict.to_dict())
    assert secret not in shown
    assert base64.urlsafe_b64encode(secret.encode()).decode().rstrip("=") not in shown


def test_check_token_judges_claims_at_the_given_moment(
    idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    verdict = check_token(idp.mint(), now=clock.now + 3600)
    assert failed(verdict).name == "exp"
    assert failed(verdict).detail.startswith("expired 55 minutes ago")
    assert check_token(idp.mint()).accepted


def test_check_token_to_dict_is_json(idp: LocalIssuer, guard: Callable[..., None], clock: Clock) -> None:
    data = json.loads(json.dumps(check_token(idp.mint(exp=1)).to_dict()))
    assert data["accepted"] is False
    assert data["error"] == "ExpiredToken"
    assert data["description"] == "The access token has expired."
    assert data["claims"]["exp"] == 1
    assert data["scopes"] == [] and data["workload"] is None
    assert data["steps"][0] == {"name": "settings", "ok": True, "detail": "BEARER_GUARD has no errors", "hint": None}
    assert {s["name"]: s["ok"] for s in data["steps"]}["exp"] is False


# -- one token per failing step --------------------------------------------------------------


def test_check_token_refuses_everything_while_the_settings_have_errors(
    idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    guard(LEEWAY="thirty")
    verdict = check_token(idp.mint())
    assert failed(verdict) == verdict.steps[0]
    assert verdict.steps[0].name == "settings"
    assert "LEEWAY" in verdict.steps[0].detail
    assert verdict.error == "KeysUnavailable"
    assert verdict.description == "The access token is invalid."
    assert tuple(s.name for s in verdict.steps) == ALL_STEPS
    # Read for display only, not verified.
    assert verdict.claims is not None and verdict.claims["iss"] == idp.issuer


@pytest.mark.parametrize(
    "raw",
    ["garbage", "a.b", "\udcff\udcfe.x.y", "é" * 10, "", "x" * 9000, "eyJhbGciOiJub25lIn0.e30."],
)
def test_check_token_refuses_what_is_not_a_compact_jws_at_the_first_step(
    idp: LocalIssuer, guard: Callable[..., None], raw: str
) -> None:
    verdict = check_token(raw)
    assert failed(verdict).name == "compact form and header"
    assert verdict.error in ("MalformedToken", "TokenTooLarge")
    assert verdict.description == "The access token is invalid."
    assert failed(verdict).hint is None
    json.dumps(verdict.to_dict())


def test_check_token_hints_at_a_pasted_authorization_header(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    verdict = check_token("Bearer " + idp.mint())
    assert failed(verdict).name == "compact form and header"
    assert failed(verdict).hint == "paste the token alone, without the 'Bearer ' of the Authorization header"


def test_check_token_shows_the_unverified_header_of_a_refused_header(
    idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    verdict = check_token(idp.mint(headers={"jku": "https://evil.example/jwks"}))
    assert verdict.error == "ForbiddenHeader"
    assert failed(verdict).name == "compact form and header"
    assert failed(verdict).detail == "header carries ['jku']"
    assert verdict.header is not None and verdict.header["jku"] == "https://evil.example/jwks"
    assert verdict.claims is not None and verdict.claims["iss"] == idp.issuer


def test_check_token_shows_the_header_when_the_payload_is_not_json(
    idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    key = idp.signing_key()
    token = jwt.api_jws.encode(b"[1, 2]", key.private_key, algorithm="RS256", headers={"kid": key.kid})
    verdict = check_token(token)
    assert failed(verdict).name == "compact form and header"
    assert verdict.header == {"alg": "RS256", "kid": key.kid, "typ": "JWT"}
    assert verdict.claims is None


def test_check_token_refuses_a_token_without_iss(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    verdict = check_token(idp.mint(iss=None))
    assert (failed(verdict).name, verdict.error) == ("issuer trusted", "MissingClaim")
    assert failed(verdict).detail == "'iss' is required"
    # Before the signature, a client learns nothing more than the generic description.
    assert verdict.description == "The access token is invalid."


@pytest.mark.parametrize(
    ("make_iss", "differs_by"),
    [
        (lambda iss: iss.rstrip("/"), "a trailing slash"),
        (lambda iss: iss.replace("http://", "https://"), "its scheme"),
        (lambda iss: iss.upper(), "case"),
        (lambda iss: iss.replace("http://", "HTTPS://").rstrip("/"), "a trailing slash and its scheme"),
    ],
)
def test_check_token_hints_at_a_near_miss_issuer(
    idp: LocalIssuer, guard: Callable[..., None], make_iss: Callable[[str], str], differs_by: str
) -> None:
    iss = make_iss(idp.issuer)
    verdict = check_token(idp.mint(iss=iss))
    assert (failed(verdict).name, verdict.error) == ("issuer trusted", "UntrustedIssuer")
    assert failed(verdict).detail == f"{iss!r} is not a trusted issuer"
    assert failed(verdict).hint == f"a trusted issuer differs from {iss!r} only by {differs_by}: {idp.issuer!r}"


@pytest.mark.parametrize("iss", ["https://elsewhere.example/", "ftp://127.0.0.1/", "http://127.0.0.1:1/x/"])
def test_check_token_gives_no_hint_for_an_unrelated_issuer(
    idp: LocalIssuer, guard: Callable[..., None], iss: str
) -> None:
    verdict = check_token(idp.mint(iss=iss))
    assert failed(verdict).name == "issuer trusted"
    assert failed(verdict).hint is None


def test_check_token_says_a_disabled_issuer_is_disabled(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    guard(issuers=[idp.issuer_settings(enabled=False)])
    verdict = check_token(idp.mint())
    assert (failed(verdict).name, verdict.error) == ("issuer trusted", "UntrustedIssuer")
    assert failed(verdict).hint == "the issuer is configured but disabled"


def test_check_token_refuses_the_tokens_of_a_misconfigured_issuer(
    idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    guard(ALLOW_HTTP_LOOPBACK=False)
    verdict = check_token(idp.mint())
    assert (failed(verdict).name, verdict.error) == ("issuer trusted", "KeysUnavailable")
    assert "misconfigured" in failed(verdict).detail
    assert idp.fetches() == 0


def test_check_token_refuses_an_algorithm_the_issuer_does_not_allow(
    make_idp: Callable[..., LocalIssuer], guard: Callable[..., None]
) -> None:
    idp = make_idp(("RS256", "ES256"))
    guard(issuers=[idp.issuer_settings(algorithms=["RS256"])])
    verdict = check_token(idp.mint(alg="ES256"))
    assert (failed(verdict).name, verdict.error) == ("algorithm allowed", "DisallowedAlgorithm")
    assert failed(verdict).detail == "alg 'ES256' is not in ['RS256']"


def test_check_token_names_the_kids_the_issuer_has_for_an_unknown_kid(
    idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    verdict = check_token(idp.mint(headers={"kid": "retired"}))
    assert (failed(verdict).name, verdict.error) == ("key found", "UnknownKey")
    assert "'retired'" in failed(verdict).detail
    assert failed(verdict).hint == f"the issuer's keys have kid {idp.signing_key().kid!r}"


def test_check_token_reports_keys_that_cannot_be_fetched(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    idp.mode = "down"
    verdict = check_token(idp.mint())
    assert (failed(verdict).name, verdict.error) == ("key found", "KeysUnavailable")
    assert "503" in failed(verdict).detail


def test_check_token_refuses_a_bad_signature(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    impostor = SigningKey(idp.signing_key().kid, "RS256", pooled_key("RS256", 1).private_key)
    verdict = check_token(idp.mint(key=impostor))
    assert (failed(verdict).name, verdict.error) == ("signature", "BadSignature")


def test_check_token_refuses_a_wrong_typ(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    guard(issuers=[idp.issuer_settings(required_typ="at+jwt")])
    verdict = check_token(idp.mint())
    assert (failed(verdict).name, verdict.error) == ("typ", "WrongType")
    assert verdict.description == "The access token type is not accepted."
    accepted = check_token(idp.mint(headers={"typ": "at+jwt"}))
    assert step(accepted, "typ").detail == "'at+jwt', as required"


def test_check_token_refuses_a_sender_constrained_token(idp: LocalIssuer, guard: Callable[..., None]) -> None:
    verdict = check_token(idp.mint(cnf={"jkt": "abc"}))
    assert (failed(verdict).name, verdict.error) == ("binding", "UnverifiedBinding")


def test_check_token_says_how_long_ago_a_token_expired(
    idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    verdict = check_token(idp.mint(exp=int(clock.now) - 240))
    assert (failed(verdict).name, verdict.error) == ("exp", "ExpiredToken")
    assert failed(verdict).detail == "expired 4 minutes ago (exp 2027-01-15 07:56:00 UTC, leeway 30 seconds)"
    # The client gets the safe description only; the checker shows the verified claims.
    assert verdict.description == "The access token has expired."


def test_check_token_accepts_a_token_expired_within_the_leeway(
    idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    verdict = check_token(idp.mint(exp=int(clock.now) - 20))
    assert verdict.accepted
    assert step(verdict, "exp").detail == "expired 20 seconds ago (exp 2027-01-15 07:59:40 UTC, leeway 30 seconds)"


def test_check_token_refuses_a_token_without_exp(idp: LocalIssuer, guard: Callable[..., None], clock: Clock) -> None:
    verdict = check_token(idp.mint(exp=None))
    assert (failed(verdict).name, verdict.error) == ("exp", "MissingClaim")
    assert failed(verdict).detail == "'exp' is required"


def test_check_token_says_when_a_token_starts(idp: LocalIssuer, guard: Callable[..., None], clock: Clock) -> None:
    verdict = check_token(idp.mint(nbf=int(clock.now) + 600))
    assert (failed(verdict).name, verdict.error) == ("nbf", "NotYetValid")
    assert failed(verdict).detail == "starts in 10 minutes (nbf 2027-01-15 08:10:00 UTC, leeway 30 seconds)"
    started = check_token(idp.mint(nbf=int(clock.now) - 7200))
    assert step(started, "nbf").detail == "valid since 2 hours ago (nbf 2027-01-15 06:00:00 UTC, leeway 30 seconds)"


def test_check_token_refuses_a_token_issued_in_the_future(
    idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    verdict = check_token(idp.mint(iat=int(clock.now) + 3 * 86400))
    assert (failed(verdict).name, verdict.error) == ("iat", "IssuedInFuture")
    assert failed(verdict).detail == "issued 3 days in the future (iat 2027-01-18 08:00:00 UTC, leeway 30 seconds)"


def test_check_token_names_the_expected_audience_and_its_near_miss(
    idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    verdict = check_token(idp.mint(aud=["https://API.example.test/"]))
    assert (failed(verdict).name, verdict.error) == ("audience", "WrongAudience")
    assert failed(verdict).detail == (
        "the token is for ['https://API.example.test/']; the issuer's tokens must be for "
        "['https://api.example.test'] here"
    )
    assert failed(verdict).hint == (
        "a trusted audience differs from 'https://API.example.test/' only by a trailing slash and case: "
        "'https://api.example.test'"
    )


def test_check_token_gives_no_hint_for_another_services_audience(
    idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    verdict = check_token(idp.mint(aud="https://billing.example"))
    assert failed(verdict).name == "audience"
    assert "'https://api.example.test'" in failed(verdict).detail
    assert failed(verdict).hint is None


def test_check_token_refuses_a_token_without_aud(idp: LocalIssuer, guard: Callable[..., None], clock: Clock) -> None:
    verdict = check_token(idp.mint(aud=None))
    assert (failed(verdict).name, verdict.error) == ("audience", "MissingClaim")


def test_check_token_refuses_a_claim_of_the_wrong_type(
    idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    verdict = check_token(idp.mint(sub=1234))
    assert (failed(verdict).name, verdict.error) == ("claim types", "InvalidClaim")
    assert failed(verdict).detail == "'sub' must be a string, got int"


def test_check_token_refuses_a_missing_required_claim(
    idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    guard(issuers=[idp.issuer_settings(required_claims=["tenant"])])
    verdict = check_token(idp.mint())
    assert (failed(verdict).name, verdict.error) == ("required claims", "MissingClaim")
    assert step(check_token(idp.mint(tenant="t1")), "required claims").detail == "tenant present"


def test_check_token_refuses_malformed_scopes(idp: LocalIssuer, guard: Callable[..., None], clock: Clock) -> None:
    verdict = check_token(idp.mint(scope=5))
    assert (failed(verdict).name, verdict.error) == ("scopes", "InvalidClaim")


def test_check_token_refuses_a_workload_outside_the_trust_domains(
    idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    guard(issuers=[idp.issuer_settings(workload_trust_domains=["example.org"])])
    verdict = check_token(idp.mint(sub="spiffe://other.org/billing"))
    assert (failed(verdict).name, verdict.error) == ("workload", "InvalidClaim")
    assert step(check_token(idp.mint(sub=None)), "workload").detail == "none"


def test_check_token_refuses_on_an_unexpected_failure_like_a_request(
    idp: LocalIssuer, guard: Callable[..., None], clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django_bearer_guard.tokens import validator

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("internal detail")

    monkeypatch.setattr(validator, "check_claims", broken)
    verdict = check_token(idp.mint())
    assert (failed(verdict).name, verdict.error) == ("exp", "InvalidToken")
    assert failed(verdict).detail == "unexpected RuntimeError: internal detail"


# -- the view at a path ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "scope", "ok", "detail"),
    [
        ("/scoped/reports/", "reports:read", True,
         "tests.testapp.scope_views.ReportView needs 'reports:read' for GET: held"),
        ("/scoped/reports/?x=1", "other", False,
         "tests.testapp.scope_views.ReportView needs 'reports:read' for GET; the token holds 'other'"),
        ("/scoped/reports/", None, False,
         "tests.testapp.scope_views.ReportView needs 'reports:read' for GET; the token holds no scopes"),
        ("/scoped/scoped-documents/", "docs:read", True,
         "tests.testapp.scope_views.ScopedDocumentViewSet needs 'docs:read' for GET: held"),
        ("/whoami/", None, True, "tests.testapp.views.WhoAmI does not use HasScopes: it requires no scopes"),
    ],
)
@pytest.mark.usefixtures("guard", "clock")
def test_check_token_says_whether_the_view_at_a_path_gets_its_scopes(
    idp: LocalIssuer, path: str, scope: str | None, ok: bool, detail: str
) -> None:
    verdict = check_token(idp.mint(scope=scope), view_path=path)
    assert verdict.steps[-1] == Step("view scopes", ok, detail)
    assert verdict.accepted is ok
    assert (verdict.error, verdict.description) == (
        (None, "accepted") if ok else ("InsufficientScope", "The access token lacks a required scope.")
    )


def test_check_token_says_no_view_is_routed_at_a_path(
    idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    verdict = check_token(idp.mint(), view_path="/nowhere/")
    assert verdict.steps[-1] == Step("view scopes", False, "no view is routed at '/nowhere/'")
    assert (verdict.accepted, verdict.error) == (False, "Resolver404")


@pytest.mark.urls("tests.testapp.bad_scope_urls")
def test_check_token_says_a_view_without_declared_scopes_refuses_every_token(
    idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    verdict = check_token(idp.mint(scope="a"), view_path="/undeclared/")
    assert verdict.steps[-1].ok is False
    assert "uses HasScopes but declares no scopes for GET" in verdict.steps[-1].detail
    assert (verdict.accepted, verdict.error, verdict.description) == (
        False, "AccessDenied", "This resource declares no scopes."
    )
    assert check_token(idp.mint(scope="a"), view_path="/by-initkwargs/").accepted
    assert check_token(idp.mint(scope="a"), view_path="/nested/things/").accepted
    assert not check_token(idp.mint(scope="b"), view_path="/nested/things/").accepted
    plain = check_token(idp.mint(), view_path="/plain/")
    assert plain.steps[-1] == Step("view scopes", True, "plain is not a DRF view: it requires no scopes")


def test_check_token_does_not_reach_the_view_of_a_refused_token(
    idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    verdict = check_token(idp.mint(exp=1), view_path="/scoped/reports/")
    assert verdict.steps[-1] == Step("view scopes", None, "not reached")
    assert failed(verdict).name == "exp"


def test_check_token_with_a_path_that_is_not_a_url_refuses_at_the_view_step(
    idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    verdict = check_token(idp.mint(), view_path="//[x")
    assert not verdict.accepted and verdict.steps[-1].ok is False
    assert "no view is routed" in verdict.steps[-1].detail


def test_check_token_agrees_with_the_validator_on_an_expiry_beyond_any_float(
    idp: LocalIssuer, guard: Callable[..., None], clock: Clock
) -> None:
    from django_bearer_guard.tokens.validator import TokenValidator

    token = idp.mint(exp=10**400)
    TokenValidator().validate(token)  # the API accepts it
    verdict = check_token(token)
    assert verdict.accepted
    exp = next(step for step in verdict.steps if step.name == "exp")
    assert exp.ok and exp.detail == "exp beyond any date, ahead (leeway 30 seconds)"
