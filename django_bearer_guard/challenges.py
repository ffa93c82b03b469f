"""``WWW-Authenticate`` challenges (RFC 6750 §3, RFC 9449 §7.1)."""

from __future__ import annotations

import re

__all__ = ["TOKEN", "bearer_challenge", "challenge", "dpop_challenge", "quote"]

TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
"""RFC 7230 §3.2.6 ``token`` (1*tchar): an auth-scheme, a header field name."""


def quote(value: str) -> str:
    """An RFC 7230 quoted-string; anything but printable ASCII becomes ``?``."""
    # Header injection: CR, LF and other controls never reach the header.
    safe = "".join(ch if " " <= ch <= "~" else "?" for ch in value)
    return '"' + safe.replace("\\", "\\\\").replace('"', '\\"') + '"'


def challenge(
    scheme: str,
    realm: str,
    error: str | None = None,
    description: str | None = None,
    scope: str | None = None,
    **extra: str,
) -> str:
    """A challenge for ``scheme`` with ``realm`` and, when given, the error attributes."""
    params = [("realm", realm)]
    if error:
        params.append(("error", error))
        if description:
            params.append(("error_description", description))
    if scope:
        params.append(("scope", scope))
    params.extend(extra.items())
    return f"{scheme} " + ", ".join(f"{name}={quote(value)}" for name, value in params)


def bearer_challenge(
    realm: str,
    error: str | None = None,
    description: str | None = None,
    scope: str | None = None,
    **extra: str,
) -> str:
    """The ``Bearer`` challenge; without ``error`` it carries only the realm and ``extra`` (RFC 6750 §3.1)."""
    return challenge("Bearer", realm, error, description, scope, **extra)


def dpop_challenge(
    realm: str,
    algs: tuple[str, ...],
    error: str | None = None,
    description: str | None = None,
    scope: str | None = None,
    **extra: str,
) -> str:
    """The ``DPoP`` challenge (RFC 9449 §7.1): the error, if any, and the proof algorithms in ``algs``."""
    return challenge("DPoP", realm, error, description, scope, algs=" ".join(algs), **extra)
