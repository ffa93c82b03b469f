"""One strict parse of a compact JWS, and signature verification (RFC 7515, RFC 8725)."""

from __future__ import annotations

import binascii
import re
from collections.abc import Collection, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from django_bearer_guard._json import JSONError, loads_object
from django_bearer_guard.exceptions import (
    BadSignature,
    DisallowedAlgorithm,
    ForbiddenHeader,
    MalformedToken,
    UnknownKey,
)
from django_bearer_guard.jose.algorithms import ALGORITHMS

if TYPE_CHECKING:
    from django_bearer_guard.jose.keyset import JsonWebKey, KeySet

__all__ = ["FORBIDDEN_HEADERS", "CompactJWS", "parse_compact", "verify_compact", "verify_signature"]

# RFC 8725 §3.10: key-bearing headers would let the token choose its own key; crit and b64
# (RFC 7797) would change what the signature covers. All are refused, not ignored.
FORBIDDEN_HEADERS = frozenset({"jku", "x5u", "jwk", "x5c", "crit", "b64"})
MAX_KID_LENGTH = 256
# Bounded memo of checked headers (only successes, only short ones): random headers from an
# attacker can only churn it, never grow it.
_HEADER_CACHE_SIZE = 1024
_HEADER_CACHE_MAX_LENGTH = 512
_checked_headers: dict[str, Mapping[str, Any]] = {}
# DPoP proof headers carry their key; kept apart, so a proof's header never passes for a token's.
_checked_proof_headers: dict[str, Mapping[str, Any]] = {}
_COMPACT = re.compile(r"([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]*)\.([A-Za-z0-9_-]+)")
_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_PADDING = {0: b"", 2: b"==", 3: b"="}
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# Characters allowed last in a segment whose length is 2 or 3 modulo 4 (unused bits zero).
_CANONICAL_LAST = {
    2: frozenset(c for i, c in enumerate(_ALPHABET) if i & 0x0F == 0),
    3: frozenset(c for i, c in enumerate(_ALPHABET) if i & 0x03 == 0),
}


class CompactJWS(NamedTuple):
    """The decoded parts of a compact JWS; nothing in it is verified yet."""

    header: Mapping[str, Any]
    payload: bytes
    signing_input: bytes
    signature: bytes

    @property
    def alg(self) -> str:
        """The ``alg`` header (checked to be a string by :func:`parse_compact`)."""
        alg: str = self.header["alg"]
        return alg

    @property
    def kid(self) -> str | None:
        """The ``kid`` header, if any."""
        kid = self.header.get("kid")
        return kid if isinstance(kid, str) else None


def _b64decode(segment: str, what: str) -> bytes:
    # RFC 7515 §2: base64url without padding (the alphabet was checked by _COMPACT). A
    # non-canonical encoding would let two strings carry one signature: unused bits must be 0.
    remainder = len(segment) % 4
    if remainder == 1 or (remainder and segment[-1] not in _CANONICAL_LAST[remainder]):
        raise MalformedToken(f"{what} is not canonical base64url")
    return binascii.a2b_base64(segment.encode("ascii").translate(_TO_STANDARD) + _PADDING[remainder])


def decode_json(data: bytes, what: str) -> dict[str, Any]:
    """Parse a token part as a strict JSON object, or raise :class:`MalformedToken`."""
    try:
        return loads_object(data)
    except JSONError as exc:
        raise MalformedToken(f"{what}: {exc}") from None


