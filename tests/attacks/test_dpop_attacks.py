"""DPoP (RFC 9449): a DPoP-bound token and its proofs in the hands of someone without the client's key.

The attacker captured the token and proofs in transit or from a log, holds a key of its own, can
write the shared cache, or can pre-generate proofs while it briefly controls the client. Every
attack goes through a real DRF view (``tests/testapp/binding_urls.py``) with the Django test
client, and every refusal must be a 401 with the RFC 9449 error and a ``DPoP`` challenge that
names the proof algorithms, never a 500. One test per rule, named after the attack it stops.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote

import pytest
from cryptography.hazmat.primitives import serialization
from django.core.cache import caches
from django.test import override_settings
from jwt.algorithms import ECAlgorithm

from django_bearer_guard.conf import get_settings
from django_bearer_guard.identity.dpop import access_token_hash, current_nonce
from django_bearer_guard.jose.algorithms import ASYMMETRIC_ALGORITHMS
from django_bearer_guard.testing import Clock, LocalIssuer, use_clock
from django_bearer_guard.testing.certificates import WorkloadCA
from django_bearer_guard.testing.dpop import DPoPKey
from tests.support.binding import URL, XFCC, call, dpop_refused, refused, send, via_proxy
from tests.support.live import Address

pytestmark = pytest.mark.urls("tests.testapp.binding_urls")

GENERIC = "The DPoP proof is invalid."
ANOTHER_REQUEST = "The DPoP proof was made for another request."
ALREADY_USED = "The DPoP proof was already used."
EVERY_ASYMMETRIC = " ".join(sorted(ASYMMETRIC_ALGORITHMS))

# Generated once: the victim client's key, and the attacker's own.
VICTIM = DPoPKey("ES256")
ATTACKER = DPoPKey("ES256")


@pytest.fixture
def bind(idp: LocalIssuer, guard: Callable[..., None]) -> Callable[..., None]:
    """Trust ``idp`` with ``binding`` (RS256 tokens, ES256 proofs), behind the trusted Envoy."""

    def apply(binding: str | None = "dpop", **settings: Any) -> None:
        issuer = idp.issuer_settings(binding=binding, algorithms=["RS256", "ES256"])
        guard(issuers=[issuer], TRANSPORT_IDENTITY=XFCC, **settings)

    return apply


@pytest.fixture
def token(idp: LocalIssuer, bind: Callable[..., None]) -> str:
    """The victim's DPoP-bound token, under the ``"dpop"`` issuer."""
    bind()
    return idp.mint(cnf={"jkt": VICTIM.jkt})


@pytest.fixture
def clock() -> Iterator[Clock]:
    """A manual clock that starts now, so tokens minted before it was installed are still fresh."""
    manual = Clock()
    with use_clock(manual):
        yield manual


def dpop(token: str, proof: str | None, **meta: Any) -> Any:
    if proof is not None:
        meta["HTTP_DPOP"] = proof
    return call(token, scheme="DPoP", **meta)


def b64url(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def claims(token: str, url: str = URL, **extra: Any) -> dict[str, Any]:
    """The claims of a proof for GET ``url`` with ``token``."""
    return {"jti": uuid.uuid4().hex, "htm": "GET", "htu": url, "iat": int(time.time()),
            "ath": access_token_hash(token), **extra}


def hmaced(header: dict[str, Any], payload: dict[str, Any], secret: bytes) -> str:
    """A proof MACed with ``secret`` under the HS algorithm its header names, as key confusion makes it."""
    signing_input = f"{b64url(json.dumps(header))}.{b64url(json.dumps(payload))}"
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[header["alg"]]
    mac = hmac.new(secret, signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64url(mac)}"


def reveals_nothing(response: Any, idp: LocalIssuer, *keys: DPoPKey) -> None:
    """Neither the body nor the headers name the issuer, its key or a proof key."""
    text = response.content.decode() + " ".join(f"{name}: {value}" for name, value in response.items())
    for secret in (idp.issuer, idp.url, idp.signing_key().kid, *(key.jkt for key in keys)):
        assert secret not in text, secret


def test_sanity_the_victims_fresh_proof_is_accepted(token: str) -> None:
    assert dpop(token, VICTIM.proof("GET", URL, access_token=token)).json()["methods"] == ["jkt"]


# -- a captured proof --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("meta", "path", "method"),
    [
        ({}, "/only-svc-a/", "get"),
        ({}, "/bound/", "post"),
        ({}, "/bound/", "delete"),
        ({"HTTP_HOST": "api.other.test"}, "/bound/", "get"),
        ({"HTTP_HOST": "testserver:8443"}, "/bound/", "get"),
        ({"secure": True}, "/bound/", "get"),
    ],
    ids=["another-url", "post", "delete", "another-host", "another-port", "https"],
)
def test_captured_proof_replayed_at_another_url_or_method_is_refused(
    token: str, meta: dict[str, Any], path: str, method: str
) -> None:
    # Captured before it reached the server, and spent by the attacker elsewhere.
    proof = VICTIM.proof("GET", URL, access_token=token)
    assert dpop_refused(dpop(token, proof, path=path, method=method, **meta)) == ANOTHER_REQUEST
    # The refusal did not spend it: the victim's own request still goes through.
    assert dpop(token, proof).status_code == 200


