"""Fuzz the compact JWS parser and the strict JSON reader (``jose/compact.py``, ``_json.py``).

Input: one mode byte, then

* mode 0, 1: a token as text, parsed by ``parse_compact`` (mode 1: as a DPoP proof, whose
  header must carry its ``jwk``);
* mode 2, 3: ``header JSON 0xff payload 0xff signature``, encoded as base64url and joined, so
  the fuzzer reaches the header rules without having to find base64 itself;
* mode 4: bytes read by ``decode_json``.

Refusals: ``MalformedToken`` and ``ForbiddenHeader`` (both ``InvalidToken``). Properties: an
accepted token has a string ``alg``, none of the forbidden headers, a string ``kid`` of at most
256 characters and ``typ``, no nested ``cty``; its three parts are canonical base64url (they
encode back to the same text) and the signing input is the first two parts. Accepted JSON is an
object without unpaired surrogates that writes back to the same value.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping

from fuzz._driver import configure_django, fuzz, library_imports, split

configure_django()
with library_imports(__name__):
    from django_bearer_guard.exceptions import ForbiddenHeader, MalformedToken
    from django_bearer_guard.jose.compact import FORBIDDEN_HEADERS, MAX_KID_LENGTH, decode_json, parse_compact


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _check_token(token: str, *, embedded_key: bool) -> None:
    try:
        jws = parse_compact(token, embedded_key=embedded_key)
    except (MalformedToken, ForbiddenHeader):
        return
    header_b64, payload_b64, signature_b64 = token.split(".")
    header = jws.header
    alg = header["alg"]
    assert isinstance(alg, str) and alg and jws.alg == alg
    forbidden = FORBIDDEN_HEADERS - {"jwk"} if embedded_key else FORBIDDEN_HEADERS
    assert not forbidden.intersection(header), sorted(header)
    if embedded_key:
        assert isinstance(header["jwk"], Mapping)
    kid = header.get("kid")
    assert kid is None or (isinstance(kid, str) and len(kid) <= MAX_KID_LENGTH and jws.kid == kid)
    assert header.get("typ") is None or isinstance(header["typ"], str)
    cty = header.get("cty")
    assert cty is None or (isinstance(cty, str) and cty.lower() not in ("jwt", "application/jwt"))
    # One encoding per value: the parts write back to exactly the text that was signed.
    assert json.loads(_unb64(header_b64)) == dict(header)
    assert _b64(jws.payload) == payload_b64
    assert jws.signature and _b64(jws.signature) == signature_b64
    assert jws.signing_input == f"{header_b64}.{payload_b64}".encode("ascii")


def _check_json(data: bytes) -> None:
    try:
        value = decode_json(data, "fuzz")
    except MalformedToken:
        return
    assert isinstance(value, dict)
    # No lone surrogate survives: the value encodes to UTF-8 again.
    text = json.dumps(value, ensure_ascii=False)
    text.encode("utf-8")
    try:
        json.dumps(value, allow_nan=False)
    except ValueError:
        # A number beyond the float range (1e999) reads as infinity, which JSON cannot write
        # back; the claim rules refuse non-finite numbers (see docs/fuzzing.rst).
        return
    assert decode_json(text.encode("utf-8"), "again") == value


def test_one_input(data: bytes) -> None:
    """Parse one token or JSON text and check the parser's contract."""
    if not data:
        return
    mode, rest = data[0] % 5, data[1:]
    if mode in (0, 1):
        text = rest.decode("latin-1") if data[0] & 0x80 else rest.decode("utf-8", "replace")
        _check_token(text, embedded_key=mode == 1)
    elif mode in (2, 3):
        header, payload, signature = split(rest, 3)
        _check_token(f"{_b64(header)}.{_b64(payload)}.{_b64(signature)}", embedded_key=mode == 3)
    else:
        _check_json(rest)


if __name__ == "__main__":
    fuzz(test_one_input)
