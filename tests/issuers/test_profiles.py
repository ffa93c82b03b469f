"""Access-token profiles: what each one sets, what an explicit key overrides, and the rules it adds."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from django_bearer_guard.checker import check_token
from django_bearer_guard.exceptions import InvalidClaim, InvalidToken, MissingClaim, WrongType
from django_bearer_guard.issuers.config import PROFILE_ALGORITHMS, PROFILES, IssuerConfig, parse_issuer
from django_bearer_guard.testing import Clock, LocalIssuer
from django_bearer_guard.tokens.claims import check_token_type
from django_bearer_guard.tokens.trace import Trace
from django_bearer_guard.tokens.workloads import spiffe_id_parts, workload_from
from tests.support.client import assert_refused

ENTRY: dict[str, Any] = {
    "issuer": "https://idp.example/",
    "audiences": ["api"],
    "algorithms": ["PS256"],
    "jwks_uri": "https://idp.example/jwks.json",
}
RFC9068_CLAIMS = ("iss", "exp", "aud", "sub", "client_id", "iat", "jti")
SVID = "spiffe://prod.example/ns/default/sa/api"


def parse(**keys: Any) -> IssuerConfig:
    return parse_issuer({**ENTRY, **keys}, allow_http_loopback=False, where="ISSUERS[0]", transport_source=None)


def ids(config: IssuerConfig) -> list[str]:
    return [problem.id for problem in config.problems]


# -- parsing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("profile", "typ", "claims", "workload"),
    [
        (None, None, (), "sub"),
        ("rfc9068", "at+jwt", RFC9068_CLAIMS, "client_id"),
        ("jwt-svid", None, ("sub",), "sub"),
        ("fapi2", None, (), "sub"),
    ],
)
def test_parse_issuer_applies_each_profiles_defaults(
    profile: str | None, typ: str | None, claims: tuple[str, ...], workload: str
) -> None:
    config = parse(profile=profile, binding="dpop" if profile == "fapi2" else None)
    assert config.problems == ()
    assert (config.profile, config.required_typ, config.required_claims, config.workload_claim) == (
        profile, typ, claims, workload
    )


@pytest.mark.parametrize(
    ("key", "value", "field", "expected"),
    [
        ("required_typ", "JWT", "required_typ", "JWT"),
        ("required_claims", ["sub", "tenant"], "required_claims", ("sub", "tenant")),
        ("required_claims", [], "required_claims", ()),
        ("workload_claim", "azp", "workload_claim", "azp"),
    ],
)
def test_parse_issuer_lets_an_explicit_key_override_only_its_own_profile_default(
    key: str, value: Any, field: str, expected: Any
) -> None:
    config = parse(profile="rfc9068", **{key: value})
    defaults = parse(profile="rfc9068")
    assert getattr(config, field) == expected
    for other in {"required_typ", "required_claims", "workload_claim"} - {field}:
        assert getattr(config, other) == getattr(defaults, other)


@pytest.mark.parametrize("key", ["required_typ", "required_claims", "workload_claim"])
def test_parse_issuer_treats_a_none_key_as_not_set(key: str) -> None:
    assert getattr(parse(profile="rfc9068", **{key: None}), key) == getattr(parse(profile="rfc9068"), key)


@pytest.mark.parametrize("value", ["RFC9068", "rfc-9068", "", 1, ["rfc9068"], True])
def test_parse_issuer_refuses_an_unknown_profile(value: Any) -> None:
    config = parse(profile=value)
    assert ids(config) == ["bearer_guard.E003"]
    assert config.problems[0].field == "profile" and "'profile' must be one of" in config.problems[0].msg
    assert config.profile is None and not config.usable


@pytest.mark.parametrize(
    ("profile", "algorithms", "refused"),
    [
        ("jwt-svid", ["RS256", "EdDSA"], ["EdDSA"]),
        ("fapi2", ["RS256", "PS256"], ["RS256"]),
        ("fapi2", ["ES256", "ES384", "PS512"], ["ES384", "PS512"]),
    ],
)
def test_parse_issuer_refuses_algorithms_outside_the_profiles_set(
    profile: str, algorithms: list[str], refused: list[str]
) -> None:
    config = parse(profile=profile, algorithms=algorithms, binding="dpop")
    assert ids(config) == ["bearer_guard.E025"]
    problem = config.problems[0]
    assert problem.field == "algorithms" and str(refused) in problem.msg and repr(profile) in problem.msg


def test_parse_issuer_refuses_hmac_under_a_profile_with_an_algorithm_set() -> None:
    entry = {**ENTRY, "algorithms": ["HS256"], "shared_secret": "s" * 32, "profile": "jwt-svid"}
    entry.pop("jwks_uri")
    config = parse_issuer(entry, allow_http_loopback=False, where="ISSUERS[0]")
    assert ids(config) == ["bearer_guard.E025"]


@pytest.mark.parametrize("profile", ["jwt-svid", "fapi2"])
def test_parse_issuer_accepts_every_algorithm_of_the_profiles_set(profile: str) -> None:
    assert parse(profile=profile, algorithms=sorted(PROFILE_ALGORITHMS[profile]), binding="dpop").problems == ()


def test_parse_issuer_puts_no_algorithm_limit_on_rfc9068() -> None:
    assert parse(profile="rfc9068", algorithms=["RS256", "EdDSA", "ES512"]).problems == ()


@pytest.mark.parametrize("profile", [p for p in PROFILES if p])
def test_parse_issuer_still_requires_algorithms_under_a_profile(profile: str) -> None:
    # RFC 8725 §3.1: the caller fixes the algorithms; a profile only narrows them.
    config = parse(profile=profile, algorithms=[])
    assert "bearer_guard.E005" in ids(config) and config.algorithms == ()


@pytest.mark.parametrize("binding", [None, "workload"])
def test_parse_issuer_refuses_fapi2_without_a_sender_constrained_binding(binding: str | None) -> None:
    config = parse(profile="fapi2", binding=binding)
    assert "bearer_guard.E026" in ids(config)
    problem = next(p for p in config.problems if p.id == "bearer_guard.E026")
    assert problem.field == "binding" and repr(binding) in problem.msg


def test_parse_issuer_accepts_fapi2_with_cnf_given_a_transport_source() -> None:
    config = parse_issuer(
        {**ENTRY, "profile": "fapi2", "binding": "cnf"},
        allow_http_loopback=False, where="ISSUERS[0]", transport_source="xfcc",
    )
    assert config.problems == ()


# -- the claim rules ---------------------------------------------------------------------------


@pytest.mark.parametrize("header", [{}, {"typ": "JWT"}, {"typ": "jwt"}, {"typ": "JOSE"}, {"typ": "application/jwt"}])
def test_check_token_type_accepts_what_a_jwt_svid_may_carry(header: dict[str, Any]) -> None:
    trace = Trace()
    check_token_type(header, parse(profile="jwt-svid"), trace)
    assert trace.steps[0][0] == "typ" and "as a JWT-SVID's may be" in trace.steps[0][1]


@pytest.mark.parametrize(
    "typ", ["at+jwt", "application/at+jwt", "dpop+jwt", "JWS", "JOSE+JSON", "", None, 1, ["JWT"]]
)
def test_check_token_type_refuses_other_types_under_jwt_svid(typ: Any) -> None:
    with pytest.raises(WrongType, match="jwt-svid"):
        check_token_type({"typ": typ}, parse(profile="jwt-svid"))


def test_check_token_type_follows_an_explicit_required_typ_under_jwt_svid() -> None:
    config = parse(profile="jwt-svid", required_typ="JOSE")
    check_token_type({"typ": "JOSE"}, config)
    for header in ({}, {"typ": "JWT"}):
        with pytest.raises(WrongType):
            check_token_type(header, config)


def test_check_token_type_requires_at_jwt_under_rfc9068() -> None:
    config = parse(profile="rfc9068")
    check_token_type({"typ": "application/AT+JWT"}, config)
    with pytest.raises(WrongType):
        check_token_type({"typ": "JWT"}, config)


@pytest.mark.parametrize(
    ("value", "parts"),
    [
        (SVID, ("prod.example", "/ns/default/sa/api")),
        ("spiffe://prod.example", ("prod.example", "")),
        ("spiffe://prod.example/", None),
        ("spiffe://prod.example/a//b", None),
        ("spiffe://Prod.example/a", None),
        ("https://prod.example/a", None),
    ],
)
def test_spiffe_id_parts_splits_a_valid_id_only(value: str, parts: tuple[str, str] | None) -> None:
    assert spiffe_id_parts(value) == parts


@pytest.mark.parametrize("workload_claim", [None, "azp"])
def test_workload_from_takes_a_jwt_svid_subject_with_a_path(workload_claim: str | None) -> None:
    config = parse(profile="jwt-svid", workload_claim=workload_claim)
    assert workload_from({"sub": SVID, "azp": "client"}, config) == (SVID if workload_claim is None else "client")


@pytest.mark.parametrize(
    ("claims", "words"),
    [
        ({"sub": "spiffe://prod.example"}, "names a trust domain"),
        ({"sub": "svc-a"}, "not a valid SPIFFE ID"),
        ({"sub": "spiffe://prod.example/../x"}, "not a valid SPIFFE ID"),
        ({"sub": 7}, "not a valid SPIFFE ID"),
        ({}, "not a valid SPIFFE ID"),
    ],
)
def test_workload_from_refuses_a_jwt_svid_subject_that_is_no_workload(claims: dict[str, Any], words: str) -> None:
    # Even when another claim names the workload and no claim is required explicitly.
    config = parse(profile="jwt-svid", workload_claim="azp", required_claims=[])
    with pytest.raises(InvalidClaim, match=words):
        workload_from({**claims, "azp": "client"}, config)


def test_workload_from_leaves_a_trust_domain_workload_alone_without_the_profile() -> None:
    assert workload_from({"sub": "spiffe://prod.example"}, parse()) == "spiffe://prod.example"


# -- end to end --------------------------------------------------------------------------------


@pytest.fixture
def profiled(idp: LocalIssuer, guard: Callable[..., None]) -> Callable[..., None]:
    """Trust ``idp`` under a profile (and other keys)."""

    def apply(profile: str | None, **keys: Any) -> None:
        guard(issuers=[idp.issuer_settings(profile=profile, **keys)])

    return apply


def access_token(idp: LocalIssuer, **claims: Any) -> str:
    return idp.mint(headers={"typ": "at+jwt"}, **{"client_id": "billing", **claims})


def test_rfc9068_issuer_refuses_a_token_without_client_id(
    client: Any, idp: LocalIssuer, profiled: Callable[..., None], rejected: list[InvalidToken]
) -> None:
    profiled("rfc9068")
    response = client.get("/whoami/", HTTP_AUTHORIZATION=f"Bearer {access_token(idp, client_id=None)}")
    assert assert_refused(response, 401, "invalid_token")["error_description"] == MissingClaim.default_description
    assert isinstance(rejected[0], MissingClaim) and "'client_id'" in rejected[0].reason


def test_rfc9068_issuer_accepts_an_access_token_and_names_its_client_the_workload(
    client: Any, idp: LocalIssuer, profiled: Callable[..., None]
) -> None:
    profiled("rfc9068")
    response = client.get("/whoami/", HTTP_AUTHORIZATION=f"Bearer {access_token(idp)}")
    assert response.status_code == 200, response.content
    assert response.json()["workload"] == "billing"


@pytest.mark.parametrize("claim", ["iat", "jti", "sub"])
def test_rfc9068_issuer_refuses_a_token_without_each_required_claim(
    client: Any, idp: LocalIssuer, profiled: Callable[..., None], claim: str
) -> None:
    profiled("rfc9068")
    response = client.get("/whoami/", HTTP_AUTHORIZATION=f"Bearer {access_token(idp, **{claim: None})}")
    assert_refused(response, 401, "invalid_token")


def test_rfc9068_issuer_with_explicit_required_claims_no_longer_needs_client_id(
    client: Any, idp: LocalIssuer, profiled: Callable[..., None]
) -> None:
    profiled("rfc9068", required_claims=["sub"], workload_claim="sub")
    response = client.get("/whoami/", HTTP_AUTHORIZATION=f"Bearer {access_token(idp, client_id=None)}")
    assert response.status_code == 200 and response.json()["workload"] == "test-user"


def test_jwt_svid_issuer_accepts_an_svid_and_names_its_subject_the_workload(
    client: Any, idp: LocalIssuer, profiled: Callable[..., None]
) -> None:
    profiled("jwt-svid")
    response = client.get("/whoami/", HTTP_AUTHORIZATION=f"Bearer {idp.mint(headers={'typ': 'JWT'}, sub=SVID)}")
    assert response.status_code == 200 and response.json()["workload"] == SVID


def test_a_profile_change_refuses_a_token_the_cache_holds(
    client: Any, idp: LocalIssuer, profiled: Callable[..., None], rejected: list[InvalidToken]
) -> None:
    # The verified-token cache keeps the issuer's configuration; a new profile is a new configuration.
    token = idp.mint(headers={"typ": "JWT"})
    profiled(None)
    for _ in range(2):  # the second request is a cache hit
        assert client.get("/whoami/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    profiled("rfc9068")
    assert_refused(client.get("/whoami/", HTTP_AUTHORIZATION=f"Bearer {token}"), 401, "invalid_token")
    assert isinstance(rejected[0], WrongType)


def test_token_checker_explains_a_profile_refusal(
    idp: LocalIssuer, profiled: Callable[..., None], clock: Clock
) -> None:
    profiled("rfc9068")
    missing = check_token(access_token(idp, client_id=None))
    refused = next(step for step in missing.steps if step.ok is False)
    assert (refused.name, missing.error) == ("required claims", "MissingClaim")
    assert "'client_id'" in refused.detail
    typed = check_token(idp.mint(client_id="billing"))
    assert next(step for step in typed.steps if step.ok is False).name == "typ"
    profiled("jwt-svid")
    domain = check_token(idp.mint(sub="spiffe://prod.example"))
    step = next(step for step in domain.steps if step.ok is False)
    assert step.name == "workload" and "trust domain" in step.detail


def test_check_token_command_exits_1_on_a_profile_refusal(idp: LocalIssuer, profiled: Callable[..., None]) -> None:
    profiled("rfc9068")
    out = io.StringIO()
    with pytest.raises(CommandError) as refused:
        call_command("bearer_guard_check_token", access_token(idp, client_id=None), stdout=out, stderr=io.StringIO())
    assert refused.value.returncode == 1
    assert "required claim 'client_id' is missing" in out.getvalue()