@pytest.mark.parametrize(
    ("meta", "path"),
    [({}, "/bound/"), ({}, "/bound/?page=2"), ({"HTTP_HOST": "TESTSERVER"}, "/bound/"),
     ({"HTTP_HOST": "testserver:80"}, "/bound/")],
    ids=["same", "with-a-query", "host-case", "default-port"],
)
def test_captured_proof_replayed_at_the_same_url_in_another_spelling_is_refused(
    token: str, meta: dict[str, Any], path: str
) -> None:
    proof = VICTIM.proof("GET", URL, access_token=token)
    assert dpop(token, proof).status_code == 200
    assert dpop_refused(dpop(token, proof, path=path, **meta)) == ALREADY_USED


@pytest.mark.parametrize(
    "meta",
    [{"HTTP_X_FORWARDED_HOST": "api.other.test"}, {"HTTP_X_FORWARDED_PROTO": "https"},
     {"HTTP_FORWARDED": "host=api.other.test;proto=https"}, {"HTTP_X_ORIGINAL_URL": "/only-svc-a/"},
     {"HTTP_X_HTTP_METHOD_OVERRIDE": "DELETE"}],
)
def test_forwarding_headers_cannot_make_a_proof_for_another_request_match(
    token: str, meta: dict[str, Any]
) -> None:
    # Without USE_X_FORWARDED_HOST and SECURE_PROXY_SSL_HEADER, the URL is the request's own.
    for url, method in (("http://api.other.test/bound/", "GET"), ("https://testserver/bound/", "GET"),
                        ("http://testserver/only-svc-a/", "GET"), (URL, "DELETE")):
        proof = VICTIM.proof(method, url, access_token=token)
        assert dpop_refused(dpop(token, proof, **meta)) == ANOTHER_REQUEST


@pytest.mark.parametrize(
    ("middleware", "status"),
    [(None, 400), (["django.contrib.sessions.middleware.SessionMiddleware"], 400)],
    ids=["common-middleware", "no-common-middleware"],
)
def test_proof_captured_at_another_host_cannot_be_replayed_by_sending_that_host(
    token: str, middleware: list[str] | None, status: int
) -> None:
    """htu names a host, but the host of the request URL is whatever Host header ALLOWED_HOSTS lets in.

    With ALLOWED_HOSTS = ["*"] a proof captured at api.other.test (another service that accepts
    the same token) is accepted here with ``Host: api.other.test``. Naming this service's hosts in
    ALLOWED_HOSTS is what makes htu bind the host: CommonMiddleware then refuses the request with
    400 before its proof is read, and without it building the request URL for the proof raises
    Django's DisallowedHost, which Django answers with 400 and its security log.
    """
    elsewhere = "http://api.other.test/bound/"
    # The suite's ALLOWED_HOSTS is ["*"]: the limit this test documents.
    accepted = dpop(token, VICTIM.proof("GET", elsewhere, access_token=token), HTTP_HOST="api.other.test")
    assert accepted.status_code == 200
    proof = VICTIM.proof("GET", elsewhere, access_token=token)
    overrides: dict[str, Any] = {"ALLOWED_HOSTS": ["testserver"]}
    if middleware is not None:
        overrides["MIDDLEWARE"] = middleware
    with override_settings(**overrides):
        assert dpop(token, proof, HTTP_HOST="api.other.test").status_code == status
        assert dpop_refused(dpop(token, proof)) == ANOTHER_REQUEST


