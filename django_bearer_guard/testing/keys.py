"""Key pairs for tests: a private key for each JWS algorithm, and its public JWK.

Shared by :class:`~django_bearer_guard.testing.LocalIssuer` (signing keys) and
:class:`~django_bearer_guard.testing.DPoPKey` (DPoP client keys).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

__all__ = ["SigningKey", "generate_key", "generate_private_key", "public_jwk_of"]

_CURVES: dict[str, Callable[[], ec.EllipticCurve]] = {
    "ES256": ec.SECP256R1,
    "ES384": ec.SECP384R1,
    "ES512": ec.SECP521R1,
}


def generate_private_key(alg: str) -> Any:
    """A fresh private key for ``alg`` (RS*/PS*: RSA 2048, ES*: NIST curves, EdDSA: Ed25519)."""
    if alg.startswith(("RS", "PS")):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg in _CURVES:
        return ec.generate_private_key(_CURVES[alg]())
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"cannot make keys for {alg!r}")


def public_jwk_of(private_key: Any, alg: str) -> dict[str, Any]:
    """The public JWK of ``private_key``, a key for ``alg`` (no ``kid``, ``alg`` or ``use``)."""
    public = private_key.public_key()
    if alg.startswith(("RS", "PS")):
        jwk: dict[str, Any] = RSAAlgorithm.to_jwk(public, as_dict=True)
    elif alg.startswith("ES"):
        jwk = ECAlgorithm.to_jwk(public, as_dict=True)
    else:
        jwk = OKPAlgorithm.to_jwk(public, as_dict=True)
    return jwk


@dataclass
class SigningKey:
    """A private key with its ``kid`` and algorithm."""

    kid: str
    alg: str
    private_key: Any

    def public_jwk(self) -> dict[str, Any]:
        """The public JWK, with ``kid``, ``alg`` and ``use``."""
        return {**public_jwk_of(self.private_key, self.alg), "kid": self.kid, "alg": self.alg, "use": "sig"}


def generate_key(alg: str, kid: str | None = None) -> SigningKey:
    """A fresh key pair for ``alg`` (RS*/PS*: RSA 2048, ES*: NIST curves, EdDSA: Ed25519)."""
    return SigningKey(kid or f"{alg.lower()}-{uuid.uuid4().hex[:12]}", alg, generate_private_key(alg))
