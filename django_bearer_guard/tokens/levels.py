"""Step-up (RFC 9470): whether a token's ``acr`` and ``auth_time`` meet a required level."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from django_bearer_guard.exceptions import InsufficientUserAuthentication, InvalidClaim

__all__ = ["authentication_shortfall"]


def authentication_shortfall(
    claims: Mapping[str, Any],
    acr_values: tuple[str, ...] | None,
    max_age: int | None,
    *,
    now: float,
    leeway: float,
) -> InsufficientUserAuthentication | None:
    """What the token of ``claims`` lacks for ``acr_values`` and ``max_age``; ``None`` if nothing.

    ``acr`` must be a string equal to one of ``acr_values``; ``auth_time`` a number at most
    ``max_age`` seconds before ``now``. Raises :class:`~django_bearer_guard.exceptions.InvalidClaim`
    for an ``acr`` that is not a string, an ``auth_time`` that is not a number, or an
    ``auth_time`` more than ``leeway`` seconds ahead of ``now``.
    """
    reasons: list[str] = []
    wanted_acr: tuple[str, ...] = ()
    if acr_values is not None:
        acr = claims.get("acr")
        # OIDC Core §2: acr is a string; a list or number is a malformed claim, not a level.
        if acr is not None and not isinstance(acr, str):
            raise InvalidClaim(f"'acr' must be a string, got {type(acr).__name__}")
        # RFC 9470 §3: the values are compared exactly; no prefix, substring or case folding.
        if acr not in acr_values:
            wanted_acr = acr_values
            reasons.append(f"acr {acr!r:.80} is not one of {list(acr_values)!r}")
    wanted_age: int | None = None
    if max_age is not None:
        auth_time = claims.get("auth_time")
        # RFC 9470 §4 / RFC 7519 §2: auth_time is a NumericDate; "123" and true are refused.
        if auth_time is not None and not (
            type(auth_time) is int or (type(auth_time) is float and math.isfinite(auth_time))
        ):
            raise InvalidClaim(f"'auth_time' must be a NumericDate, got {type(auth_time).__name__}")
        # An authentication in the future is a broken clock or a claim meant to defeat max_age.
        if auth_time is not None and auth_time > now + leeway:
            raise InvalidClaim("'auth_time' is in the future (beyond the leeway)")
        # RFC 9470 §3: the authentication event must be at most max_age seconds old.
        if auth_time is None or auth_time < now - max_age:
            wanted_age = max_age
            reasons.append("no auth_time" if auth_time is None else f"auth_time is over {max_age} s old")
    if not reasons:
        return None
    return InsufficientUserAuthentication("; ".join(reasons), acr_values=wanted_acr, max_age=wanted_age)