def test_proof_for_another_of_the_victims_tokens_is_refused(idp: LocalIssuer, token: str) -> None:
    # RFC 9449 §4.3 (12): a captured proof of token A must not make a stolen token B usable,
    # though both are bound to the same key.
    stronger = idp.mint(cnf={"jkt": VICTIM.jkt}, scope="admin")
    proof = VICTIM.proof("GET", URL, access_token=token)
    assert dpop_refused(dpop(stronger, proof)) == "The DPoP proof was made for another access token."
    without_ath = VICTIM.proof("GET", URL)
    assert dpop_refused(dpop(stronger, without_ath)) == "The DPoP proof was made for another access token."


# -- the attacker's own key, and proofs that are not what they claim ----------------------------


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_stolen_token_with_a_proof_of_the_attackers_own_key_is_refused(
    idp: LocalIssuer, token: str, alg: str
) -> None:
    thief = ATTACKER if alg == "ES256" else DPoPKey(alg)
    response = dpop(token, thief.proof("GET", URL, access_token=token))
    assert dpop_refused(response) == GENERIC
    reveals_nothing(response, idp, VICTIM, thief)


@pytest.mark.parametrize(
    "jwk",
    [
        VICTIM.public_jwk,
        {**VICTIM.public_jwk, "kid": "victim"},
        {**VICTIM.public_jwk, "use": "sig", "ext": True},
    ],
    ids=["victims-jwk", "with-kid", "with-extra-members"],
)
def test_proof_carrying_the_victims_public_key_but_signed_by_the_attacker_is_refused(
    idp: LocalIssuer, token: str, jwk: dict[str, Any]
) -> None:
    # The thumbprint matches cnf.jkt; the signature does not.
    response = dpop(token, ATTACKER.proof("GET", URL, access_token=token, headers={"jwk": jwk}))
    assert dpop_refused(response) == GENERIC
    reveals_nothing(response, idp, VICTIM, ATTACKER)


def test_proof_with_alg_none_is_refused(idp: LocalIssuer, token: str) -> None:
    for alg in ("none", "None", "NONE", ""):
        header = {"typ": "dpop+jwt", "alg": alg, "jwk": VICTIM.public_jwk}
        for signature in ("", "AAAA"):
            proof = f"{b64url(json.dumps(header))}.{b64url(json.dumps(claims(token)))}.{signature}"
            response = dpop(token, proof)
            assert dpop_refused(response) == GENERIC
            reveals_nothing(response, idp, VICTIM)


def test_proof_hmaced_with_the_victims_public_key_is_refused(idp: LocalIssuer, token: str) -> None:
    # Key confusion: the public key, in every form an attacker can read it, used as an HMAC secret.
    public = VICTIM.private_key.public_key()
    secrets = [
        public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo),
        json.dumps(VICTIM.public_jwk).encode(),
        VICTIM.jkt.encode(),
    ]
    for alg in ("HS256", "HS384", "HS512"):
        header = {"typ": "dpop+jwt", "alg": alg, "jwk": VICTIM.public_jwk}
        for secret in secrets:
            response = dpop(token, hmaced(header, claims(token), secret))
            assert dpop_refused(response) == GENERIC
            reveals_nothing(response, idp, VICTIM)


@pytest.mark.parametrize("alg", ["ES384", "ES512", "EdDSA", "PS256"])
def test_proof_with_an_algorithm_outside_the_issuers_list_is_refused(
    idp: LocalIssuer, bind: Callable[..., None], alg: str
) -> None:
    # The issuer lists RS256 and ES256: a client key of another algorithm is not one it issues for.
    bind()
    key = DPoPKey(alg)
    token = idp.mint(cnf={"jkt": key.jkt})
    response = dpop(token, key.proof("GET", URL, access_token=token))
    assert dpop_refused(response) == GENERIC
    reveals_nothing(response, idp, key)


def test_proof_whose_jwk_carries_the_private_key_is_refused(idp: LocalIssuer, token: str) -> None:
    # A proof that publishes its private key proves nothing: anyone who saw it could sign more.
    private = dict(ECAlgorithm.to_jwk(VICTIM.private_key, as_dict=True))
    response = dpop(token, VICTIM.proof("GET", URL, access_token=token, headers={"jwk": private}))
    assert dpop_refused(response) == GENERIC
    reveals_nothing(response, idp, VICTIM)
    oct_key = {"kty": "oct", "k": b64url(b"k" * 32)}
    header = {"typ": "dpop+jwt", "alg": "HS256", "jwk": oct_key}
    assert dpop_refused(dpop(token, hmaced(header, claims(token), b"k" * 32))) == GENERIC


