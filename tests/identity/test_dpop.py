"""DPoP proofs (RFC 9449 §4.3): every check of verify_proof, each with the attack it stops.

The shared cache (the replay store) is cleared between tests by the suite's autouse fixture.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.test import override_settings
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from django_bearer_guard.conf import GuardSettings, get_settings
from django_bearer_guard.exceptions import InvalidDPoPProof, UseDPoPNonce
from django_bearer_guard.identity import dpop
from django_bearer_guard.identity.dpop import (
    DPoPProof,
    access_token_hash,
    current_nonce,
    nonce_age,
    normalize_htu,
    verify_proof,
)
from django_bearer_guard.testing.dpop import DPoPKey
from tests.support.caches import BROKEN_CACHES

NOW = 1_800_000_000.0
URL = "https://api.example.test/files/report.pdf"
TOKEN = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ3b3JrZXIifQ.c2lnbmF0dXJl"
ALGORITHMS = ("ES256", "ES384", "PS256", "EdDSA")
KEY = DPoPKey()
OTHER = DPoPKey()

# RFC 9449 §7.1, Figure 13 (with its access token, and the thumbprint of its key from §6.1):
# the RFC's own proof for GET https://resource.example.org/protectedresource at 1562262618.
RFC_PROOF = (
    "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscE"
    "JoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19"
    ".eyJqdGkiOiJlMWozVl9iS2ljOC1MQUVCIiwiaHRtIjoiR0VUIiwiaHR1IjoiaHR0cHM6Ly9yZXNvdXJjZS5leGFtcGxlLm9yZy9wcm90ZWN0Z"
    "WRyZXNvdXJjZSIsImlhdCI6MTU2MjI2MjYxOCwiYXRoIjoiZlVIeU8ycjJaM0RaNTNFc05yV0JiMHhXWG9hTnk1OUlpS0NBcWtzbVFFbyJ9"
    ".2oW9RP35yRqzhrtNP86L-Ey71EOptxRimPPToA1plemAgR6pxHF8y6-yqyVnmcw6Fy1dqd-jfxSYoMxhAJpLjA"
)
RFC_ACCESS_TOKEN = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
RFC_ATH = "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
RFC_JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"


class RecordingCache(LocMemCache):
    """A local-memory cache that remembers the timeout of every ``add``."""

    timeouts: dict[str, Any] = {}

    def add(self, key: str, value: Any, timeout: Any = None, version: int | None = None) -> bool:
        RecordingCache.timeouts[key] = timeout
        return super().add(key, value, timeout, version)


RECORDING_CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "recording": {"BACKEND": "tests.identity.test_dpop.RecordingCache", "LOCATION": "dpop-recording"},
}


@pytest.fixture(autouse=True)
def _fresh_key_memo() -> Iterator[None]:
    dpop._proof_keys.clear()
    yield
    dpop._proof_keys.clear()


def guard(**values: Any) -> GuardSettings:
    """The parsed settings for ``BEARER_GUARD`` = ``values``."""
    with override_settings(BEARER_GUARD=values):
        settings = get_settings()
    assert settings.problems == ()
    return settings


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make(key: DPoPKey = KEY, method: str = "GET", url: str = URL, **kwargs: Any) -> str:
    kwargs.setdefault("access_token", TOKEN)
    kwargs.setdefault("iat", NOW)
    return key.proof(method, url, **kwargs)


def forge(header: dict[str, Any], payload: bytes = b"{}", signature: bytes = b"\x01" * 64) -> str:
    """A compact JWS with any header and signature."""
    return ".".join([b64(json.dumps(header).encode()), b64(payload), b64(signature)])


def verify(
    proof: str | None,
    *,
    key: DPoPKey = KEY,
    method: str = "GET",
    url: str = URL,
    access_token: str = TOKEN,
    algorithms: tuple[str, ...] = ALGORITHMS,
    settings: GuardSettings | None = None,
    now: float = NOW,
) -> DPoPProof:
    return verify_proof(
        proof,
        access_token=access_token,
        method=method,
        url=url,
        jkt=key.jkt,
        algorithms=algorithms,
        settings=settings or get_settings(),
        now=now,
    )


def refused(proof: str | None, **kwargs: Any) -> InvalidDPoPProof:
    with pytest.raises(InvalidDPoPProof) as info:
        verify(proof, **kwargs)
    assert (info.value.status_code, info.value.error) == (401, "invalid_dpop_proof")
    return info.value


def replay_key(jkt: str, jti: str) -> str:
    return "bearer_guard:dpop-jti:v1:" + hashlib.sha256(f"{jkt}\n{jti}".encode()).hexdigest()


# -- a proof that holds ---------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["ES256", "ES384", "ES512", "PS256", "RS256", "EdDSA"])
def test_verify_proof_accepts_a_proof_of_each_asymmetric_algorithm(alg: str) -> None:
    key = DPoPKey(alg)
    proof = make(key, jti="proof-1")
    # The helper's own RFC 7638 thumbprint agrees with the library's for every key type.
    assert verify(proof, key=key, algorithms=(alg,)) == DPoPProof(
        jkt=key.jkt, jti="proof-1", iat=NOW, nonce_is_stale=False
    )


def test_verify_proof_accepts_the_example_proof_of_rfc_9449() -> None:
    proof = verify_proof(
        RFC_PROOF,
        access_token=RFC_ACCESS_TOKEN,
        method="GET",
        url="https://resource.example.org/protectedresource",
        jkt=RFC_JKT,
        algorithms=("ES256",),
        settings=get_settings(),
        now=1562262618,
    )
    assert proof == DPoPProof(jkt=RFC_JKT, jti="e1j3V_bKic8-LAEB", iat=1562262618.0, nonce_is_stale=False)


def test_access_token_hash_is_the_rfc_9449_ath() -> None:
    assert access_token_hash(RFC_ACCESS_TOKEN) == RFC_ATH


def test_access_token_hash_refuses_a_token_that_is_not_ascii() -> None:
    with pytest.raises(ValueError):
        access_token_hash("tökén")


def test_dpop_key_refuses_an_algorithm_it_cannot_make_keys_for() -> None:
    with pytest.raises(ValueError, match="HS256"):
        DPoPKey("HS256")


def test_dpop_key_public_jwk_is_a_copy() -> None:
    KEY.public_jwk["x"] = "changed"
    assert KEY.public_jwk["x"] != "changed"


def test_dpop_key_proof_carries_the_requested_members() -> None:
    proof = KEY.proof("PUT", URL, nonce="n", jti="j", iat=5, claims={"extra": 1, "htu": None},
                      headers={"kid": "k1", "typ": None})
    segment = proof.split(".")[1]
    payload = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    header = jwt.get_unverified_header(proof)
    assert header == {"alg": "ES256", "jwk": KEY.public_jwk, "kid": "k1"}
    assert payload == {"jti": "j", "htm": "PUT", "iat": 5, "nonce": "n", "extra": 1}


# -- 1. exactly one proof -------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, ""])
def test_verify_proof_refuses_a_request_without_a_proof(value: str | None) -> None:
    # A stolen DPoP-bound token alone must not be enough.
    assert refused(value).description == "A DPoP proof is required."


@pytest.mark.parametrize("joiner", [",", ", ", " ", "\t"])
def test_verify_proof_refuses_two_proofs(joiner: str) -> None:
    # Two DPoP headers (joined by the server): which one was checked would be ambiguous.
    error = refused(make() + joiner + make(OTHER))
    assert "more than one" in error.reason
    assert error.description == "The request must carry exactly one DPoP proof."


def test_verify_proof_refuses_a_proof_longer_than_max_token_bytes() -> None:
    # Nothing is decoded from a header of any size.
    assert "MAX_TOKEN_BYTES" in refused(make(), settings=guard(MAX_TOKEN_BYTES=256)).reason


@pytest.mark.parametrize(
    "proof",
    [
        "not-a-proof",
        TOKEN,
        # An access token (no jwk in its header) sent as a proof.
        jwt.encode({"jti": "a"}, KEY.private_key, algorithm="ES256"),
        make(headers={"jwk": "not an object"}),
        # Headers that would make the verifier fetch or trust another key, or change what is signed.
        make(headers={"jku": "https://attacker.example/jwks"}),
        make(headers={"x5c": ["MIIB"]}),
        make(headers={"crit": ["exp"]}),
        # JWE, and the unsecured JWS of RFC 7519 §6.
        "a.b.c.d.e",
        forge({"typ": "dpop+jwt", "alg": "ES256", "jwk": KEY.public_jwk}, signature=b""),
    ],
)
def test_verify_proof_refuses_what_is_not_a_proof(proof: str) -> None:
    error = refused(proof)
    assert type(error) is InvalidDPoPProof
    assert "malformed" in error.reason
    assert error.description == "The DPoP proof is invalid."


# -- 3. typ ---------------------------------------------------------------------------------


@pytest.mark.parametrize("typ", ["dpop+jwt", "DPoP+JWT", "application/dpop+jwt", "Application/DPoP+JWT"])
def test_verify_proof_accepts_the_dpop_jwt_type_in_any_case(typ: str) -> None:
    assert verify(make(typ=typ)).jkt == KEY.jkt


@pytest.mark.parametrize("typ", [None, "", "JWT", "at+jwt", "application/at+jwt", "dpop", "dpop+jwt+x", "jwt+dpop"])
def test_verify_proof_refuses_another_type(typ: str | None) -> None:
    # RFC 8725 §3.11: an access token or ID token signed by the client key must not pass for a proof.
    assert "is not dpop+jwt" in refused(make(typ=typ)).reason


# -- 4. alg ---------------------------------------------------------------------------------


def test_verify_proof_refuses_alg_none() -> None:
    header = {"typ": "dpop+jwt", "alg": "none", "jwk": KEY.public_jwk}
    payload = json.dumps({"jti": "a", "htm": "GET", "htu": URL, "iat": NOW, "ath": access_token_hash(TOKEN)})
    error = refused(forge(header, payload.encode()), algorithms=(*ALGORITHMS, "none"))
    assert "not an allowed asymmetric algorithm" in error.reason


def test_verify_proof_refuses_hmac_even_when_the_issuer_allows_it() -> None:
    # Key confusion: a MAC keyed with something public (here the key's thumbprint) anyone can compute.
    secret = KEY.jkt.encode()
    payload = {"jti": "a", "htm": "GET", "htu": URL, "iat": NOW, "ath": access_token_hash(TOKEN)}
    proof = jwt.encode(payload, secret, algorithm="HS256", headers={"typ": "dpop+jwt", "jwk": KEY.public_jwk})
    assert "not an allowed asymmetric algorithm" in refused(proof, algorithms=("HS256", *ALGORITHMS)).reason


@pytest.mark.parametrize("algorithms", [("RS256",), ("PS256", "EdDSA"), ()])
def test_verify_proof_refuses_an_algorithm_outside_the_issuers_list(algorithms: tuple[str, ...]) -> None:
    assert "not an allowed asymmetric algorithm" in refused(make(), algorithms=algorithms).reason


def test_verify_proof_refuses_an_unknown_algorithm() -> None:
    header = {"typ": "dpop+jwt", "alg": "ES256K", "jwk": KEY.public_jwk}
    assert "not an allowed asymmetric algorithm" in refused(forge(header), algorithms=("ES256K",)).reason


# -- 5. jwk ---------------------------------------------------------------------------------


def _private_jwk() -> dict[str, Any]:
    return dict(ECAlgorithm.to_jwk(KEY.private_key, as_dict=True))


def _weak_rsa_jwk() -> dict[str, Any]:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    return dict(RSAAlgorithm.to_jwk(weak.public_key(), as_dict=True))


@pytest.mark.parametrize(
    ("jwk", "why"),
    [
        # A private key in the header: the client leaked it, and the proof proves nothing.
        (_private_jwk(), "private"),
        # A shared secret: anyone who sees the proof can sign more.
        ({"kty": "oct", "k": b64(b"k" * 32)}, "symmetric"),
        # A key set: the proof must name one key.
        ({"keys": [KEY.public_jwk]}, "key set"),
        ({"keys": []}, "no key"),
        ({**KEY.public_jwk, "use": "enc"}, "no key"),
        ({**KEY.public_jwk, "key_ops": ["encrypt"]}, "no key"),
        ({**KEY.public_jwk, "alg": "RS256"}, "declares alg"),
        ({**KEY.public_jwk, "crv": "secp256k1"}, "no key"),
        ({"kty": "XYZ"}, "no key"),
        ({**KEY.public_jwk, "x": b64(b"\x00" * 32)}, "cannot be loaded"),
        (_weak_rsa_jwk(), "1024-bit"),
    ],
)
def test_verify_proof_refuses_a_jwk_that_is_not_one_strong_public_key(jwk: dict[str, Any], why: str) -> None:
    error = refused(make(headers={"jwk": jwk}))
    assert "jwk" in error.reason and why in error.reason
    assert dpop._proof_keys == {}


# -- 6. thumbprint --------------------------------------------------------------------------


def test_verify_proof_refuses_a_proof_by_a_key_other_than_the_tokens() -> None:
    # A stolen token used with the thief's own key: its thumbprint is not the token's cnf.jkt.
    assert "cnf jkt" in refused(make(OTHER), key=KEY).reason


def test_verify_proof_compares_the_thumbprint_with_a_jkt_of_any_text() -> None:
    with pytest.raises(InvalidDPoPProof, match="cnf jkt"):
        verify_proof(make(), access_token=TOKEN, method="GET", url=URL, jkt="jkt-\udc80-ö",
                     algorithms=ALGORITHMS, settings=get_settings(), now=NOW)


# -- 7. signature ---------------------------------------------------------------------------


def test_verify_proof_refuses_a_proof_signed_by_another_key_than_its_jwk() -> None:
    # The attacker copies the victim's public key into a proof it signs itself.
    assert "signature" in refused(make(OTHER, headers={"jwk": KEY.public_jwk}), key=KEY).reason


def test_verify_proof_refuses_a_proof_whose_claims_were_changed() -> None:
    original, changed = make(method="GET"), make(method="DELETE")
    tampered = ".".join([original.split(".")[0], changed.split(".")[1], original.split(".")[2]])
    assert "signature" in refused(tampered, method="DELETE").reason


def test_verify_proof_refuses_an_algorithm_the_key_cannot_verify() -> None:
    # ES384 claimed for a P-256 key: the key decides which algorithm it verifies.
    header = {"typ": "dpop+jwt", "alg": "ES384", "jwk": KEY.public_jwk}
    assert "cannot verify ES384" in refused(forge(header, signature=b"\x01" * 96)).reason


# -- 8. claims ------------------------------------------------------------------------------


@pytest.mark.parametrize("payload", [b"not json", b"[1, 2]", b'{"jti": "a", "jti": "b"}', b'{"iat": NaN}'])
def test_verify_proof_refuses_a_payload_that_is_not_a_strict_json_object(payload: bytes) -> None:
    proof = jwt.api_jws.encode(payload, KEY.private_key, algorithm="ES256",
                               headers={"typ": "dpop+jwt", "jwk": KEY.public_jwk})
    assert "proof payload" in refused(proof).reason


@pytest.mark.parametrize("jti", [None, "", 5, ["a"], "x" * 257])
def test_verify_proof_refuses_a_missing_or_unusable_jti(jti: Any) -> None:
    # Without a usable jti a proof could not be recorded, so it could be replayed.
    assert "jti" in refused(make(claims={"jti": jti})).reason


def test_verify_proof_accepts_a_jti_of_256_characters() -> None:
    assert verify(make(jti="x" * 256)).jti == "x" * 256


@pytest.mark.parametrize(("htm", "method"), [("POST", "GET"), ("GET", "DELETE"), ("get", "GET"), ("GET ", "GET")])
def test_verify_proof_refuses_a_proof_made_for_another_method(htm: str, method: str) -> None:
    # A proof captured on a GET must not authorise a DELETE.
    error = refused(make(method=htm), method=method)
    assert "htm" in error.reason
    assert error.description == "The DPoP proof was made for another request."


@pytest.mark.parametrize("htm", [None, 1, ["GET"]])
def test_verify_proof_refuses_a_missing_or_non_string_htm(htm: Any) -> None:
    assert "htm" in refused(make(claims={"htm": htm})).reason


@pytest.mark.parametrize(
    "htu",
    [
        "https://api.example.test/files/other.pdf",
        "https://api.example.test/files/",
        "https://other.example.test/files/report.pdf",
        "https://api.example.test.attacker.example/files/report.pdf",
        "https://api.example.test:8443/files/report.pdf",
        "http://api.example.test/files/report.pdf",
        "https://api.example.test/FILES/report.pdf",
    ],
)
def test_verify_proof_refuses_a_proof_made_for_another_url(htu: str) -> None:
    # A proof captured at another resource, host, port or scheme must not work here.
    error = refused(make(url=htu))
    assert "htu" in error.reason
    assert error.description == "The DPoP proof was made for another request."


@pytest.mark.parametrize(
    "htu",
    [
        URL + "?download=1",
        URL + "?",
        URL + "#part",
        None,
        42,
        "not a url",
        "ftp://api.example.test/files/report.pdf",
        "https://user@api.example.test/files/report.pdf",
    ],
)
def test_verify_proof_refuses_an_htu_with_query_or_fragment_or_unusable(htu: Any) -> None:
    assert "htu" in refused(make(claims={"htu": htu})).reason


@pytest.mark.parametrize(
    ("htu", "url"),
    [
        # The request's query and fragment are ignored (§4.3 (9)).
        (URL, URL + "?download=1&x=%20"),
        # The same URL, spelled differently.
        ("HTTPS://API.example.test:443/files/%72eport.pdf", URL),
        ("https://api.example.test/files/./report.pdf", "https://api.example.test:443/files/report.pdf?a"),
        ("http://127.0.0.1:8000/files/a", "http://127.0.0.1:8000/files/a"),
    ],
)
def test_verify_proof_accepts_an_htu_equal_to_the_request_url_after_normalisation(htu: str, url: str) -> None:
    assert verify(make(url=htu), url=url).jkt == KEY.jkt


def test_verify_proof_refuses_when_the_request_url_is_unusable() -> None:
    assert "unusable" in refused(make(), url="/files/report.pdf").reason


@pytest.mark.parametrize("iat", [NOW, NOW - 90, NOW + 30, NOW - 0.5, int(NOW) + 1])
def test_verify_proof_accepts_an_iat_within_max_age_and_leeway(iat: float) -> None:
    assert verify(make(iat=iat)).iat == float(iat)


@pytest.mark.parametrize(("iat", "description"), [
    # A proof made long ago (captured, or made in advance by a compromised client).
    (NOW - 91, "The DPoP proof is too old."),
    (0, "The DPoP proof is too old."),
    # A proof dated ahead would stay usable long after it was made.
    (NOW + 31, "The DPoP proof was made in the future."),
    (10**30, "The DPoP proof was made in the future."),
])
def test_verify_proof_refuses_a_stale_or_future_iat(iat: float, description: str) -> None:
    error = refused(make(iat=iat))
    assert "iat" in error.reason
    assert error.description == description


@pytest.mark.parametrize(("iat", "accepted"), [(NOW - 10, True), (NOW - 11, False), (NOW, True), (NOW + 1, False)])
def test_verify_proof_window_follows_dpop_proof_max_age_and_leeway(iat: float, accepted: bool) -> None:
    settings = guard(DPOP_PROOF_MAX_AGE=10, LEEWAY=0)
    if accepted:
        assert verify(make(iat=iat), settings=settings).iat == iat
    else:
        assert "iat" in refused(make(iat=iat), settings=settings).reason


@pytest.mark.parametrize("iat", [None, str(int(NOW)), True, [NOW], {"t": NOW}])
def test_verify_proof_refuses_an_iat_that_is_not_a_number(iat: Any) -> None:
    assert "'iat' must be a number" in refused(make(claims={"iat": iat})).reason


def test_verify_proof_refuses_a_proof_without_ath() -> None:
    # A proof without ath is a token-endpoint proof: it must not go with any access token.
    error = refused(make(claims={"ath": None}))
    assert "ath" in error.reason
    assert error.description == "The DPoP proof was made for another access token."


def test_verify_proof_refuses_a_proof_made_for_another_access_token() -> None:
    # The client key holder's proof for token A must not make a stolen token B usable.
    assert "ath" in refused(make(access_token=TOKEN + "x")).reason


@pytest.mark.parametrize("ath", [5, access_token_hash(TOKEN) + "=", access_token_hash(TOKEN).upper()])
def test_verify_proof_refuses_an_ath_of_another_form(ath: Any) -> None:
    assert "ath" in refused(make(claims={"ath": ath})).reason


def test_verify_proof_refuses_an_access_token_that_is_not_ascii() -> None:
    assert "ath" in refused(make(claims={"ath": "x"}), access_token="tökén").reason


# -- 9. nonce -------------------------------------------------------------------------------


def test_verify_proof_asks_for_a_nonce_when_nonces_are_required() -> None:
    with pytest.raises(UseDPoPNonce) as info:
        verify(make(), settings=guard(DPOP_NONCE=True))
    assert (info.value.error, info.value.status_code) == ("use_dpop_nonce", 401)
    assert info.value.nonce == current_nonce(NOW, 300)
    assert info.value.reason == "no nonce in the proof"
    assert isinstance(info.value, InvalidDPoPProof)


def test_verify_proof_records_nothing_before_asking_for_a_nonce() -> None:
    settings = guard(DPOP_NONCE=True)
    with pytest.raises(UseDPoPNonce) as info:
        verify(make(jti="retry"), settings=settings)
    # The client retries with the nonce; its jti was not spent by the refused attempt.
    assert verify(make(jti="retry", nonce=info.value.nonce), settings=settings).jti == "retry"


def test_verify_proof_accepts_the_current_nonce() -> None:
    proof = verify(make(nonce=current_nonce(NOW, 300)), settings=guard(DPOP_NONCE=True))
    assert proof.nonce_is_stale is False


def test_verify_proof_accepts_the_previous_nonce_as_stale() -> None:
    # Issued just before the period ended: still valid, and the response hands out a fresh one.
    proof = verify(make(nonce=current_nonce(NOW - 300, 300)), settings=guard(DPOP_NONCE=True))
    assert proof.nonce_is_stale is True


def test_verify_proof_follows_dpop_nonce_lifetime() -> None:
    settings = guard(DPOP_NONCE=True, DPOP_NONCE_LIFETIME=60)
    assert verify(make(nonce=current_nonce(NOW - 60, 60)), settings=settings).nonce_is_stale is True
    with pytest.raises(UseDPoPNonce):
        verify(make(nonce=current_nonce(NOW - 120, 60)), settings=settings)


def _other_secret_nonce() -> str:
    with override_settings(SECRET_KEY="another-deployment-not-secret"):
        return current_nonce(NOW, 300)


def _altered_mac() -> str:
    nonce = current_nonce(NOW, 300)
    return nonce[:-1] + ("A" if nonce[-1] != "A" else "B")


@pytest.mark.parametrize(
    "nonce",
    [
        # Rotated out: two periods old, or not issued yet.
        current_nonce(NOW - 600, 300),
        current_nonce(NOW + 300, 300),
        # Forged: garbage, the right shape with a wrong MAC, another deployment's SECRET_KEY.
        "garbage",
        "A" * 32,
        _altered_mac(),
        _other_secret_nonce(),
        5,
        [current_nonce(NOW, 300)],
    ],
)
def test_verify_proof_refuses_a_nonce_that_is_not_a_current_server_nonce(nonce: Any) -> None:
    with pytest.raises(UseDPoPNonce) as info:
        verify(make(claims={"nonce": nonce}), settings=guard(DPOP_NONCE=True))
    assert info.value.nonce == current_nonce(NOW, 300)
    assert "not a current server nonce" in info.value.reason


def test_verify_proof_ignores_the_nonce_when_nonces_are_not_required() -> None:
    assert verify(make(nonce="anything")).nonce_is_stale is False


def test_current_nonce_changes_at_the_period_boundary() -> None:
    start = 6_000_000 * 300.0
    assert current_nonce(start, 300) == current_nonce(start + 299.9, 300) != current_nonce(start + 300, 300)


@pytest.mark.parametrize(("offset", "age"), [(0, 0), (299, 0), (300, 1), (599, 1), (600, None), (-1, None)])
def test_nonce_age_counts_periods_since_the_nonce_was_issued(offset: float, age: int | None) -> None:
    start = 6_000_000 * 300.0
    assert nonce_age(current_nonce(start, 300), start + offset, 300) == age


@pytest.mark.parametrize(
    "nonce",
    [None, 5, b"A" * 32, "", "A" * 31, "A" * 33, "A" * 30 + "==", "+" * 32, "A" * 31 + "\n"],
)
def test_nonce_age_refuses_what_is_not_a_nonce(nonce: object) -> None:
    assert nonce_age(nonce, NOW, 300) is None


def test_nonce_age_refuses_a_nonce_of_another_secret_key() -> None:
    nonce = current_nonce(NOW, 300)
    with override_settings(SECRET_KEY="another-deployment-not-secret"):
        assert nonce_age(nonce, NOW, 300) is None
    assert nonce_age(nonce, NOW, 300) == 0


# -- 10. replay -----------------------------------------------------------------------------


def test_verify_proof_refuses_a_replayed_proof() -> None:
    # A proof captured in transit (or from a log) and sent again.
    proof = make()
    verify(proof)
    error = refused(proof)
    assert "already used" in error.reason
    assert error.description == "The DPoP proof was already used."


def test_verify_proof_refuses_a_new_proof_that_reuses_a_jti() -> None:
    verify(make(jti="once", iat=NOW - 5))
    assert "already used" in refused(make(jti="once")).reason


def test_verify_proof_records_the_jti_in_the_shared_cache() -> None:
    verify(make(jti="shared"))
    # Another worker or host sharing the cache sees the entry.
    assert caches["default"].get(replay_key(KEY.jkt, "shared")) == 1


def test_verify_proof_keeps_one_clients_jti_apart_from_anothers() -> None:
    # A jti is spent per key: one client cannot spend (block) the jti values of another.
    verify(make(OTHER, jti="same"), key=OTHER)
    assert verify(make(KEY, jti="same")).jti == "same"


def test_verify_proof_does_not_spend_the_jti_of_a_refused_proof() -> None:
    refused(make(method="POST", jti="first"))
    assert verify(make(jti="first")).jti == "first"


@pytest.mark.parametrize(("max_age", "leeway", "timeout"), [(60, 30, 121), (1, 0, 2), (3600, 600, 4801), (7, 1, 10)])
def test_verify_proof_keeps_the_jti_until_the_proof_is_refused_as_stale(max_age: int, leeway: int,
                                                                        timeout: int) -> None:
    settings = guard(DPOP_PROOF_MAX_AGE=max_age, LEEWAY=leeway, CACHE_ALIAS="recording")
    # The proof that stays acceptable longest: dated as far ahead as the leeway allows.
    proof = make(jti="late", iat=NOW + leeway)
    key = replay_key(KEY.jkt, "late")
    with override_settings(CACHES=RECORDING_CACHES):
        verify(proof, settings=settings)
        assert RecordingCache.timeouts[key] == timeout
        # Its last acceptable instant, while the entry is still in the cache: a replay.
        last = NOW + leeway + max_age + leeway
        assert last < NOW + timeout
        assert "already used" in refused(proof, settings=settings, now=last).reason
        # Once the entry has expired from the cache, the proof is too old anyway.
        caches["recording"].delete(key)
        assert "iat" in refused(proof, settings=settings, now=NOW + timeout).reason


def test_verify_proof_fails_closed_when_the_cache_is_unreachable(caplog: pytest.LogCaptureFixture) -> None:
    # Without the replay store a captured proof could be replayed: refuse, and say why in the log,
    # once for the outage rather than once per proof.
    settings = guard(CACHE_ALIAS="broken")
    with override_settings(CACHES=BROKEN_CACHES), caplog.at_level(logging.WARNING, "django_bearer_guard"):
        error = refused(make(), settings=settings)
        again = refused(make(), settings=settings)
    assert "replay store" in error.reason and "replay store" in again.reason
    assert error.description == "The DPoP proof is invalid."
    [warning] = [r.getMessage() for r in caplog.records if "'broken'" in r.getMessage()]
    assert "ConnectionError" in warning and "DPoP proofs are refused" in warning


def test_verify_proof_fails_closed_when_the_cache_alias_is_not_configured(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, "django_bearer_guard"):
        assert "replay store" in refused(make(), settings=guard(CACHE_ALIAS="missing")).reason
    assert any("'missing'" in r.getMessage() for r in caplog.records)


# -- the key memo ---------------------------------------------------------------------------


def test_verify_proof_parses_a_clients_key_once() -> None:
    verify(make())
    [(parsed, thumbprint)] = dpop._proof_keys.values()
    # The same key with its members in another order is the same entry.
    reordered = dict(reversed(list(KEY.public_jwk.items())))
    verify(make(headers={"jwk": reordered}))
    assert list(dpop._proof_keys.values()) == [(parsed, thumbprint)]
    assert thumbprint == KEY.jkt


def test_verify_proof_checks_a_memoised_key_against_each_tokens_jkt() -> None:
    verify(make())
    assert "cnf jkt" in refused(make(), key=OTHER).reason


def test_verify_proof_key_memo_is_cleared_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dpop, "_KEY_MEMO_SIZE", 2)
    keys = [KEY, OTHER, DPoPKey()]
    for key in keys:
        verify(make(key), key=key)
    assert [thumbprint for _, thumbprint in dpop._proof_keys.values()] == [keys[2].jkt]


def test_verify_proof_does_not_memoise_a_long_jwk() -> None:
    # Members beyond the thumbprint's leave the key the same, and cannot fill the memo.
    jwk = {**KEY.public_jwk, "padding": "p" * 3000}
    assert verify(make(headers={"jwk": jwk})).jkt == KEY.jkt
    assert dpop._proof_keys == {}


# -- normalize_htu --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("https://api.example.test/files", "https://api.example.test/files"),
        # Scheme and host are case-insensitive, the path is not.
        ("HTTPS://API.Example.TEST/Files", "https://api.example.test/Files"),
        ("Http://api.example.test/a", "http://api.example.test/a"),
        # An empty path is "/" (RFC 3986 §6.2.3).
        ("https://api.example.test", "https://api.example.test/"),
        ("https://api.example.test?q", "https://api.example.test/"),
        # The scheme's default port is dropped, other ports kept.
        ("https://api.example.test:443/a", "https://api.example.test/a"),
        ("http://api.example.test:80/a", "http://api.example.test/a"),
        ("https://api.example.test:/a", "https://api.example.test/a"),
        ("https://api.example.test:00443/a", "https://api.example.test/a"),
        ("http://api.example.test:443/a", "http://api.example.test:443/a"),
        ("https://api.example.test:80/a", "https://api.example.test:80/a"),
        ("https://api.example.test:08443/a", "https://api.example.test:8443/a"),
        # Query and fragment are dropped.
        ("https://api.example.test/a?b=c#d", "https://api.example.test/a"),
        ("https://api.example.test/a#d?e", "https://api.example.test/a"),
        # Percent-encoding (RFC 3986 §6.2.2.1-2): unreserved decoded, the rest in upper-case hex.
        ("https://api.example.test/%7Euser/%61%2d%5F%2E", "https://api.example.test/~user/a-_."),
        ("https://api.example.test/a%2fb%3f%c3%a9", "https://api.example.test/a%2Fb%3F%C3%A9"),
        ("https://api.example.test/a%25b", "https://api.example.test/a%25b"),
        # Dot segments (RFC 3986 §5.2.4), also when percent-encoded.
        ("https://api.example.test/a/./b/../c", "https://api.example.test/a/c"),
        ("https://api.example.test/a/b/c/./../../g", "https://api.example.test/a/g"),
        ("https://api.example.test/a/%2E%2E/b", "https://api.example.test/b"),
        ("https://api.example.test/../../a", "https://api.example.test/a"),
        ("https://api.example.test/a/b/..", "https://api.example.test/a/"),
        ("https://api.example.test/a/.", "https://api.example.test/a/"),
        ("https://api.example.test/.", "https://api.example.test/"),
        ("https://api.example.test/a/..b/.c", "https://api.example.test/a/..b/.c"),
        ("https://api.example.test/a//b/", "https://api.example.test/a//b/"),
        ("https://api.example.test/a//../b", "https://api.example.test/a/b"),
        # IP literals; IPv6 in its compressed, lower-case form.
        ("https://[2001:DB8:0:0::1]:443/a", "https://[2001:db8::1]/a"),
        ("http://[::1]:8000/", "http://[::1]:8000/"),
        ("http://127.0.0.1:8000/a", "http://127.0.0.1:8000/a"),
        ("https://api.example.test/a:b@c;d=e!$&'()*+,", "https://api.example.test/a:b@c;d=e!$&'()*+,"),
    ],
)
def test_normalize_htu(url: str, normal: str) -> None:
    assert normalize_htu(url) == normal
    assert normalize_htu(normal) == normal


@pytest.mark.parametrize(
    "url",
    [
        "",
        "/files/report.pdf",
        "api.example.test/a",
        "//api.example.test/a",
        "https:/api.example.test/a",
        "https:api.example.test",
        "https://",
        "https:///a",
        "1https://api.example.test/",
        # Only http and https.
        "ftp://api.example.test/",
        "javascript://api.example.test/%0Aalert(1)",
        "wss://api.example.test/",
        # User information: one URL, two spellings.
        "https://user@api.example.test/",
        "https://user:pw@api.example.test/",
        "https://@api.example.test/",
        # Ports.
        "https://api.example.test:0/",
        "https://api.example.test:65536/",
        "https://api.example.test:123456/",
        "https://api.example.test:x/",
        "https://api.example.test:443:443/",
        # Hosts.
        "https://%61pi.example.test/",
        "https://api.example!test/",
        "https://[v1.x]/",
        "https://[1.2.3.4]/",
        "https://[::1/",
        "https://[::1]x/",
        "https://[fe80::1%25eth0]/",
        "https://[12345::]/",
        # Not URI characters.
        "https://exa mple.test/",
        "https://api.example.test/a b",
        "https://api.example.test/a\n",
        "https://api.example.test/a\x00",
        "https://bücher.example/",
        "https://api.example.test/é",
        "https://api.example.test/a\\b",
        "https://api.example.test/<a>",
        # Malformed percent-encoding.
        "https://api.example.test/%zz",
        "https://api.example.test/%4",
        "https://api.example.test/%",
    ],
)
def test_normalize_htu_refuses_an_unusable_url(url: str) -> None:
    with pytest.raises(ValueError):
        normalize_htu(url)


@pytest.mark.parametrize("alg", ["ES256", "RS256", "EdDSA"])
def test_dpop_key_made_from_a_kept_private_key_has_that_keys_thumbprint(alg: str) -> None:
    kept = DPoPKey(alg)
    again = DPoPKey(alg, private_key=kept.private_key)
    assert (again.jkt, again.public_jwk) == (kept.jkt, kept.public_jwk)
