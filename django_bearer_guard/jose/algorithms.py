"""Which algorithm needs which kind of key, and how ``cryptography`` verifies it.

Keys are parsed once (by PyJWT's JWK loaders, in the key set); each verification is one call
into ``cryptography`` (HMAC: PyJWT's constant-time comparison) with prebuilt padding objects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from jwt.algorithms import HMACAlgorithm

__all__ = [
    "ALGORITHMS",
    "ASYMMETRIC_ALGORITHMS",
    "HMAC_ALGORITHMS",
    "MIN_SHARED_SECRET_BYTES",
    "SIGNING_CURVES",
    "AlgorithmSpec",
]


Verifier = Callable[[bytes, Any, bytes], bool]


@dataclass(frozen=True)
class AlgorithmSpec:
    """A JWS signature algorithm: the key it needs and the function that verifies with it.

    ``verify(signing_input, key, signature)`` is true when the signature verifies.
    """

    name: str
    kty: str
    curves: frozenset[str]
    verify: Verifier
    min_secret_bytes: int = 0


def _rsa(pad: padding.AsymmetricPadding, digest: hashes.HashAlgorithm) -> Verifier:
    # The padding and hash objects are immutable, so one of each serves every call.
    def verify(signing_input: bytes, key: Any, signature: bytes) -> bool:
        try:
            key.verify(signature, signing_input, pad, digest)
        except InvalidSignature:
            return False
        return True

    return verify


def _pss(digest: hashes.HashAlgorithm) -> Verifier:
    # RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash output.
    return _rsa(padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size), digest)


def _ecdsa(digest: hashes.HashAlgorithm, size: int) -> Verifier:
    scheme = ec.ECDSA(digest)

    def verify(signing_input: bytes, key: Any, signature: bytes) -> bool:
        # RFC 7518 §3.4: the signature is R || S, each exactly the curve's byte length.
        if len(signature) != 2 * size:
            return False
        r = int.from_bytes(signature[:size], "big")
        s = int.from_bytes(signature[size:], "big")
        try:
            key.verify(encode_dss_signature(r, s), signing_input, scheme)
        except InvalidSignature:
            return False
        return True

    return verify


def _eddsa(signing_input: bytes, key: Any, signature: bytes) -> bool:
    try:
        key.verify(signature, signing_input)
    except InvalidSignature:
        return False
    return True


def _hmac(algorithm: HMACAlgorithm) -> Verifier:
    # PyJWT compares in constant time.
    return lambda signing_input, key, signature: bool(algorithm.verify(signing_input, key, signature))


def _specs() -> dict[str, AlgorithmSpec]:
    sha256, sha384, sha512 = hashes.SHA256(), hashes.SHA384(), hashes.SHA512()
    pkcs1 = padding.PKCS1v15()
    specs = [
        AlgorithmSpec("RS256", "RSA", frozenset(), _rsa(pkcs1, sha256)),
        AlgorithmSpec("RS384", "RSA", frozenset(), _rsa(pkcs1, sha384)),
        AlgorithmSpec("RS512", "RSA", frozenset(), _rsa(pkcs1, sha512)),
        AlgorithmSpec("PS256", "RSA", frozenset(), _pss(sha256)),
        AlgorithmSpec("PS384", "RSA", frozenset(), _pss(sha384)),
        AlgorithmSpec("PS512", "RSA", frozenset(), _pss(sha512)),
        AlgorithmSpec("ES256", "EC", frozenset({"P-256"}), _ecdsa(sha256, 32)),
        AlgorithmSpec("ES384", "EC", frozenset({"P-384"}), _ecdsa(sha384, 48)),
        AlgorithmSpec("ES512", "EC", frozenset({"P-521"}), _ecdsa(sha512, 66)),
        AlgorithmSpec("EdDSA", "OKP", frozenset({"Ed25519", "Ed448"}), _eddsa),
        # RFC 7518 §3.2: an HMAC key must be at least as long as the hash output.
        AlgorithmSpec("HS256", "oct", frozenset(), _hmac(HMACAlgorithm(HMACAlgorithm.SHA256)), 32),
        AlgorithmSpec("HS384", "oct", frozenset(), _hmac(HMACAlgorithm(HMACAlgorithm.SHA384)), 48),
        AlgorithmSpec("HS512", "oct", frozenset(), _hmac(HMACAlgorithm(HMACAlgorithm.SHA512)), 64),
    ]
    return {spec.name: spec for spec in specs}


ALGORITHMS: dict[str, AlgorithmSpec] = _specs()
"""Every supported JWS algorithm by name: the one table the sets below are derived from."""
HMAC_ALGORITHMS = frozenset(name for name, spec in ALGORITHMS.items() if spec.kty == "oct")
ASYMMETRIC_ALGORITHMS = frozenset(ALGORITHMS) - HMAC_ALGORITHMS
MIN_SHARED_SECRET_BYTES = min(ALGORITHMS[name].min_secret_bytes for name in HMAC_ALGORITHMS)
"""The shortest secret any HS algorithm accepts (HS256's 32 bytes)."""
SIGNING_CURVES: dict[str, frozenset[str]] = {
    kty: frozenset().union(*(spec.curves for spec in ALGORITHMS.values() if spec.kty == kty))
    for kty in ("EC", "OKP")
}
"""The curves a signing key of each curve-based key type may use."""