@pytest.mark.parametrize(
    "extra",
    [
        {"jku": "https://attacker.example/jwks.json"},
        {"x5u": "https://attacker.example/cert.pem"},
        {"x5c": ["MIIBszCCAVmgAwIBAgIU"]},
        {"crit": ["htm"]},
        {"b64": False},
        {"cty": "JWT"},
    ],
    ids=["jku", "x5u", "x5c", "crit", "b64", "cty"],
)
def test_proof_with_a_key_reference_beside_its_jwk_is_refused(
    idp: LocalIssuer, token: str, extra: dict[str, Any]
) -> None:
    # A second key source (or a change to what is signed) could make the verifier trust another key.
    response = dpop(token, VICTIM.proof("GET", URL, access_token=token, headers=extra))
    assert dpop_refused(response) == GENERIC
    reveals_nothing(response, idp, VICTIM)


@pytest.mark.parametrize("typ", ["JWT", "at+jwt", "application/at+jwt", "jwt", None, "dpop+jwt ", "dpop+jwt;x"])
def test_jwt_of_the_client_key_that_is_not_a_proof_is_refused(idp: LocalIssuer, token: str, typ: str | None) -> None:
    # RFC 8725 §3.11: a client assertion or token signed by the client key must not pass for a proof.
    response = dpop(token, VICTIM.proof("GET", URL, access_token=token, typ=typ))
    assert dpop_refused(response) == GENERIC
    reveals_nothing(response, idp, VICTIM)


def test_access_token_sent_as_its_own_proof_is_refused(idp: LocalIssuer, token: str) -> None:
    response = dpop(token, token)
    assert dpop_refused(response) == GENERIC
    reveals_nothing(response, idp, VICTIM)


def test_proof_sent_as_the_access_token_is_refused(idp: LocalIssuer, token: str) -> None:
    proof = VICTIM.proof("GET", URL, access_token=token)
    # The proof is signed by a key no issuer publishes: refused before any issuer is known.
    response = dpop(proof, proof)
    assert dpop_refused(response, "invalid_token", EVERY_ASYMMETRIC) == "The access token is invalid."
    reveals_nothing(response, idp, VICTIM)


def test_forged_token_of_the_dpop_issuer_gets_the_same_challenge_as_an_unknown_issuer(
    idp: LocalIssuer, token: str, make_idp: Callable[..., LocalIssuer]
) -> None:
    # Until the token's signature holds, the challenge names no issuer's algorithms.
    head, body, _ = token.split(".")
    forged = f"{head}.{body}.{b64url(b'x' * 256)}"
    unknown = make_idp().mint(cnf={"jkt": VICTIM.jkt})
    for bad in (forged, unknown):
        response = dpop(bad, VICTIM.proof("GET", URL, access_token=bad))
        assert dpop_refused(response, "invalid_token", EVERY_ASYMMETRIC) == "The access token is invalid."
        reveals_nothing(response, idp, VICTIM)


@pytest.mark.parametrize("value", ["", " ", ".", "..", "a.b.c", "é", "\x00", "x" * 9000, "e30.e30.e30"])
def test_garbage_dpop_header_is_a_401_never_a_500(idp: LocalIssuer, token: str, value: str) -> None:
    response = dpop(token, value)
    dpop_refused(response)
    reveals_nothing(response, idp, VICTIM)


# -- downgrades --------------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "BeArEr"])
def test_dpop_bound_token_downgraded_to_bearer_is_refused(token: str, scheme: str) -> None:
    # RFC 9449 §7.1: a stolen DPoP-bound token must not work as a plain Bearer token,
    # even with a valid proof beside it.
    response = call(token, scheme=scheme, HTTP_DPOP=VICTIM.proof("GET", URL, access_token=token))
    assert "DPoP scheme" in refused(response)
    assert response["WWW-Authenticate"].startswith('Bearer realm="api", error="invalid_token"')


