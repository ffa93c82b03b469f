"""DPoP client keys for tests: make the proofs a DPoP client sends (RFC 9449).

>>> key = DPoPKey()
>>> token = idp.mint(cnf={"jkt": key.jkt})
>>> proof = key.proof("GET", "https://api.example.test/files/a.txt", access_token=token)
>>> client.get("/files/a.txt", HTTP_AUTHORIZATION=f"DPoP {token}", HTTP_DPOP=proof)

Nothing here is used by the library at run time. The thumbprint and ``ath`` are computed
here, apart from the library's own code, so tests built on them check that code.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Mapping
from typing import Any

import jwt

from django_bearer_guard import _clock
from django_bearer_guard.testing.keys import generate_private_key, public_jwk_of

__all__ = ["DPoPKey"]

# The algorithms a DPoP client key is made for here.
_ALGORITHMS = frozenset({"ES256", "ES384", "ES512", "PS256", "RS256", "EdDSA"})
# RFC 7638 §3.2: the members of each key type that its thumbprint covers.
_THUMBPRINT_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n"), "OKP": ("crv", "kty", "x")}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class DPoPKey:
    """A DPoP client's key pair, and the proofs it signs.

    ``alg`` is ``ES256`` (the default), ``ES384``, ``ES512``, ``PS256``, ``RS256`` (RSA 2048)
    or ``EdDSA`` (Ed25519); a new key is made unless ``private_key`` (a ``cryptography``
    private key of that type, e.g. one kept on disk) is given. :attr:`private_key` is the key,
    :attr:`public_jwk` the public JWK a proof carries and :attr:`jkt` its thumbprint, the
    value an access token bound to this key carries in ``cnf.jkt``.
    """

    def __init__(self, alg: str = "ES256", *, private_key: Any = None) -> None:
        if alg not in _ALGORITHMS:
            raise ValueError(f"DPoPKey cannot make keys for {alg!r}")
        private = private_key or generate_private_key(alg)
        jwk = public_jwk_of(private, alg)
        self.alg = alg
        self.private_key = private
        self._public_jwk: dict[str, Any] = dict(jwk)

    @property
    def public_jwk(self) -> dict[str, Any]:
        """The public JWK (a new dict each time, so a test may change it freely)."""
        return dict(self._public_jwk)

    @property
    def jkt(self) -> str:
        """The RFC 7638 SHA-256 thumbprint of the public key, base64url."""
        jwk = self._public_jwk
        members = {name: jwk[name] for name in _THUMBPRINT_MEMBERS[jwk["kty"]]}
        return _b64(hashlib.sha256(json.dumps(members, sort_keys=True, separators=(",", ":")).encode()).digest())

    def proof(
        self,
        method: str,
        url: str,
        *,
        access_token: str | None = None,
        nonce: str | None = None,
        iat: float | None = None,
        jti: str | None = None,
        typ: str | None = "dpop+jwt",
        claims: Mapping[str, Any] | None = None,
        headers: Mapping[str, Any] | None = None,
    ) -> str:
        """A signed DPoP proof for a ``method`` request to ``url``.

        ``htm`` is ``method`` and ``htu`` is ``url`` as given; ``iat`` defaults to the
        library's clock (see ``use_clock``), ``jti`` to a random value. ``ath`` is the hash of
        ``access_token`` and ``nonce`` the server nonce, each only when given. ``claims`` and
        ``headers`` add or replace members (a ``None`` value removes one: ``{"ath": None}``,
        ``{"typ": None}``); ``headers={"jwk": ...}`` embeds another key, and
        ``headers={"alg": ...}`` signs with another algorithm of this key's type.
        """
        payload: dict[str, Any] = {
            "jti": uuid.uuid4().hex if jti is None else jti,
            "htm": method,
            "htu": url,
            "iat": int(_clock.now()) if iat is None else iat,
        }
        if access_token is not None:
            payload["ath"] = _b64(hashlib.sha256(access_token.encode("ascii")).digest())
        if nonce is not None:
            payload["nonce"] = nonce
        payload.update(claims or {})
        header: dict[str, Any] = {"typ": typ, "jwk": self._public_jwk, **(headers or {})}
        # PyJWT adds "typ": "JWT" unless it is told None; other None members are left out.
        header = {name: value for name, value in header.items() if value is not None or name == "typ"}
        return jwt.encode(
            {name: value for name, value in payload.items() if value is not None},
            self.private_key,
            algorithm=self.alg,
            headers=header,
        )
