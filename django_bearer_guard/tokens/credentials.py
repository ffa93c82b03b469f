"""Read the Bearer credential from an Authorization header value (RFC 6750 §2.1)."""

from __future__ import annotations

import re

from django_bearer_guard.challenges import TOKEN
from django_bearer_guard.exceptions import MalformedCredentials, TokenTooLarge

__all__ = ["parse_authorization"]

# RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


def parse_authorization(header: str | None, *, schemes: tuple[str, ...] = ("bearer",), max_bytes: int) -> (
    tuple[str, str] | None
):
    """Return ``(scheme, token)`` for a credential of one of ``schemes``, else ``None``.

    ``None`` (no header, or another scheme) lets the next authenticator try. A header of
    one of ``schemes`` that breaks the grammar raises :class:`MalformedCredentials`
    (400); a token over ``max_bytes`` raises :class:`TokenTooLarge` before any decoding.
    """
    if header is None:
        return None
    if header[:7] in ("Bearer ", "bearer "):
        scheme = header[:6]  # the common spelling, without the scheme regex
    else:
        match = TOKEN.match(header)  # the auth-scheme is a token
        scheme = match.group() if match else ""
    scheme_lower = scheme.lower()
    if scheme_lower not in schemes:
        return None
    rest = header[len(scheme):]
    if not rest.startswith(" "):
        # "Bearer\ttoken", "Bearer" alone: our scheme, but not the RFC 7235 grammar.
        raise MalformedCredentials(f"{scheme} scheme without a space and a token")
    rest = rest.lstrip(" ")  # RFC 7235 §2.1: 1*SP between scheme and credential
    # Size cap before the grammar check, so no oversized input reaches a parser.
    if len(rest) > max_bytes:
        raise TokenTooLarge(f"credential of {len(rest)} characters, over {max_bytes}")
    if not rest:
        raise MalformedCredentials(f"{scheme} scheme without a token")
    if not _B64TOKEN.fullmatch(rest):
        # Two credentials, a comma-separated list, stray spaces or foreign characters.
        raise MalformedCredentials(f"{scheme} credential is not a single b64token")
    return scheme_lower, rest