@pytest.mark.parametrize("scheme", ["DPoP", "dpop", "DPOP"])
def test_dpop_scheme_case_does_not_change_what_is_checked(token: str, scheme: str) -> None:
    proof = VICTIM.proof("GET", URL, access_token=token)
    assert call(token, scheme=scheme, HTTP_DPOP=proof).status_code == 200
    dpop_refused(call(token, scheme=scheme, HTTP_DPOP=proof))


@pytest.mark.parametrize("cnf", [None, {"x5t#S256": "certificate-bound"}])
def test_dpop_scheme_cannot_dress_a_token_that_is_not_dpop_bound(
    idp: LocalIssuer, bind: Callable[..., None], cnf: dict[str, str] | None
) -> None:
    # A plain or certificate-bound token, with a proof of a key the attacker holds.
    bind(None)
    plain = idp.mint(cnf=cnf)
    certificate = WorkloadCA().issue("spiffe://example.test/ns/default/sa/svc-a")
    response = dpop(plain, ATTACKER.proof("GET", URL, access_token=plain), **via_proxy(certificate))
    assert dpop_refused(response, "invalid_token") == "The access token is not DPoP-bound."


def test_dpop_bound_token_without_a_proof_is_refused(idp: LocalIssuer, token: str) -> None:
    response = dpop(token, None)
    assert dpop_refused(response) == "A DPoP proof is required."
    reveals_nothing(response, idp, VICTIM)


@pytest.mark.parametrize("joiner", [",", ", ", " "])
def test_two_dpop_headers_are_refused(token: str, joiner: str) -> None:
    # §4.3 (1): a WSGI server joins repeated headers with ','. Either proof may be the good one.
    good, other = VICTIM.proof("GET", URL, access_token=token), ATTACKER.proof("GET", URL, access_token=token)
    for value in (good + joiner + other, other + joiner + good, good + joiner + good):
        assert dpop_refused(dpop(token, value)) == "The request must carry exactly one DPoP proof."


def test_two_dpop_header_lines_through_a_real_server_are_refused(token: str, runserver: Address) -> None:
    good = VICTIM.proof("GET", URL.replace("testserver", "api.example.test"), access_token=token)
    answer = send(runserver, "/bound/", [("Authorization", f"DPoP {token}"), ("DPoP", good), ("DPoP", good)],
                  host="api.example.test")
    body = answer.body
    assert (answer.status, body["error"]) == (401, "invalid_dpop_proof")
    assert body["error_description"] == "The request must carry exactly one DPoP proof."


@pytest.mark.urls("tests.urls")
def test_dpop_request_without_the_scope_is_answered_with_a_dpop_challenge(token: str, idp: LocalIssuer) -> None:
    weak = idp.mint(cnf={"jkt": VICTIM.jkt}, scope="other")
    proof = VICTIM.proof("GET", "http://testserver/scoped/reports/", access_token=weak)
    response = dpop(weak, proof, path="/scoped/reports/")
    assert response.status_code == 403 and response.json()["error"] == "insufficient_scope"
    assert response["WWW-Authenticate"].startswith('DPoP realm="api", error="insufficient_scope"')


# -- time: pre-generated and stale proofs ------------------------------------------------------


@pytest.mark.parametrize(
    ("iat", "description"),
    [
        (31, "The DPoP proof was made in the future."),
        (3600, "The DPoP proof was made in the future."),
        (10**10, "The DPoP proof was made in the future."),
        (-91, "The DPoP proof is too old."),
        (-86400, "The DPoP proof is too old."),
    ],
)
def test_proof_dated_ahead_or_long_ago_is_refused(token: str, clock: Clock, iat: int, description: str) -> None:
    # Dated ahead: pre-generated by someone who held the key for a moment, for use later.
    proof = VICTIM.proof("GET", URL, access_token=token, iat=clock.now + iat)
    assert dpop_refused(dpop(token, proof)) == description


def test_captured_proof_unused_until_it_is_stale_is_refused(token: str, clock: Clock) -> None:
    # Captured and held back (the victim's request blocked): DPOP_PROOF_MAX_AGE 60 + LEEWAY 30.
    proof = VICTIM.proof("GET", URL, access_token=token)
    clock.advance(91)
    assert dpop_refused(dpop(token, proof)) == "The DPoP proof is too old."


