"""Which algorithm needs which kind of key, and the PyJWT objects that verify them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jwt.algorithms import ECAlgorithm, HMACAlgorithm, OKPAlgorithm, RSAAlgorithm, RSAPSSAlgorithm

__all__ = ["ALGORITHMS", "AlgorithmSpec", "spec_for"]


@dataclass(frozen=True)
class AlgorithmSpec:
    """A JWS signature algorithm: the key it needs and the object that verifies with it."""

    name: str
    kty: str
    curves: frozenset[str]
    verifier: Any
    min_secret_bytes: int = 0

    def verify(self, signing_input: bytes, key: Any, signature: bytes) -> bool:
        """True when ``signature`` over ``signing_input`` verifies with ``key``."""
        return bool(self.verifier.verify(signing_input, key, signature))


def _specs() -> dict[str, AlgorithmSpec]:
    specs = [
        AlgorithmSpec("RS256", "RSA", frozenset(), RSAAlgorithm(RSAAlgorithm.SHA256)),
        AlgorithmSpec("RS384", "RSA", frozenset(), RSAAlgorithm(RSAAlgorithm.SHA384)),
        AlgorithmSpec("RS512", "RSA", frozenset(), RSAAlgorithm(RSAAlgorithm.SHA512)),
        AlgorithmSpec("PS256", "RSA", frozenset(), RSAPSSAlgorithm(RSAPSSAlgorithm.SHA256)),
        AlgorithmSpec("PS384", "RSA", frozenset(), RSAPSSAlgorithm(RSAPSSAlgorithm.SHA384)),
        AlgorithmSpec("PS512", "RSA", frozenset(), RSAPSSAlgorithm(RSAPSSAlgorithm.SHA512)),
        AlgorithmSpec("ES256", "EC", frozenset({"P-256"}), ECAlgorithm(ECAlgorithm.SHA256)),
        AlgorithmSpec("ES384", "EC", frozenset({"P-384"}), ECAlgorithm(ECAlgorithm.SHA384)),
        AlgorithmSpec("ES512", "EC", frozenset({"P-521"}), ECAlgorithm(ECAlgorithm.SHA512)),
        AlgorithmSpec("EdDSA", "OKP", frozenset({"Ed25519", "Ed448"}), OKPAlgorithm()),
        # RFC 7518 §3.2: an HMAC key must be at least as long as the hash output.
        AlgorithmSpec("HS256", "oct", frozenset(), HMACAlgorithm(HMACAlgorithm.SHA256), 32),
        AlgorithmSpec("HS384", "oct", frozenset(), HMACAlgorithm(HMACAlgorithm.SHA384), 48),
        AlgorithmSpec("HS512", "oct", frozenset(), HMACAlgorithm(HMACAlgorithm.SHA512), 64),
    ]
    return {spec.name: spec for spec in specs}


ALGORITHMS: dict[str, AlgorithmSpec] = _specs()


def spec_for(alg: str) -> AlgorithmSpec | None:
    """The spec of a supported algorithm, or ``None`` (``none`` and unknown names)."""
    return ALGORITHMS.get(alg)
