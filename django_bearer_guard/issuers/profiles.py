"""Access-token profiles: the defaults and limits one ``profile`` key sets on an issuer."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

__all__ = ["PROFILES", "PROFILE_ALGORITHMS", "PROFILE_DEFAULTS", "profile_problems"]

PROFILES = (None, "rfc9068", "jwt-svid", "fapi2")
PROFILE_DEFAULTS: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        # RFC 9068 §2.1 (typ) and §2.2 (required claims); the client is the calling workload.
        "rfc9068": {
            "required_typ": "at+jwt",
            "required_claims": ("iss", "exp", "aud", "sub", "client_id", "iat", "jti"),
            "workload_claim": "client_id",
        },
        # JWT-SVID §3: sub (the SPIFFE ID) is required; §2.3's typ rule is the claim checks' own.
        "jwt-svid": {"required_claims": ("sub",), "workload_claim": "sub"},
        "fapi2": {},
    }
)
"""Per profile, the defaults of the issuer keys an explicit key overrides."""
PROFILE_ALGORITHMS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        # JWT-SVID §2.1: RS, ES and PS with SHA-256, -384 or -512.
        "jwt-svid": frozenset(f"{family}{bits}" for family in ("RS", "ES", "PS") for bits in (256, 384, 512)),
        # FAPI 2.0 Security Profile §5.4.1: PS256, ES256 or EdDSA only.
        "fapi2": frozenset({"PS256", "ES256", "EdDSA"}),
    }
)
"""Per profile, the only algorithms ``algorithms`` may list (no entry: no limit beyond the library's)."""


def profile_problems(
    profile: str | None, algorithms: tuple[str, ...], binding: str | None
) -> list[tuple[str, str, str, str]]:
    """What breaks ``profile``'s limits, as ``(check id, issuer key, message, hint)``."""
    found: list[tuple[str, str, str, str]] = []
    allowed = PROFILE_ALGORITHMS.get(profile or "")
    refused = [alg for alg in algorithms if allowed is not None and alg not in allowed]
    if refused:
        # JWT-SVID §2.1, FAPI 2.0 §5.4.1: the profile fixes the algorithm set; a wider list defeats it.
        found.append((
            "bearer_guard.E025",
            "algorithms",
            f"'algorithms' lists {refused}, which the {profile!r} profile does not allow.",
            f"Keep only some of {sorted(allowed or ())} in 'algorithms', or change 'profile'.",
        ))
    if profile == "fapi2" and binding not in ("cnf", "dpop"):
        # FAPI 2.0 §5.3 (resource servers): only sender-constrained access tokens are accepted.
        found.append((
            "bearer_guard.E026",
            "binding",
            f"the 'fapi2' profile needs sender-constrained tokens, and 'binding' is {binding!r}: "
            "the issuer's tokens are refused.",
            "Set 'binding' to 'cnf' (RFC 8705 mTLS) or 'dpop' (RFC 9449), or change 'profile'.",
        ))
    return found