def test_pre_generated_proofs_die_with_their_nonce(
    idp: LocalIssuer, bind: Callable[..., None], clock: Clock
) -> None:
    # §11.2: with nonces, proofs signed ahead of time are good for one nonce period and the next.
    bind(DPOP_NONCE=True, DPOP_NONCE_LIFETIME=60, LEEWAY=0)
    token = idp.mint(cnf={"jkt": VICTIM.jkt}, lifetime=3600)
    nonce = current_nonce(clock.now, 60)
    later = [VICTIM.proof("GET", URL, access_token=token, nonce=nonce, iat=clock.now + step) for step in (0, 120)]
    assert dpop(token, later[0]).status_code == 200
    clock.advance(120)
    response = dpop(token, later[1])
    dpop_refused(response, "use_dpop_nonce")
    assert response["DPoP-Nonce"] == current_nonce(clock.now, 60) != nonce


def _altered_mac(now: float) -> str:
    nonce = current_nonce(now, 300)
    return nonce[:-1] + ("A" if nonce[-1] != "A" else "B")


def _nonce_of_another_deployment(now: float) -> str:
    with override_settings(SECRET_KEY="another-deployment-not-secret"):
        return current_nonce(now, 300)


@pytest.mark.parametrize(
    "forge",
    [
        lambda now: "A" * 32,
        _altered_mac,
        _nonce_of_another_deployment,
        lambda now: current_nonce(now - 600, 300),
        lambda now: current_nonce(now, 300) + "=",
        lambda now: b64url(hashlib.sha256(b"guess").digest()[:24]),
    ],
    ids=["pattern", "altered-mac", "another-secret-key", "two-periods-old", "padded", "random"],
)
def test_forged_nonce_is_answered_with_the_real_one(
    idp: LocalIssuer, bind: Callable[..., None], clock: Clock, forge: Callable[[float], str]
) -> None:
    bind(DPOP_NONCE=True)
    token = idp.mint(cnf={"jkt": VICTIM.jkt})
    forged = forge(clock.now)
    assert forged != current_nonce(clock.now, 300)
    response = dpop(token, VICTIM.proof("GET", URL, access_token=token, nonce=forged))
    assert dpop_refused(response, "use_dpop_nonce") == "The DPoP proof must carry the server's current nonce."
    assert response["DPoP-Nonce"] == current_nonce(clock.now, 300)
    reveals_nothing(response, idp, VICTIM)


def test_nonce_is_checked_only_after_the_proofs_signature(
    idp: LocalIssuer, bind: Callable[..., None]
) -> None:
    # A proof the victim's key did not sign is refused as such, never asked for a nonce: the nonce
    # is checked only after everything the key proves.
    bind(DPOP_NONCE=True)
    token = idp.mint(cnf={"jkt": VICTIM.jkt})
    response = dpop(token, ATTACKER.proof("GET", URL, access_token=token, headers={"jwk": VICTIM.public_jwk}))
    assert dpop_refused(response) == GENERIC
    assert not response.has_header("DPoP-Nonce")


# -- a writable shared cache -------------------------------------------------------------------


def replay_key(jkt: str, jti: str) -> str:
    """The replay store's key for ``jti`` of the key ``jkt`` (identity/dpop.py, rebuilt independently)."""
    return "bearer_guard:dpop-jti:v1:" + hashlib.sha256(f"{jkt}\n{jti}".encode()).hexdigest()


@pytest.mark.parametrize("value", [None, 0, False, "", "unused", {"accepted": True}, b"\x00"])
def test_cache_writer_cannot_unspend_a_proof_by_overwriting_its_entry(token: str, value: Any) -> None:
    """An attacker who can write the shared cache cannot make a replayed proof pass by what it writes.

    The replay store only asks whether the entry exists, so no value marks a proof as unused.
    The limit: whoever can *remove* the entry (delete it, flush the cache, overwrite it with a
    timeout that has passed) can replay the proof once more, until it is DPOP_PROOF_MAX_AGE +
    LEEWAY old. The cache's integrity bounds the replay protection; its window bounds the damage.
    """
    proof = VICTIM.proof("GET", URL, access_token=token, jti="captured")
    assert dpop(token, proof).status_code == 200
    cache = caches[get_settings().cache_alias]
    cache.set(replay_key(VICTIM.jkt, "captured"), value, timeout=None)
    assert dpop_refused(dpop(token, proof)) == ALREADY_USED
    # The documented limit: removing the entry lets the proof through once more.
    cache.delete(replay_key(VICTIM.jkt, "captured"))
    assert dpop(token, proof).status_code == 200
    assert dpop_refused(dpop(token, proof)) == ALREADY_USED


