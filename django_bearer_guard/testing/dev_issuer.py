"""A development issuer: a signing key kept in a file, its JWKS and discovery documents, ``mint()``.

``manage.py bearer_guard_dev_issuer`` serves one for a project that has no identity provider yet,
and the example project's demo signs its tokens with keys kept the same way. A key file is made
once, readable by its owner only, and every later run reuses it, so the tokens it signed and the
``ISSUERS`` entry pasted into the settings keep working. Development only: whoever reads the file
can mint tokens that the API accepts.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, cast

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from django_bearer_guard import _clock
from django_bearer_guard.exceptions import KeySetError
from django_bearer_guard.jose.keyset import KeySet
from django_bearer_guard.testing.keys import SigningKey, generate_private_key, public_jwk_of

__all__ = [
    "KeyFileError",
    "algorithm_of",
    "discovery_document",
    "jwks_document",
    "load_key",
    "mint",
    "write_once",
]

_CURVES = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
_SUPPORTED = "RSA (2048 bits or more), EC P-256, P-384 or P-521, or Ed25519"


class KeyFileError(ValueError):
    """A key file that cannot be read or written, or holds no private key of a supported type."""


def write_once(path: Path, make: Callable[[], bytes]) -> bytes:
    """The content of ``path``; when it is missing, a file only its owner reads, written with ``make()``.

    The file appears whole or not at all, and an existing file is never replaced.
    """
    if not path.exists():
        temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(make())
            handle.flush()
            os.fsync(handle.fileno())
        try:
            # Two processes starting together: the first file written wins, both use it.
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    return path.read_bytes()


def algorithm_of(private_key: Any) -> str:
    """The JWS algorithm ``private_key`` signs with: RS256, ES256/ES384/ES512 by curve, or EdDSA."""
    if isinstance(private_key, rsa.RSAPrivateKey):
        return "RS256"
    if isinstance(private_key, ec.EllipticCurvePrivateKey) and private_key.curve.name in _CURVES:
        return _CURVES[private_key.curve.name]
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return "EdDSA"
    raise KeyFileError(f"the key is of an unsupported type; use {_SUPPORTED}")


def load_key(path: Path, alg: str = "ES256") -> SigningKey:
    """The signing key in ``path``, an unencrypted PEM private key, made for ``alg`` if the file is missing.

    The key's algorithm follows its type (see :func:`algorithm_of`) and its ``kid`` is its RFC 7638
    thumbprint, so every run publishes and signs with the same key. Raises :class:`KeyFileError`
    when the file cannot be read or written, or holds anything else than a private key the library
    would accept the public half of (no RSA key under 2048 bits, no ROCA modulus).
    """

    def pem() -> bytes:
        private = generate_private_key(alg)
        encoded: bytes = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return encoded

    try:
        data = write_once(path, pem)
    except OSError as exc:
        raise KeyFileError(f"{path}: {exc.strerror or exc}") from None
    try:
        private_key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise KeyFileError(f"{path} holds an encrypted private key; the issuer needs one without a password") from None
    except (ValueError, UnsupportedAlgorithm):
        raise KeyFileError(f"{path} holds no PEM private key ({_SUPPORTED})") from None
    try:
        key_alg = algorithm_of(private_key)
        # The same rules as for any issuer's published keys: no weak RSA, no ROCA modulus.
        [checked] = KeySet.from_jwks({**public_jwk_of(private_key, key_alg), "kid": path.name}).keys
    except KeyFileError as exc:
        raise KeyFileError(f"{path}: {exc}") from None
    except KeySetError as exc:
        raise KeyFileError(f"{path}: {exc.reason}") from None
    return SigningKey(cast(str, checked.thumbprint()), key_alg, private_key)


def jwks_document(keys: Iterable[SigningKey]) -> dict[str, Any]:
    """The JWK Set (RFC 7517) publishing the public half of ``keys``."""
    return {"keys": [key.public_jwk() for key in keys]}


def discovery_document(issuer: str, jwks_uri: str, algorithms: Iterable[str]) -> dict[str, Any]:
    """The issuer's metadata (OpenID Connect Discovery 1.0, RFC 8414): its ``issuer`` and ``jwks_uri``."""
    return {"issuer": issuer, "jwks_uri": jwks_uri, "id_token_signing_alg_values_supported": list(algorithms)}


def mint(
    key: SigningKey,
    *,
    issuer: str,
    audience: str,
    subject: str,
    scopes: Iterable[str] = (),
    lifetime: int = 3600,
    issued_at: int | None = None,
    claims: Mapping[str, Any] | None = None,
) -> str:
    """An access token signed with ``key``, shaped as RFC 9068 says (``typ`` ``at+jwt``).

    Its claims are ``iss``, ``aud``, ``sub`` (also ``client_id``), ``iat`` (default: now), ``exp``
    (``lifetime`` seconds later), ``jti`` and ``scope`` (``scopes`` joined by spaces, left out
    when there are none). ``claims`` adds or replaces claims; a claim set to ``None`` is left out.
    """
    now = int(_clock.now()) if issued_at is None else issued_at
    payload: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "client_id": subject,
        "iat": now,
        "exp": now + lifetime,
        "jti": uuid.uuid4().hex,
        "scope": " ".join(scopes) or None,
        **(claims or {}),
    }
    payload = {name: value for name, value in payload.items() if value is not None}
    return jwt.encode(payload, key.private_key, algorithm=key.alg, headers={"kid": key.kid, "typ": "at+jwt"})
