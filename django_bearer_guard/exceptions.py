"""One error tree for everything the library refuses.

Every error derives from :class:`GuardError`, and every one carries ``reason``, the
detailed cause, for logs and the ``token_rejected`` signal only::

    GuardError
    ├── BearerGuardError            a request or a token is refused (RFC 6750)
    │   ├── InvalidRequest          400 invalid_request
    │   │   ├── MalformedCredentials
    │   │   └── PathRefused
    │   ├── InvalidToken            401 invalid_token
    │   │   ├── TokenTooLarge, MalformedToken, … UnverifiedBinding, BindingMismatch
    │   │   └── InvalidDPoPProof    401 invalid_dpop_proof (RFC 9449)
    │   │       └── UseDPoPNonce    401 use_dpop_nonce, with a fresh nonce
    │   ├── InsufficientScope       403 insufficient_scope
    │   │   └── RootUnavailable
    │   └── InsufficientUserAuthentication  401 insufficient_user_authentication (RFC 9470)
    ├── KeySetError                 a key set cannot be parsed, trusted or fetched
    │   └── MalformedKeySet, WeakKey, … KeyFetchError
    ├── MalformedXfcc               an X-Forwarded-Client-Cert header breaks Envoy's grammar (no identity)
    ├── FileMissing                 the file view has nothing to serve (404)
    └── RangeNotSatisfiable         the one requested byte range is beyond the file (416)

Request and token errors carry an RFC 6750 error code and an HTTP status; their
``description`` is safe to send to the client.
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar

__all__ = [
    "BadSignature",
    "BearerGuardError",
    "BindingMismatch",
    "DisallowedAlgorithm",
    "DuplicateKeyId",
    "ExpiredToken",
    "FileMissing",
    "ForbiddenHeader",
    "GuardError",
    "InsufficientScope",
    "InsufficientUserAuthentication",
    "InvalidClaim",
    "InvalidDPoPProof",
    "InvalidRequest",
    "InvalidToken",
    "IssuedInFuture",
    "KeyFetchError",
    "KeyMismatch",
    "KeySetError",
    "KeysUnavailable",
    "MalformedCredentials",
    "MalformedKeySet",
    "MalformedToken",
    "MalformedXfcc",
    "MissingClaim",
    "MixedKeySet",
    "NoSigningKeys",
    "NotYetValid",
    "PathRefused",
    "PrivateKeyMaterial",
    "RangeNotSatisfiable",
    "RootUnavailable",
    "TokenTooLarge",
    "UnknownKey",
    "UntrustedIssuer",
    "UnverifiedBinding",
    "UseDPoPNonce",
    "UserRejected",
    "WeakKey",
    "WrongAudience",
    "WrongTenant",
    "WrongType",
]


class GuardError(Exception):
    """Base of every error the library raises; ``reason`` is the detailed cause."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class BearerGuardError(GuardError):
    """Base of every error raised for a request or a token."""

    error: ClassVar[str] = "invalid_request"
    status_code: ClassVar[int] = 400
    default_description: ClassVar[str] = "The request is malformed."

    def __init__(self, reason: str = "", *, description: str | None = None) -> None:
        self.description = description or self.default_description
        super().__init__(reason or self.default_description)

    def challenge_params(self) -> dict[str, str]:
        """Challenge parameters beyond the error code and description (none by default)."""
        return {}


class InvalidRequest(BearerGuardError):
    """The request is malformed (RFC 6750 ``invalid_request``, 400)."""


class MalformedCredentials(InvalidRequest):
    """The Authorization header does not follow the Bearer grammar."""

    default_description = "The Authorization header is malformed."


class PathRefused(InvalidRequest):
    """The requested path breaks the path policy (400 ``invalid_request``)."""

    default_description = "The requested path is not acceptable."


class InvalidToken(BearerGuardError):
    """The token is unusable (RFC 6750 ``invalid_token``, 401).

    Refusals decided before the signature is verified (the leaves from
    :class:`TokenTooLarge` to :class:`BadSignature`) share this class's generic
    description, so a caller cannot learn which issuers, keys or algorithms are trusted.
    """

    error = "invalid_token"
    status_code = 401
    default_description = "The access token is invalid."


class TokenTooLarge(InvalidToken):
    """The credential is longer than ``MAX_TOKEN_BYTES``."""


class MalformedToken(InvalidToken):
    """The token is not a well-formed compact JWS."""


class ForbiddenHeader(InvalidToken):
    """The JOSE header uses a member the library refuses (crit, b64, jku, x5u, jwk, x5c…)."""


class DisallowedAlgorithm(InvalidToken):
    """The token's ``alg`` is not allowed for this issuer or key."""


class UntrustedIssuer(InvalidToken):
    """The token's ``iss`` is not a trusted issuer."""


class UnknownKey(InvalidToken):
    """No key of the issuer matches the token's ``kid`` and ``alg``."""


class KeysUnavailable(InvalidToken):
    """The issuer's keys cannot be obtained (misconfigured, or unreachable beyond the stale window)."""


class BadSignature(InvalidToken):
    """The signature does not verify."""


class ExpiredToken(InvalidToken):
    """``exp`` is in the past (beyond the leeway)."""

    default_description = "The access token has expired."


class NotYetValid(InvalidToken):
    """``nbf`` is in the future (beyond the leeway)."""

    default_description = "The access token is not valid yet."


class IssuedInFuture(InvalidToken):
    """``iat`` is in the future (beyond the leeway)."""

    default_description = "The access token was issued in the future."


