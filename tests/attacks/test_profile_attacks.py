"""One test per access-token profile rule, named after the attack it stops. Each answers 401.

The requests go through real DRF views (``tests/testapp/binding_urls.py``) to issuers served by
a :class:`~django_bearer_guard.testing.LocalIssuer`; ``token_rejected`` shows which rule refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import pytest

from django_bearer_guard.exceptions import (
    DisallowedAlgorithm,
    InvalidClaim,
    InvalidToken,
    KeysUnavailable,
    WrongType,
)
from django_bearer_guard.testing import LocalIssuer
from django_bearer_guard.testing.dpop import DPoPKey
from tests.support.binding import URL, call, refused

pytestmark = pytest.mark.urls("tests.testapp.binding_urls")

SVID = "spiffe://prod.example/ns/default/sa/api"
CLIENT = DPoPKey("ES256")
GENERIC = InvalidToken.default_description


@pytest.fixture
def idp(make_idp: Callable[..., LocalIssuer]) -> LocalIssuer:
    """An issuer that can sign with everything the profiles allow or refuse."""
    return make_idp(("PS256", "RS256", "ES256"))


@pytest.fixture
def trust(idp: LocalIssuer, guard: Callable[..., None]) -> Callable[..., None]:
    """Trust ``idp`` under ``profile`` with the keys given."""

    def apply(profile: str, **keys: Any) -> None:
        guard(issuers=[idp.issuer_settings(profile=profile, **keys)])

    return apply


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_sanity_each_profiles_own_token_is_accepted(idp: LocalIssuer, trust: Callable[..., None]) -> None:
    trust("rfc9068")
    assert call(idp.mint(headers={"typ": "at+jwt"}, client_id="billing")).status_code == 200
    trust("jwt-svid")
    assert call(idp.mint(alg="RS256", sub=SVID)).status_code == 200
    trust("fapi2", algorithms=["PS256", "ES256"], binding="dpop")
    token = idp.mint(cnf={"jkt": CLIENT.jkt})
    assert call(token, scheme="DPoP", HTTP_DPOP=CLIENT.proof("GET", URL, access_token=token)).status_code == 200


def test_id_token_replayed_to_an_rfc9068_api_is_refused(
    idp: LocalIssuer, trust: Callable[..., None], rejected: list[InvalidToken]
) -> None:
    # RFC 9068 §5: an ID token of the same issuer and audience is no access token.
    trust("rfc9068")
    id_token = idp.mint(headers={"typ": "JWT"}, nonce="n-0S6_WzA2Mj", auth_time=1, at_hash="x", jti=None)
    assert refused(call(id_token)) == WrongType.default_description
    assert isinstance(rejected[0], WrongType)


def test_id_token_without_typ_replayed_to_an_rfc9068_api_is_refused(
    idp: LocalIssuer, trust: Callable[..., None], rejected: list[InvalidToken]
) -> None:
    trust("rfc9068")
    assert refused(call(idp.mint(headers={"typ": None}, nonce="n"))) == WrongType.default_description
    assert "typ None" in rejected[0].reason


def test_access_token_without_client_id_relabelled_at_jwt_is_refused(
    idp: LocalIssuer, trust: Callable[..., None], rejected: list[InvalidToken]
) -> None:
    # An issuer that types every token at+jwt still cannot pass off one without its client.
    trust("rfc9068")
    refused(call(idp.mint(headers={"typ": "at+jwt"})))
    assert "'client_id'" in rejected[0].reason


def test_access_token_replayed_to_a_jwt_svid_api_is_refused(
    idp: LocalIssuer, trust: Callable[..., None], rejected: list[InvalidToken]
) -> None:
    # RFC 8725 §3.12: an at+jwt token is never taken for a JWT-SVID, even with a SPIFFE subject.
    trust("jwt-svid")
    assert refused(call(idp.mint(alg="RS256", headers={"typ": "at+jwt"}, sub=SVID))) == WrongType.default_description


@pytest.mark.parametrize("sub", ["spiffe://prod.example", "spiffe://prod.example/", "billing", None])
def test_jwt_svid_with_a_subject_that_names_no_workload_is_refused(
    idp: LocalIssuer, trust: Callable[..., None], rejected: list[InvalidToken], sub: str | None
) -> None:
    # A trust-domain-only ID would pass for every workload of the domain in a loose allowlist.
    trust("jwt-svid", required_claims=[])
    assert refused(call(idp.mint(alg="RS256", sub=sub))) == InvalidClaim.default_description
    assert isinstance(rejected[0], InvalidClaim)


def test_jwt_svid_signed_with_eddsa_is_refused(
    make_idp: Callable[..., LocalIssuer], guard: Callable[..., None], rejected: list[InvalidToken]
) -> None:
    # JWT-SVID §2.1: only RS, ES and PS; an issuer configured wider fails closed.
    idp = make_idp(("EdDSA", "RS256"))
    guard(issuers=[idp.issuer_settings(profile="jwt-svid")])
    for alg in ("EdDSA", "RS256"):
        assert refused(call(idp.mint(alg=alg, sub=SVID))) == GENERIC
    assert all(isinstance(error, KeysUnavailable) for error in rejected)


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_rs256_token_to_a_fapi2_issuer_is_refused(
    idp: LocalIssuer, trust: Callable[..., None], rejected: list[InvalidToken], alg: str
) -> None:
    # FAPI 2.0 §5.4.1: PS256, ES256 or EdDSA; the issuer here allows PS256 only.
    trust("fapi2", algorithms=["PS256"], binding="dpop")
    token = idp.mint(alg=alg, cnf={"jkt": CLIENT.jkt})
    assert refused(call(token, scheme="DPoP", HTTP_DPOP=CLIENT.proof("GET", URL, access_token=token))) == GENERIC
    assert isinstance(rejected[0], DisallowedAlgorithm)


def test_hs256_token_to_a_fapi2_issuer_is_refused(
    idp: LocalIssuer, trust: Callable[..., None], rejected: list[InvalidToken]
) -> None:
    # Key confusion under FAPI: the issuer's public key used as an HMAC secret.
    trust("fapi2", algorithms=["PS256", "ES256"], binding="dpop")
    header = {"alg": "HS256", "kid": idp.signing_key().kid, "typ": "JWT"}
    claims = {"iss": idp.issuer, "aud": idp.audience, "sub": "x", "exp": 4_000_000_000, "cnf": {"jkt": CLIENT.jkt}}
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    secret = json.dumps(idp.jwks()).encode()
    token = signing_input + "." + b64url(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())
    assert refused(call(token, scheme="DPoP", HTTP_DPOP=CLIENT.proof("GET", URL, access_token=token))) == GENERIC
    assert isinstance(rejected[0], DisallowedAlgorithm)


def test_fapi2_issuer_that_lists_rs256_refuses_even_its_ps256_tokens(
    idp: LocalIssuer, trust: Callable[..., None], rejected: list[InvalidToken]
) -> None:
    # A misconfigured profile fails closed rather than accept what FAPI 2.0 forbids.
    trust("fapi2", algorithms=["PS256", "RS256"], binding="dpop")
    token = idp.mint(cnf={"jkt": CLIENT.jkt})
    assert refused(call(token, scheme="DPoP", HTTP_DPOP=CLIENT.proof("GET", URL, access_token=token))) == GENERIC
    assert isinstance(rejected[0], KeysUnavailable) and "'fapi2' profile does not allow" in rejected[0].reason


def test_dpop_less_bearer_token_to_a_fapi2_issuer_is_refused(
    idp: LocalIssuer, trust: Callable[..., None], rejected: list[InvalidToken]
) -> None:
    # FAPI 2.0 §5.3: only sender-constrained tokens; the stolen token alone proves nothing.
    trust("fapi2", algorithms=["PS256", "ES256"], binding="dpop")
    token = idp.mint(cnf={"jkt": CLIENT.jkt})
    refused(call(token))
    refused(call(idp.mint()))
    assert [type(error).__name__ for error in rejected] == ["BindingMismatch", "UnverifiedBinding"]


@pytest.mark.parametrize("binding", [None, "workload"])
def test_bearer_token_to_a_fapi2_issuer_without_sender_constraint_is_refused(
    idp: LocalIssuer, guard: Callable[..., None], rejected: list[InvalidToken], binding: str | None
) -> None:
    # Without cnf or dpop the issuer cannot meet FAPI 2.0, so it trusts nothing (E026).
    guard(
        issuers=[idp.issuer_settings(profile="fapi2", algorithms=["PS256"], binding=binding)],
        TRANSPORT_IDENTITY={"source": "environ"},
    )
    assert refused(call(idp.mint())) == GENERIC
    assert isinstance(rejected[0], KeysUnavailable) and "sender-constrained" in rejected[0].reason