def test_cache_writer_cannot_revive_a_stale_proof_by_deleting_its_entry(token: str, clock: Clock) -> None:
    proof = VICTIM.proof("GET", URL, access_token=token, jti="captured")
    assert dpop(token, proof).status_code == 200
    caches[get_settings().cache_alias].delete(replay_key(VICTIM.jkt, "captured"))
    clock.advance(91)
    assert dpop_refused(dpop(token, proof)) == "The DPoP proof is too old."


def test_jti_entries_seeded_under_another_key_do_not_block_the_client(idp: LocalIssuer, token: str) -> None:
    """jti values spent by one key, or written under it, do not spend another key's.

    The attacker knows (or guesses) the jti values the victim will use: it sends proofs with
    them under its own key and token, and writes entries for them into the cache. The victim's
    proofs with the same jti values still pass, because the replay key includes the jkt. (An
    attacker who can write the cache can still block a client whose jti values are predictable
    by writing entries under the victim's jkt: a denial of service that fails closed.)
    """
    own = idp.mint(cnf={"jkt": ATTACKER.jkt})
    cache = caches[get_settings().cache_alias]
    for jti in ("1", "2", "3"):
        assert dpop(own, ATTACKER.proof("GET", URL, access_token=own, jti=jti)).status_code == 200
        cache.set(replay_key(ATTACKER.jkt, jti + "0"), 1, timeout=None)
        cache.set("bearer_guard:dpop-jti:v1:" + jti, 1, timeout=None)
    for jti in ("1", "2", "3", "10", "20"):
        assert dpop(token, VICTIM.proof("GET", URL, access_token=token, jti=jti)).status_code == 200
    cache.set(replay_key(VICTIM.jkt, "4"), 1, timeout=None)
    assert dpop_refused(dpop(token, VICTIM.proof("GET", URL, access_token=token, jti="4"))) == ALREADY_USED


# -- a request path that tries to reshape the URL the proof is compared with ---------------------


@pytest.mark.parametrize(
    ("path", "proof_url"),
    [
        # A path starting with "//" would make a URL join read it as another host.
        ("//other-rs.example/x", "http://other-rs.example/x"),
        # A decoded "?" or "#" would cut the path short: a proof for /any/reports at a longer path.
        ("/any/reports%3Fdelete=1", "http://testserver/any/reports"),
        ("/any/reports%23x", "http://testserver/any/reports"),
        # The path is taken as routed: a proof for /any/b is not one for /any/a/../b.
        ("/any/a/../b", "http://testserver/any/b"),
        ("/any/./b", "http://testserver/any/b"),
    ],
)
def test_request_path_cannot_reshape_the_url_a_proof_names(token: str, path: str, proof_url: str) -> None:
    proof = VICTIM.proof("GET", proof_url, access_token=token)
    # PATH_INFO as the WSGI server hands it over (decoded), even where the test client would parse it.
    response = dpop(token, proof, path="/any/x", PATH_INFO=unquote(path))
    assert dpop_refused(response) == ANOTHER_REQUEST


@pytest.mark.parametrize(
    ("path", "proof_url"),
    [
        ("/any/reports%3Fdelete=1", "http://testserver/any/reports%3Fdelete=1"),
        ("/any/100%25", "http://testserver/any/100%25"),
        ("/any/caf%C3%A9", "http://testserver/any/caf%c3%a9"),
    ],
)
def test_proof_naming_an_encoded_path_exactly_is_accepted(token: str, path: str, proof_url: str) -> None:
    response = dpop(token, VICTIM.proof("GET", proof_url, access_token=token), path=path)
    assert response.status_code == 200, response.content


def test_replay_store_that_stores_nothing_refuses_every_proof(
    token: str, caplog: pytest.LogCaptureFixture
) -> None:
    dummy = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    with override_settings(CACHES=dummy), caplog.at_level(logging.ERROR, "django_bearer_guard"):
        # A DummyCache's add() always succeeds: every replay would pass.
        assert dpop_refused(dpop(token, VICTIM.proof("GET", URL, access_token=token))) == GENERIC
    assert "DummyCache" in caplog.text
