from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from django_bearer_guard.exceptions import (
    DuplicateKeyId,
    InvalidToken,
    KeyMismatch,
    KeySetError,
    MalformedKeySet,
    MixedKeySet,
    NoSigningKeys,
    PrivateKeyMaterial,
    WeakKey,
)
from django_bearer_guard.jose.keyset import KeySet, is_roca_modulus
from tests.support.keys import pooled_key


def rsa_jwk(**extra: Any) -> dict[str, Any]:
    return {**pooled_key("RS256").public_jwk(), **extra}


def oct_jwk(size: int, **extra: Any) -> dict[str, Any]:
    return {"kty": "oct", "k": base64.urlsafe_b64encode(b"k" * size).rstrip(b"=").decode(), **extra}


def test_from_jwks_loads_every_key_type_with_its_algorithms() -> None:
    keys = [pooled_key(alg).public_jwk() for alg in ("RS256", "ES256", "ES384", "EdDSA")]
    for jwk in keys:
        jwk.pop("alg")
    keyset = KeySet.from_jwks({"keys": keys})
    assert len(keyset) == 4
    assert keyset.find(keys[0]["kid"], "PS256") is not None
    assert keyset.find(keys[1]["kid"], "ES256") is not None
    assert keyset.find(keys[1]["kid"], "ES384") is None
    assert keyset.find(keys[2]["kid"], "ES384") is not None
    assert keyset.find(keys[3]["kid"], "EdDSA") is not None
    assert keyset.kids == tuple(k["kid"] for k in keys)


def test_from_jwks_binds_key_to_its_declared_alg() -> None:
    keyset = KeySet.from_jwks({"keys": [rsa_jwk(alg="PS256")]})
    assert keyset.find(rsa_jwk()["kid"], "PS256") is not None
    assert keyset.find(rsa_jwk()["kid"], "RS256") is None


def test_from_jwks_accepts_a_single_jwk() -> None:
    assert len(KeySet.from_jwks(rsa_jwk())) == 1


@pytest.mark.parametrize(
    "jwk",
    [
        rsa_jwk(use="enc"),
        rsa_jwk(key_ops=["encrypt"]),
        rsa_jwk(key_ops=["wrapKey", "decrypt"]),
        rsa_jwk(alg="RSA-OAEP"),
        {**pooled_key("ES256").public_jwk(), "use": "enc"},
        {"kty": "OKP", "crv": "X25519", "x": base64.urlsafe_b64encode(b"x" * 32).rstrip(b"=").decode()},
        {"kty": "EC", "crv": "secp256k1", "x": "AA", "y": "AA"},
        {"kty": "RSA-HSM", "n": "AA"},
    ],
)
def test_from_jwks_leaves_out_keys_not_meant_for_signatures(jwk: dict[str, Any]) -> None:
    with pytest.raises(NoSigningKeys):
        KeySet.from_jwks({"keys": [jwk]})
    assert len(KeySet.from_jwks({"keys": [jwk, pooled_key("ES256").public_jwk()]})) == 1


def test_from_jwks_refuses_short_rsa_key() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(WeakKey):
        KeySet.from_jwks({"keys": [RSAAlgorithm.to_jwk(small.public_key(), as_dict=True)]})


def test_is_roca_modulus_spots_the_fingerprint_and_spares_normal_keys() -> None:
    # 65537^k modulo the primorial of the ROCA primes has the fingerprint by construction.
    primorial = 1
    for p in (3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97,
              101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167):
        primorial *= p
    assert is_roca_modulus(pow(65537, 12345, primorial))
    assert not is_roca_modulus(pooled_key("RS256").private_key.public_key().public_numbers().n)


@pytest.mark.parametrize(
    ("jwks", "error"),
    [
        ([], MalformedKeySet),
        ({"keys": "x"}, MalformedKeySet),
        ({"keys": [1]}, MalformedKeySet),
        ({"keys": [{}]}, MalformedKeySet),
        ({"keys": [rsa_jwk(kid=7)]}, MalformedKeySet),
        ({"keys": [rsa_jwk(key_ops="verify")]}, MalformedKeySet),
        ({"keys": [rsa_jwk(n="!!")]}, MalformedKeySet),
        ({"keys": [rsa_jwk(e="AQ")]}, MalformedKeySet),
        ({"keys": [{**pooled_key("ES256").public_jwk(), "x": "AAAA"}]}, MalformedKeySet),
        ({"keys": [{"kty": "oct"}]}, MalformedKeySet),
        ({"keys": [rsa_jwk()] * 101}, MalformedKeySet),
        ({"keys": [rsa_jwk(alg="ES256")]}, KeyMismatch),
        ({"keys": [{**pooled_key("ES256").public_jwk(), "alg": "ES384"}]}, KeyMismatch),
        ({"keys": [{**pooled_key("ES256").public_jwk(), "alg": "RS256"}]}, KeyMismatch),
        ({"keys": [rsa_jwk(d="AQAB")]}, PrivateKeyMaterial),
        ({"keys": [rsa_jwk(), {**rsa_jwk(), "alg": "RS384"}]}, DuplicateKeyId),
        ({"keys": [rsa_jwk(), oct_jwk(32, kid="h")]}, MixedKeySet),
        ({"keys": [oct_jwk(31)]}, WeakKey),
        ({"keys": [oct_jwk(0)]}, WeakKey),
        ({"keys": [oct_jwk(40, alg="HS384")]}, WeakKey),
    ],
)
def test_from_jwks_refuses_unsafe_sets(jwks: Any, error: type[KeySetError]) -> None:
    with pytest.raises(error):
        KeySet.from_jwks(jwks)


def test_from_jwks_refuses_symmetric_keys_when_not_allowed() -> None:
    with pytest.raises(MixedKeySet):
        KeySet.from_jwks({"keys": [oct_jwk(64)]}, allow_symmetric=False)


def test_from_jwks_limits_hmac_algorithms_to_the_secret_length() -> None:
    keyset = KeySet.from_jwks({"keys": [oct_jwk(48, kid="h")]})
    assert keyset.find("h", "HS384") is not None
    assert keyset.find("h", "HS512") is None


def test_from_jwks_allows_enc_keys_sharing_a_kid_with_nothing() -> None:
    enc = rsa_jwk(use="enc", kid="enc-1")
    keyset = KeySet.from_jwks({"keys": [enc, pooled_key("ES256").public_jwk()]})
    assert keyset.find("enc-1", "RS256") is None


def test_from_jwks_refuses_p256_point_off_curve() -> None:
    jwk = ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()).public_key(), as_dict=True)
    jwk["y"] = jwk["x"]
    with pytest.raises(MalformedKeySet):
        KeySet.from_jwks({"keys": [jwk]})


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


@pytest.mark.parametrize("k", ["a", "abcde", "\u00e9t\u00e9" * 12])
def test_from_jwks_refuses_an_oct_key_whose_k_is_not_base64url(k: str) -> None:
    with pytest.raises(MalformedKeySet, match="invalid 'k'"):
        KeySet.from_jwks({"keys": [{"kty": "oct", "kid": "h", "k": k}]})