class WrongAudience(InvalidToken):
    """``aud`` names none of the issuer's audiences."""

    default_description = "The access token is not meant for this audience."


class WrongTenant(InvalidToken):
    """A multi-tenant issuer's token whose ``tid`` is not the tenant its ``iss`` names."""

    default_description = "The access token's tenant does not match its issuer."


class WrongType(InvalidToken):
    """The ``typ`` header is not the one the issuer requires."""

    default_description = "The access token type is not accepted."


class MissingClaim(InvalidToken):
    """A required claim is absent or empty."""

    default_description = "The access token lacks a required claim."


class InvalidClaim(InvalidToken):
    """A claim has the wrong type or an unusable value."""

    default_description = "The access token has an invalid claim."


class UserRejected(InvalidToken):
    """The Django user named by the token is missing or inactive."""

    default_description = "The access token does not name an active user."


class UnverifiedBinding(InvalidToken):
    """The token is sender-constrained (``cnf``), and its binding cannot be verified here."""

    default_description = "The access token is bound to a key or certificate this resource cannot verify."


class BindingMismatch(InvalidToken):
    """The caller is not the workload, certificate or key the token is bound to."""

    default_description = "The access token is bound to another caller."


class InvalidDPoPProof(InvalidToken):
    """The DPoP proof is missing, malformed or does not prove possession (RFC 9449 §7.1)."""

    error = "invalid_dpop_proof"
    default_description = "The DPoP proof is invalid."


class UseDPoPNonce(InvalidDPoPProof):
    """The DPoP proof lacks the current server nonce (RFC 9449 §8); ``nonce`` is the one to use."""

    error = "use_dpop_nonce"
    default_description = "The DPoP proof must carry the server's current nonce."

    def __init__(self, reason: str = "", *, nonce: str, description: str | None = None) -> None:
        self.nonce = nonce
        super().__init__(reason, description=description)


class InsufficientScope(BearerGuardError):
    """The token lacks a scope the resource needs (RFC 6750 ``insufficient_scope``, 403)."""

    error = "insufficient_scope"
    status_code = 403
    default_description = "The access token lacks a required scope."

    def __init__(
        self,
        reason: str = "",
        *,
        scopes: tuple[str, ...] | list[str] = (),
        description: str | None = None,
    ) -> None:
        self.scopes = tuple(scopes)
        super().__init__(reason, description=description)


class RootUnavailable(InsufficientScope):
    """The token does not name a usable folder for a per-caller root (403 ``insufficient_scope``)."""

    default_description = "The access token does not give access to a folder here."


class InsufficientUserAuthentication(BearerGuardError):
    """The token's authentication is not strong or recent enough (RFC 9470 §3, 401).

    ``acr_values`` are the acceptable ``acr`` values, preferred first, when the token's ``acr``
    is not one of them; ``max_age`` the most seconds since ``auth_time``, when the token's is
    missing or older. The challenge names only the requirements the token failed.
    """

    error = "insufficient_user_authentication"
    status_code = 401
    default_description = "A stronger or more recent authentication is required."

    def __init__(
        self,
        reason: str = "",
        *,
        acr_values: tuple[str, ...] | list[str] = (),
        max_age: int | None = None,
        description: str | None = None,
    ) -> None:
        self.acr_values = tuple(acr_values)
        self.max_age = max_age
        super().__init__(reason, description=description)

    def challenge_params(self) -> dict[str, str]:
        """``acr_values`` and ``max_age`` for the challenge, each only when it failed (RFC 9470 §3)."""
        params: dict[str, str] = {}
        if self.acr_values:
            params["acr_values"] = " ".join(self.acr_values)
        if self.max_age is not None:
            params["max_age"] = str(self.max_age)
        return params


class KeySetError(GuardError):
    """Base of the errors about key sets: parsing, weak keys and fetching."""


class MalformedKeySet(KeySetError):
    """The JWKS document or one of its keys is not well formed."""


class WeakKey(KeySetError):
    """A key is too weak (short RSA modulus, short HMAC secret, ROCA modulus)."""


class KeyMismatch(KeySetError):
    """A key's ``alg``, ``kty`` and ``crv`` do not agree."""


class DuplicateKeyId(KeySetError):
    """Two keys in one set share a ``kid``."""


class MixedKeySet(KeySetError):
    """A set mixes symmetric and asymmetric keys."""


class PrivateKeyMaterial(KeySetError):
    """A key in a public key set carries private members."""


class NoSigningKeys(KeySetError):
    """The set holds no key usable for verifying signatures."""


class KeyFetchError(KeySetError):
    """Fetching a JWKS or discovery document failed."""


class MalformedXfcc(GuardError, ValueError):
    """The X-Forwarded-Client-Cert header breaks Envoy's grammar; it identifies no one."""


class FileMissing(GuardError):
    """Nothing servable at this name: absent, a directory, not a regular file or outside the root (404)."""


class RangeNotSatisfiable(GuardError):
    """The one requested range starts at or beyond the end of the file (416)."""


def __getattr__(name: str) -> Any:
    """``exception_handler``, DRF's face of this tree, imported on first use.

    It lives with the faces (only they import DRF); this name is the documented one for
    ``REST_FRAMEWORK["EXCEPTION_HANDLER"]``.
    """
    if name == "exception_handler":
        handler = importlib.import_module("django_bearer_guard._exception_handler").exception_handler
        return handler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
