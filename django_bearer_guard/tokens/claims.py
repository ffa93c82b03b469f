"""Claim rules: time claims, audience, required claims and explicit typing."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django_bearer_guard.exceptions import (
    ExpiredToken,
    InvalidClaim,
    IssuedInFuture,
    MissingClaim,
    NotYetValid,
    WrongAudience,
    WrongTenant,
    WrongType,
)
from django_bearer_guard.issuers.config import IssuerConfig
from django_bearer_guard.issuers.tenants import TENANT_CLAIM

if TYPE_CHECKING:
    from django_bearer_guard.tokens.trace import Trace

__all__ = ["check_claims", "check_times", "check_token_type", "check_type", "normalise_type", "time_claims"]

_ABSENT = object()
# JWT-SVID §2.3: typ, when present, is JWT or JOSE.
_SVID_TYPES = frozenset({"jwt", "jose"})
# RFC 7519 §4.1.2 and §4.1.7, RFC 8693 §4.3, OpenID Connect Core §2: string-valued claims.
_STRING_CLAIMS = ("sub", "jti", "client_id", "azp")


def _number(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name, _ABSENT)
    if value is _ABSENT:
        return None
    # RFC 7519 §2 NumericDate: a JSON number; "123", true and null are refused.
    if type(value) is int or (type(value) is float and math.isfinite(value)):
        return value
    raise InvalidClaim(f"'{name}' must be a NumericDate, got {type(value).__name__}")


def normalise_type(typ: str) -> str:
    """Lower-case a media type and drop an ``application/`` prefix (RFC 7515 §4.1.9)."""
    typ = typ.lower()
    return typ[len("application/"):] if typ.startswith("application/") else typ


def check_type(header: Mapping[str, Any], required: str | None) -> None:
    """Refuse a token whose ``typ`` is not ``required`` (RFC 8725 §3.11, RFC 9068 §4)."""
    if required is None:
        return
    typ = header.get("typ")
    if not isinstance(typ, str) or normalise_type(typ) != normalise_type(required):
        raise WrongType(f"typ {typ!r} is not {required!r}")


def check_token_type(header: Mapping[str, Any], issuer: IssuerConfig, trace: Trace | None = None) -> None:
    """Apply the issuer's ``typ`` rule: its ``required_typ``, else its profile's, else none.

    Under the ``jwt-svid`` profile without a ``required_typ``, ``typ`` may be absent, ``JWT`` or
    ``JOSE``; anything else (``at+jwt``, ``dpop+jwt``…) is refused (RFC 8725 §3.12).
    """
    typ = header.get("typ", _ABSENT)
    if issuer.required_typ is not None:
        check_type(header, issuer.required_typ)
        detail = f"{header.get('typ')!r}, as required"
    elif issuer.profile == "jwt-svid":
        if typ is not _ABSENT and (not isinstance(typ, str) or normalise_type(typ) not in _SVID_TYPES):
            raise WrongType(f"typ {typ!r:.40} is not JWT or JOSE, as a JWT-SVID's must be (jwt-svid profile)")
        detail = "absent, as a JWT-SVID's may be" if typ is _ABSENT else f"{typ!r}, as a JWT-SVID's may be"
    else:
        detail = "not required"
    if trace is not None:
        trace.passed("typ", detail)


def time_claims(claims: Mapping[str, Any]) -> tuple[float, float | None, float | None]:
    """``exp`` (required), ``nbf`` and ``iat`` as numbers, or raise for a missing or malformed one."""
    exp = _number(claims, "exp")
    if exp is None:
        raise MissingClaim("'exp' is required")
    return exp, _number(claims, "nbf"), _number(claims, "iat")


def check_times(
    times: tuple[float, float | None, float | None], *, now: float, leeway: float, trace: Trace | None = None
) -> float:
    """The rules that depend on the clock, on :func:`time_claims`; return ``exp``."""
    exp, nbf, iat = times
    if now >= exp + leeway:
        raise ExpiredToken(f"expired at {exp:.0f}, now {now:.0f}")
    if trace is not None:
        trace.time_passed("exp", exp)
    if nbf is not None and now + leeway < nbf:
        raise NotYetValid(f"not before {nbf:.0f}, now {now:.0f}")
    if trace is not None:
        trace.time_passed("nbf", nbf)
    if iat is not None and iat > now + leeway:
        # A token minted in the future would outlive its stated lifetime.
        raise IssuedInFuture(f"issued at {iat:.0f}, now {now:.0f}")
    if trace is not None:
        trace.time_passed("iat", iat)
    return exp


def check_claims(
    claims: Mapping[str, Any], issuer: IssuerConfig, *, now: float, leeway: float, trace: Trace | None = None
) -> float:
    """Apply the claim rules for ``issuer`` at time ``now``; return ``exp``.

    ``iss`` was matched exactly when the issuer was chosen. ``exp`` and ``aud`` are always
    required; ``nbf`` and ``iat`` are honoured when present; ``leeway`` absorbs clock skew.
    ``sub``, ``jti``, ``client_id`` and ``azp`` must be strings when present. Each rule that
    holds reports itself to ``trace``, when given.
    """
    exp = check_times(time_claims(claims), now=now, leeway=leeway, trace=trace)

    aud = claims.get("aud")
    if aud is None:
        raise MissingClaim("'aud' is required")
    audiences = [aud] if type(aud) is str else aud
    if type(audiences) is not list or not audiences or not all(type(a) is str for a in audiences):
        raise InvalidClaim("'aud' must be a string or a list of strings")
    # RFC 8725 §3.9: a token for another service must not be replayed here.
    if issuer.audience_set.isdisjoint(audiences):
        raise WrongAudience(f"aud {audiences!r} names none of {list(issuer.audiences)}")
    if trace is not None:
        trace.passed("audience", f"{sorted(issuer.audience_set.intersection(audiences))}, expected here")

    for name in _STRING_CLAIMS:
        value = claims.get(name, _ABSENT)
        # Type confusion: `sub: 1234` must not reach a lookup or comparison that expects a string.
        if value is not _ABSENT and type(value) is not str:
            raise InvalidClaim(f"'{name}' must be a string, got {type(value).__name__}")
    if trace is not None:
        trace.passed("claim types", ", ".join(_STRING_CLAIMS) + " are strings where present")

    for name in issuer.required_claims:
        value = claims.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise MissingClaim(f"required claim '{name}' is missing or empty")
    if trace is not None:
        required = issuer.required_claims
        trace.passed("required claims", ", ".join(required) + " present" if required else "none required")
    if issuer.template:
        _check_tenant(claims, issuer, trace)
    elif trace is not None:
        trace.passed("tenant", "not a multi-tenant issuer")
    return exp


def _check_tenant(claims: Mapping[str, Any], issuer: IssuerConfig, trace: Trace | None) -> None:
    tenant = issuer.tenant_of(claims.get("iss", ""))
    tid = claims.get(TENANT_CLAIM)
    # One key set signs every tenant's tokens: the tenant in iss must be the one the token is for.
    if tenant is None or tid != tenant:
        raise WrongTenant(f"'{TENANT_CLAIM}' {str(tid)[:64]!r} is not the tenant {tenant!r} of 'iss'")
    if trace is not None:
        trace.passed("tenant", f"{tid!r}, the tenant of 'iss'")
