"""One test per token rule, named after the attack it stops. Every one must answer 401."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.test import Client

from django_bearer_guard.testing import Clock, LocalIssuer, generate_key
from tests.support.client import assert_refused, bearer
from tests.support.keys import pooled_key


def b64(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def forge(header: dict[str, Any] | str, claims: dict[str, Any] | str, signature: bytes = b"") -> str:
    head = header if isinstance(header, str) else json.dumps(header)
    body = claims if isinstance(claims, str) else json.dumps(claims)
    return f"{b64(head)}.{b64(body)}.{b64(signature)}"


def claims_for(idp: LocalIssuer, **extra: Any) -> dict[str, Any]:
    return {"iss": idp.issuer, "aud": idp.audience, "sub": "attacker", "exp": 4_000_000_000, "iat": 1, **extra}


def refused(client: Client, token: str) -> bool:
    response = client.get("/whoami/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code in (400, 401), response.status_code
    if response.status_code == 401:
        assert 'error="invalid_token"' in response["WWW-Authenticate"]
    return True


@pytest.fixture(autouse=True)
def _trusted(guard: Any) -> None:
    """Every attack runs against a correctly configured, trusting API."""


def test_sanity_the_legitimate_token_is_accepted(client: Client, idp: LocalIssuer) -> None:
    assert client.get("/whoami/", HTTP_AUTHORIZATION=f"Bearer {idp.mint()}").status_code == 200


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE", "none ", ""])
@pytest.mark.parametrize("signature", [b"", b"x"])
def test_alg_none_is_refused_in_every_spelling(client: Client, idp: LocalIssuer, alg: str, signature: bytes) -> None:
    assert refused(client, forge({"alg": alg, "kid": idp.signing_key().kid}, claims_for(idp), signature))


def test_unsigned_token_with_trailing_dot_is_refused(client: Client, idp: LocalIssuer) -> None:
    token = forge({"alg": "RS256", "kid": idp.signing_key().kid}, claims_for(idp))
    assert token.endswith(".")
    assert refused(client, token)


def test_hs256_signed_with_the_rsa_public_key_is_refused(client: Client, idp: LocalIssuer) -> None:
    # Key confusion: the public key PEM (and its JWK form) used as an HMAC secret.
    public = idp.signing_key().private_key.public_key()
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = {"alg": "HS256", "kid": idp.signing_key().kid, "typ": "JWT"}
    for secret in (pem, der, json.dumps(idp.jwks()).encode()):
        signing_input = f"{b64(json.dumps(header))}.{b64(json.dumps(claims_for(idp)))}".encode()
        mac = jwt.algorithms.HMACAlgorithm(jwt.algorithms.HMACAlgorithm.SHA256).sign(signing_input, secret)
        assert refused(client, signing_input.decode() + "." + b64(mac))


def test_hs256_refused_even_when_issuer_lists_it_next_to_jwks(
    client: Client, idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    # The configuration is refused (E006) and the issuer fails closed.
    guard(issuers=[idp.issuer_settings(algorithms=["RS256", "HS256"])])
    pem = idp.signing_key().private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    mac = jwt.algorithms.HMACAlgorithm(jwt.algorithms.HMACAlgorithm.SHA256)
    header = {"alg": "HS256", "kid": idp.signing_key().kid}
    signing_input = f"{b64(json.dumps(header))}.{b64(json.dumps(claims_for(idp)))}".encode()
    assert refused(client, signing_input.decode() + "." + b64(mac.sign(signing_input, pem)))
    assert idp.fetches() == 0


def test_algorithm_substitution_to_one_not_allowed_is_refused(client: Client, idp: LocalIssuer) -> None:
    # Same RSA key, but PS256 is not in the issuer's allowlist.
    key = idp.signing_key()
    token = jwt.encode(claims_for(idp), key.private_key, algorithm="PS256", headers={"kid": key.kid})
    assert refused(client, token)


@pytest.mark.parametrize("member", ["jku", "x5u"])
def test_attacker_key_url_header_is_refused_and_never_fetched(
    client: Client, idp: LocalIssuer, make_idp: Callable[..., LocalIssuer], member: str
) -> None:
    attacker = make_idp(keys=[generate_key("RS256", kid="evil")])
    url = attacker.url + attacker.jwks_path
    token = attacker.mint(key=attacker.signing_key(), headers={member: url}, iss=idp.issuer, aud=idp.audience)
    assert refused(client, token)
    assert attacker.fetches() == 0


def test_embedded_jwk_header_is_refused(client: Client, idp: LocalIssuer) -> None:
    evil = generate_key("RS256", kid=idp.signing_key().kid)
    token = jwt.encode(claims_for(idp), evil.private_key, algorithm="RS256",
                       headers={"kid": evil.kid, "jwk": evil.public_jwk()})
    assert refused(client, token)


def test_embedded_x5c_header_is_refused(client: Client, idp: LocalIssuer) -> None:
    key = idp.signing_key()
    token = jwt.encode(claims_for(idp), key.private_key, algorithm="RS256", headers={"kid": key.kid, "x5c": ["MIIB"]})
    assert refused(client, token)


def test_token_signed_by_an_unknown_key_with_a_known_kid_is_refused(client: Client, idp: LocalIssuer) -> None:
    evil = generate_key("RS256", kid=idp.signing_key().kid)
    assert refused(client, idp.mint(key=evil))


@pytest.mark.parametrize(
    "kid",
    ["../../../../dev/null", "' OR '1'='1", "http://127.0.0.1:1/jwks.json", "\u0000", "k" * 256, "*", "",
     "rs256-pool-0\u200b", "{\"$ne\": null}"],
)
def test_kid_injection_strings_find_no_key_and_fetch_nothing_extra(
    client: Client, idp: LocalIssuer, kid: str, clock: Clock
) -> None:
    client.get("/whoami/", HTTP_AUTHORIZATION=f"Bearer {idp.mint()}")
    assert idp.fetches() == 1
    assert refused(client, idp.mint(headers={"kid": kid}))
    assert idp.fetches() == 1


def test_key_of_another_trusted_issuer_is_not_accepted(
    client: Client, idp: LocalIssuer, make_idp: Callable[..., LocalIssuer], guard: Callable[..., None]
) -> None:
    other = make_idp(keys=[pooled_key("RS256", 1)])
    guard(issuers=[idp.issuer_settings(), other.issuer_settings()])
    token = other.mint(iss=idp.issuer, aud=idp.audience)
    assert refused(client, token)


def test_expired_token_is_refused(client: Client, idp: LocalIssuer, clock: Clock) -> None:
    token = idp.mint(lifetime=60)
    clock.advance(60 + 30)
    assert refused(client, token)


def test_token_without_exp_is_refused(client: Client, idp: LocalIssuer) -> None:
    assert refused(client, idp.mint(exp=None))


def test_numeric_string_exp_is_refused(client: Client, idp: LocalIssuer) -> None:
    assert refused(client, idp.mint(exp="4000000000"))


@pytest.mark.parametrize("aud", ["https://other.example", ["https://other.example"], None, "", [], "HTTPS://API.EXAMPLE.TEST"])
def test_wrong_or_missing_audience_is_refused(client: Client, idp: LocalIssuer, aud: Any) -> None:
    assert refused(client, idp.mint(aud=aud) if aud is not None else idp.mint(aud=None))


@pytest.mark.parametrize("iss_suffix", ["x", "/", " ", "\u0000"])
def test_issuer_lookalike_is_untrusted(client: Client, idp: LocalIssuer, iss_suffix: str) -> None:
    assert refused(client, idp.mint(iss=idp.issuer + iss_suffix))


def test_missing_or_non_string_issuer_is_refused(client: Client, idp: LocalIssuer) -> None:
    assert refused(client, idp.mint(iss=None))
    assert refused(client, idp.mint(iss=["a"]))


def test_untrusted_issuer_with_its_own_keys_is_refused(
    client: Client, make_idp: Callable[..., LocalIssuer]
) -> None:
    rogue = make_idp(keys=[pooled_key("ES256")], algorithms=("ES256",))
    assert refused(client, rogue.mint())
    assert rogue.fetches() == 0


def test_future_nbf_is_refused(client: Client, idp: LocalIssuer, clock: Clock) -> None:
    assert refused(client, idp.mint(nbf=clock.now + 120))


def test_future_iat_is_refused(client: Client, idp: LocalIssuer, clock: Clock) -> None:
    assert refused(client, idp.mint(iat=clock.now + 120))


def test_duplicate_header_members_are_refused(client: Client, idp: LocalIssuer) -> None:
    token = idp.mint()
    _, payload, signature = token.split(".")
    kid = idp.signing_key().kid
    header = b64(f'{{"alg":"RS256","kid":"{kid}","alg":"none"}}')
    assert refused(client, f"{header}.{payload}.{signature}")


def test_duplicate_claim_members_are_refused(client: Client, idp: LocalIssuer) -> None:
    key = idp.signing_key()
    body = json.dumps(claims_for(idp))[:-1] + ', "sub": "admin"}'
    token = jwt.api_jws.encode(body.encode(), key.private_key, algorithm="RS256", headers={"kid": key.kid})
    assert refused(client, token)


def test_stripped_signature_is_refused(client: Client, idp: LocalIssuer) -> None:
    head, payload, _ = idp.mint().split(".")
    assert refused(client, f"{head}.{payload}.")
    assert refused(client, f"{head}.{payload}")


def test_truncated_signature_is_refused(client: Client, idp: LocalIssuer) -> None:
    token = idp.mint()
    assert refused(client, token[:-4])
    assert refused(client, token[:-1] + ("A" if token[-1] != "A" else "Q"))


def test_psychic_ecdsa_signature_of_zeros_is_refused(
    client: Client, make_idp: Callable[..., LocalIssuer], guard: Callable[..., None]
) -> None:
    # CVE-2022-21449: r = s = 0 must never verify.
    idp = make_idp(("ES256",))
    guard(issuers=[idp.issuer_settings()])
    head, payload, _ = idp.mint().split(".")
    assert refused(client, f"{head}.{payload}.{b64(bytes(64))}")


def test_critical_header_is_refused(client: Client, idp: LocalIssuer) -> None:
    assert refused(client, idp.mint(headers={"crit": ["exp"]}))


def test_unencoded_payload_option_is_refused(client: Client, idp: LocalIssuer) -> None:
    assert refused(client, idp.mint(headers={"b64": False, "crit": ["b64"]}))


def test_nested_token_is_refused(client: Client, idp: LocalIssuer) -> None:
    assert refused(client, idp.mint(headers={"cty": "JWT"}))


def test_encrypted_token_shape_is_refused(client: Client, idp: LocalIssuer) -> None:
    assert refused(client, "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d")


def test_oversized_token_is_refused_before_decoding(client: Client, idp: LocalIssuer) -> None:
    assert refused(client, idp.mint(padding="A" * 9000))


def test_id_token_is_refused_where_access_tokens_are_typed(
    client: Client, idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    # RFC 9068 §5 / RFC 8725 §3.11: an ID token (typ JWT) is not an access token.
    guard(issuers=[idp.issuer_settings(required_typ="at+jwt")])
    assert refused(client, idp.mint(headers={"typ": "JWT"}, nonce="n", azp="client"))


def test_non_canonical_base64_signature_is_refused(client: Client, idp: LocalIssuer) -> None:
    head, payload, signature = idp.mint().split(".")
    assert refused(client, f"{head}.{payload}.{signature}==")
    assert refused(client, f"{head}.{payload}.{signature.replace('-', '+').replace('_', '/')}x")


def test_required_claim_present_but_empty_is_refused(
    client: Client, idp: LocalIssuer, guard: Callable[..., None]
) -> None:
    guard(issuers=[idp.issuer_settings(required_claims=["sub", "client_id"])])
    assert refused(client, idp.mint(client_id=""))
    assert refused(client, idp.mint(sub=""))


def test_ec_key_never_verifies_rs256_labelled_token(
    client: Client, make_idp: Callable[..., LocalIssuer], guard: Callable[..., None]
) -> None:
    idp = make_idp(("ES256",))
    guard(issuers=[idp.issuer_settings(algorithms=["ES256", "RS256"])])
    key = ec.generate_private_key(ec.SECP256R1())
    forged = jwt.encode({"iss": idp.issuer}, key, algorithm="ES256", headers={"kid": idp.signing_key().kid})
    assert_refused(bearer(client, forged), 401, "invalid_token")
