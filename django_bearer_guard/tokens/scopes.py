"""The scopes a verified token carries, read from the issuer's scope claim.

Identity providers put scopes in different places: ``scope`` (a space-delimited string,
RFC 8693 §4.2 and RFC 9068 §2.2.3), ``scp`` (a string or a list, Microsoft Entra ID and Okta),
``permissions`` (a list, Auth0) or nested role lists (``realm_access.roles`` and
``resource_access.<client>.roles``, Keycloak). ``scope_claim`` names one of them, or a list of
them whose scopes are united (Entra ID's ``scp`` and ``roles``); a dotted name walks into
nested objects.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django_bearer_guard.exceptions import InvalidClaim
from django_bearer_guard.issuers.config import IssuerConfig

__all__ = ["MAX_SCOPES", "MAX_SCOPE_LENGTH", "claim_at", "extract_scopes", "map_prefix"]

logger = logging.getLogger("django_bearer_guard")
MAX_SCOPES = 256
MAX_SCOPE_LENGTH = 256


class _NotAnObject(Exception):
    """A dotted claim path runs through a value that is not a JSON object."""


_ABSENT: Any = object()


def _walk(claims: Mapping[str, Any], path: str) -> Any:
    if path in claims:
        return claims[path]  # the whole path is the longest run there is
    node: Any = claims
    parts = path.split(".")
    while parts:
        if not isinstance(node, Mapping):
            raise _NotAnObject(path)
        # The longest run of components naming a key wins, so "resource_access.api.example.roles"
        # finds a client called "api.example" and a literal "a.b" claim wins over {"a": {"b": …}}.
        for size in range(len(parts), 0, -1):
            key = ".".join(parts[:size])
            if key in node:
                node, parts = node[key], parts[size:]
                break
        else:
            return _ABSENT
    return node


def claim_at(claims: Mapping[str, Any], path: str) -> Any:
    """The value of the claim at ``path``, or ``None`` when it is absent.

    ``path`` is a claim name or a dotted path into nested objects. At each level the longest
    run of dotted components that names a key is taken, so a literal claim name containing
    dots wins over a nested lookup. A path that runs through a value that is not an object
    finds nothing.
    """
    try:
        value = _walk(claims, path)
    except _NotAnObject:
        return None
    return None if value is _ABSENT else value


def _check_scope(scope: str, claim: str, *, printable: bool) -> None:
    if not scope:
        raise InvalidClaim(f"'{claim}' holds an empty scope")
    # Oversized claims are refused rather than trimmed: they are not something an IdP sends.
    if len(scope) > MAX_SCOPE_LENGTH:
        raise InvalidClaim(f"'{claim}' holds a scope of {len(scope)} characters, over {MAX_SCOPE_LENGTH}")
    # RFC 6749 §3.3: a scope token has no whitespace; control characters could forge log lines.
    # isprintable() is false for every control and separator character except the ASCII space;
    # a split string was checked whole already.
    if not printable and (" " in scope or not scope.isprintable()):
        raise InvalidClaim(f"'{claim}' holds a scope with whitespace or control characters")


def _split(value: Any, claim: str) -> list[str]:
    if isinstance(value, str):
        if len(value) > MAX_SCOPES * (MAX_SCOPE_LENGTH + 1):
            raise InvalidClaim(f"'{claim}' is {len(value)} characters long")
        if not value.isprintable():
            raise InvalidClaim(f"'{claim}' holds a scope with whitespace or control characters")
        # RFC 6749 §3.3: scope tokens are separated by spaces; runs of spaces are tolerated.
        items = [item for item in value.split(" ") if item]
        printable = True
    elif isinstance(value, list):
        if not all(isinstance(item, str) for item in value):
            raise InvalidClaim(f"'{claim}' must be a list of strings")
        items = value
        printable = False
    else:
        raise InvalidClaim(f"'{claim}' must be a string or a list of strings, not {type(value).__name__}")
    if len(items) > MAX_SCOPES:
        raise InvalidClaim(f"'{claim}' holds {len(items)} scopes, over {MAX_SCOPES}")
    for item in items:
        _check_scope(item, claim, printable=printable)
    return items


def map_prefix(scope: str, prefixes: tuple[tuple[str, str], ...]) -> str:
    """``scope`` with the first matching prefix of ``prefixes`` replaced, once.

    ``prefixes`` is the issuer's ``scope_prefixes``, longest prefix first, so the most specific
    prefix wins. A scope that matches no prefix is returned unchanged.
    """
    for prefix, replacement in prefixes:
        if scope.startswith(prefix):
            return replacement + scope[len(prefix) :]
    return scope


def extract_scopes(claims: Mapping[str, Any], issuer: IssuerConfig) -> frozenset[str]:
    """The scopes in ``claims`` according to ``issuer.scope_claims`` and ``issuer.scope_prefixes``.

    The scopes of every claim in ``scope_claims`` are united. An absent (or ``null``) claim
    gives no scopes. A string is split on spaces; a list must hold
    only strings. At most :data:`MAX_SCOPES` scopes of at most :data:`MAX_SCOPE_LENGTH`
    characters each, none empty, none with whitespace or control characters: anything else
    raises :class:`~django_bearer_guard.exceptions.InvalidClaim`. A scope that maps to the
    empty string is dropped. When the issuer has ``allowed_scopes``, scopes outside it (after
    the prefix mapping) are dropped and logged.
    """
    scopes: list[str] = []
    # Entra ID puts delegated scopes in scp and app roles in roles: the scopes of every claim count.
    for claim in issuer.scope_claims or (issuer.scope_claim,):
        try:
            value = _walk(claims, claim)
        except _NotAnObject:
            raise InvalidClaim(f"'{claim}' runs through a value that is not an object") from None
        if value is not _ABSENT and value is not None:
            scopes.extend(_split(value, claim))
    if not scopes:
        return frozenset()
    if issuer.scope_prefixes:
        mapped = (map_prefix(scope, issuer.scope_prefixes) for scope in scopes)
        scopes = [scope for scope in mapped if scope]
    granted = frozenset(scopes)
    if issuer.allowed_scopes is None:
        return granted
    # An issuer speaks only for itself: a partner IdP cannot grant scopes it was not trusted with.
    dropped = granted - issuer.allowed_scopes
    if dropped:
        logger.warning(
            "issuer %r granted scopes outside its allowed_scopes, dropped: %s", issuer.issuer, sorted(dropped)
        )
    return granted & issuer.allowed_scopes
