"""The result of a successful validation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Binding", "VerifiedToken"]


@dataclass(frozen=True, slots=True)
class Binding:
    """What the request proved about its sender, beyond holding the token.

    ``methods`` names every check that held: ``"workload"`` (the token's workload is the
    client certificate's SPIFFE ID), ``"x5t#S256"`` (RFC 8705: the certificate is the one
    in ``cnf``) and ``"jkt"`` (RFC 9449: a DPoP proof signed by the key in ``cnf``).
    """

    methods: frozenset[str]
    certificate_thumbprint: str | None = None
    """The base64url SHA-256 of the caller's client certificate, when one was checked."""
    spiffe_id: str | None = None
    """The SPIFFE ID of the caller's client certificate, when one was checked."""
    jkt: str | None = None
    """The RFC 7638 thumbprint of the DPoP proof key, when a proof was checked."""


@dataclass(frozen=True, eq=False, slots=True)
class VerifiedToken:
    """A token whose signature, issuer and claims passed every check (``request.auth``)."""

    claims: dict[str, Any] = field(repr=False)
    header: Mapping[str, Any] = field(repr=False)
    issuer: str
    scopes: frozenset[str]
    workload: str | None
    token_id: str | None
    expires_at: float
    binding: Binding | None = None
    """What the request proved about its sender; ``None`` for a plain Bearer token."""

    @property
    def subject(self) -> str | None:
        """The ``sub`` claim, when it is a string."""
        sub = self.claims.get("sub")
        return sub if isinstance(sub, str) else None

    def has_scopes(self, *scopes: str) -> bool:
        """True when the token carries every one of ``scopes``."""
        return self.scopes.issuperset(scopes)
