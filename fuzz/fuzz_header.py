"""Fuzz the Authorization header parser (``tokens/credentials.py``).

Input: one byte choosing the accepted schemes and the size cap, then the header value (Latin-1,
as a WSGI server decodes header bytes, or UTF-8). Refusals: ``MalformedCredentials`` and
``TokenTooLarge``. Properties: ``None`` only for another scheme; a refusal only for one of ours;
an accepted token is one RFC 6750 b64token within the cap, exactly the text after the spaces.
"""

from __future__ import annotations

import string

from fuzz._driver import configure_django, fuzz, library_imports

configure_django()
with library_imports(__name__):
    from django_bearer_guard.exceptions import MalformedCredentials, TokenTooLarge
    from django_bearer_guard.tokens.credentials import parse_authorization

SCHEMES = (("bearer",), ("bearer", "dpop"), ("dpop",), ("dpop", "bearer"))
MAX_BYTES = (8192, 16, 1)
_B64CHARS = frozenset(string.ascii_letters + string.digits + "-._~+/")
# RFC 7230 tchar: what may follow a scheme name and still be part of it.
_TCHARS = frozenset(string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~")


def _is_b64token(text: str) -> bool:
    body = text.rstrip("=")
    return bool(body) and all(ch in _B64CHARS for ch in body)


def _names_scheme(header: str, scheme: str) -> bool:
    # The header's auth-scheme is ``scheme`` (any case): it is followed by a non-tchar or nothing.
    head = header[: len(scheme)]
    return head.lower() == scheme and head.isascii() and header[len(scheme) : len(scheme) + 1] not in _TCHARS


def test_one_input(data: bytes) -> None:
    """Parse one header value and check the parser's contract."""
    if not data:
        return
    schemes = SCHEMES[data[0] & 0x03]
    max_bytes = MAX_BYTES[(data[0] >> 2) % len(MAX_BYTES)]
    raw = data[1:]
    header = raw.decode("utf-8", "replace") if data[0] & 0x80 else raw.decode("latin-1")
    ours = [scheme for scheme in schemes if _names_scheme(header, scheme)]
    try:
        result = parse_authorization(header, schemes=schemes, max_bytes=max_bytes)
    except (MalformedCredentials, TokenTooLarge):
        assert ours, f"refused a header of another scheme: {header!r:.80}"
        return
    if result is None:
        # Another scheme (or none) lets the next authenticator try.
        assert not ours, f"ignored a header of scheme {ours}: {header!r:.80}"
        return
    scheme, token = result
    assert ours == [scheme], (ours, scheme)
    assert token == header[len(scheme) :].lstrip(" ")
    assert _is_b64token(token), f"accepted {token!r:.80}"
    assert len(token) <= max_bytes


if __name__ == "__main__":
    fuzz(test_one_input)
