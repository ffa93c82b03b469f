"""Fuzz the scope-claim reader (``tokens/scopes.py``) with issuers parsed from fuzzed settings.

Input: ``issuer settings JSON 0xff claims JSON``. The settings object may set ``scope_claim``,
``scope_prefixes`` and ``allowed_scopes``; the rest of the issuer is fixed. Refusal:
``InvalidClaim``. Properties: ``claim_at`` never raises; at most ``MAX_SCOPES`` scopes, none
empty; without prefixes every scope is one printable token of at most ``MAX_SCOPE_LENGTH``
characters found in the claim; with ``allowed_scopes``, nothing outside it.
"""

from __future__ import annotations

import logging
from typing import Any

from fuzz._driver import configure_django, fuzz, library_imports, split

configure_django()
with library_imports(__name__):
    from django_bearer_guard._json import JSONError, loads_object
    from django_bearer_guard.exceptions import InvalidClaim
    from django_bearer_guard.issuers.config import parse_issuer
    from django_bearer_guard.tokens.scopes import MAX_SCOPE_LENGTH, MAX_SCOPES, claim_at, extract_scopes

_FIXED = {"issuer": "https://idp.example.test/", "audiences": ["api"], "algorithms": ["ES256"],
          "jwks_uri": "https://idp.example.test/jwks"}
_FIELDS = ("scope_claim", "scope_prefixes", "allowed_scopes")


def _granted_by(claim: Any) -> set[str]:
    if isinstance(claim, str):
        return set(claim.split(" "))
    return set(claim) if isinstance(claim, list) else set()


def test_one_input(data: bytes) -> None:
    """Read the scopes of one claim set and check the reader's contract."""
    config_json, claims_json = split(data, 2)
    try:
        config = loads_object(config_json) if config_json else {}
        claims = loads_object(claims_json)
    except JSONError:
        return
    entry = {**_FIXED, **{name: config[name] for name in _FIELDS if name in config}}
    issuer = parse_issuer(entry, allow_http_loopback=False, where="fuzz")
    for path in (issuer.scope_claim, *(key for key in config if isinstance(key, str))):
        claim_at(claims, path)
    try:
        scopes = extract_scopes(claims, issuer)
    except InvalidClaim:
        return
    assert isinstance(scopes, frozenset) and len(scopes) <= MAX_SCOPES
    assert all(isinstance(scope, str) and scope for scope in scopes)
    if issuer.allowed_scopes is not None:
        assert scopes <= issuer.allowed_scopes
    if not issuer.scope_prefixes:
        assert scopes <= _granted_by(claim_at(claims, issuer.scope_claim))
        for scope in scopes:
            assert len(scope) <= MAX_SCOPE_LENGTH and scope.isprintable() and " " not in scope, repr(scope)


if __name__ == "__main__":
    # Dropped scopes are logged: in a campaign each record is made, and thrown away.
    logger = logging.getLogger("django_bearer_guard")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False
    fuzz(test_one_input)
