"""The result of a successful validation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["VerifiedToken"]


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

    @property
    def subject(self) -> str | None:
        """The ``sub`` claim, when it is a string."""
        sub = self.claims.get("sub")
        return sub if isinstance(sub, str) else None

    def has_scopes(self, *scopes: str) -> bool:
        """True when the token carries every one of ``scopes``."""
        return self.scopes.issuperset(scopes)