def _check_header(header_b64: str, *, embedded_key: bool) -> dict[str, Any]:
    header = decode_json(_b64decode(header_b64, "header"), "header")
    alg = header.get("alg")
    if not isinstance(alg, str) or not alg:
        raise MalformedToken("header without a string 'alg'")
    forbidden = set(FORBIDDEN_HEADERS.intersection(header))
    if embedded_key:
        # RFC 9449 §4.2: a DPoP proof carries its public key in 'jwk', and only there.
        forbidden.discard("jwk")
        if not isinstance(header.get("jwk"), Mapping):
            raise MalformedToken("a DPoP proof needs a 'jwk' object in its header")
    if forbidden:
        raise ForbiddenHeader(f"header carries {sorted(forbidden)}")
    kid = header.get("kid")
    if kid is not None and (not isinstance(kid, str) or len(kid) > MAX_KID_LENGTH):
        raise MalformedToken("'kid' must be a string of at most 256 characters")
    typ = header.get("typ")
    if typ is not None and not isinstance(typ, str):
        raise MalformedToken("'typ' must be a string")
    cty = header.get("cty")
    if cty is not None and (not isinstance(cty, str) or cty.lower() in ("jwt", "application/jwt")):
        # RFC 7519 §5.2: nested tokens are not supported, so never unwrapped.
        raise ForbiddenHeader("nested JWTs (cty) are not accepted")
    return header


def parse_compact(token: str, *, embedded_key: bool = False) -> CompactJWS:
    """Split and decode a compact JWS once, strictly, and check the header rules.

    Refuses JWE and other shapes, non-canonical base64url, a header that is not a JSON
    object or repeats a member, a missing or non-string ``alg``, the headers in
    :data:`FORBIDDEN_HEADERS`, a non-string ``kid``/``typ``, nested JWTs (``cty: JWT``)
    and an empty signature. The payload is returned as bytes, unparsed.

    With ``embedded_key`` (a DPoP proof, RFC 9449), the header must carry a ``jwk`` object
    instead: the one forbidden header that is then required.
    """
    match = _COMPACT.fullmatch(token)
    if match is None:
        parts = token.count(".") + 1
        # 5 parts would be a JWE; an empty last part, the unsecured JWS of RFC 7519 §6.
        raise MalformedToken(f"not a signed compact JWS of base64url parts ({parts} parts)")
    header_b64, payload_b64, signature_b64 = match.groups()
    # Tokens of one key share their header: a checked header is parsed once per process.
    checked = _checked_proof_headers if embedded_key else _checked_headers
    header = checked.get(header_b64)
    if header is None:
        # Read-only, as it is shared by every token with this header.
        header = MappingProxyType(_check_header(header_b64, embedded_key=embedded_key))
        if len(header_b64) <= _HEADER_CACHE_MAX_LENGTH:
            if len(checked) >= _HEADER_CACHE_SIZE:
                checked.clear()
            checked[header_b64] = header
    return CompactJWS(
        header=header,
        payload=_b64decode(payload_b64, "payload"),
        signing_input=f"{header_b64}.{payload_b64}".encode("ascii"),
        signature=_b64decode(signature_b64, "signature"),
    )


def check_algorithm(alg: str, allowed: Collection[str]) -> None:
    """Refuse ``alg`` unless the caller allows it (RFC 8725 §3.1); ``none`` is never supported."""
    if alg not in allowed or alg not in ALGORITHMS:
        raise DisallowedAlgorithm(f"alg {alg!r} is not in {sorted(allowed)}")


def verify_signature(jws: CompactJWS, key: JsonWebKey) -> None:
    """Verify ``jws`` with ``key``, whose own algorithm set must include the token's ``alg``."""
    alg = jws.alg
    # Key confusion (e.g. HS256 signed with an RSA public key): the key decides what it verifies.
    if alg not in key.algorithms:
        raise DisallowedAlgorithm(f"key {key.kid!r} cannot verify {alg}")
    if not ALGORITHMS[alg].verify(jws.signing_input, key.key, jws.signature):
        raise BadSignature(f"signature does not verify with key {key.kid!r}")


def verify_compact(token: str, keyset: KeySet, algorithms: Collection[str]) -> tuple[dict[str, Any], bytes]:
    """Verify a compact JWS against ``keyset``, allowing only ``algorithms``.

    Applies the signature and header rules only (no claims). Returns the header and the
    payload bytes; raises an :class:`~django_bearer_guard.exceptions.InvalidToken` subclass.
    """
    jws = parse_compact(token)
    check_algorithm(jws.alg, algorithms)
    key = keyset.find(jws.kid, jws.alg)
    if key is None:
        raise UnknownKey(f"no key for kid {jws.kid!r} and alg {jws.alg}")
    verify_signature(jws, key)
    return dict(jws.header), jws.payload
