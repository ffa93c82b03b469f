"""The one adapter from library errors to DRF exceptions, shared by every face.

A :class:`~django_bearer_guard.exceptions.BearerGuardError` becomes a
:class:`BearerGuardAPIException` with the error's status, the RFC 6750 body and its
``WWW-Authenticate`` challenge; refusals no token could better are :class:`AccessDenied`.
"""

from __future__ import annotations

import logging
from typing import Any

from rest_framework.exceptions import APIException

from django_bearer_guard.challenges import bearer_challenge, dpop_challenge
from django_bearer_guard.conf import get_settings
from django_bearer_guard.exceptions import BearerGuardError, InsufficientScope, UseDPoPNonce
from django_bearer_guard.identity.binding import proof_algorithms
from django_bearer_guard.runtime import get_runtime
from django_bearer_guard.tokens.verified import VerifiedToken

__all__ = [
    "AccessDenied",
    "BearerGuardAPIException",
    "api_exception",
    "check_issuer_allowed",
    "metadata_params",
    "parse_allowed_issuers",
    "realm",
    "token_exception",
]

logger = logging.getLogger("django_bearer_guard")


class BearerGuardAPIException(APIException):
    """A library error as a DRF exception, with its status and ``WWW-Authenticate`` challenge.

    It is not an ``AuthenticationFailed``, so DRF keeps its status and challenge whatever
    the order of the authentication classes; the default exception handler copies
    ``auth_header`` into ``WWW-Authenticate``.
    """

    def __init__(
        self, error: BearerGuardError, auth_header: str | None, headers: dict[str, str] | None = None
    ) -> None:
        self.status_code = error.status_code
        self.auth_header = auth_header
        self.headers = headers or {}
        """Response headers beyond the challenge (``DPoP-Nonce``)."""
        super().__init__(
            detail={"error": error.error, "error_description": error.description}, code=error.error
        )


class AccessDenied(APIException):
    """403 ``{"error": "access_denied", "error_description": …}``, without a challenge.

    Raised when no token could do better: the workload is not allowed, the object belongs to
    someone else, or the view declares no scopes.
    """

    status_code = 403
    default_code = "access_denied"

    def __init__(self, description: str) -> None:
        super().__init__(detail={"error": "access_denied", "error_description": description})


def realm() -> str:
    """The configured realm; ``"api"`` when the settings cannot be read."""
    try:
        return get_settings().realm
    except Exception:  # the realm must never turn a 401 into a 500
        return "api"


def metadata_params() -> dict[str, str]:
    """``resource_metadata`` for a 401 challenge when ``RESOURCE_METADATA`` is set (RFC 9728 §5.1)."""
    try:
        metadata = get_settings().resource_metadata
    except Exception:  # the challenge must never turn a 401 into a 500
        return {}
    return {} if metadata is None else {"resource_metadata": metadata.url}


def api_exception(error: BearerGuardError, *, dpop_algs: tuple[str, ...] | None = None) -> BearerGuardAPIException:
    """The DRF exception for ``error``: its status, RFC 6750 body and Bearer challenge.

    With ``dpop_algs`` (a request that used the DPoP scheme), the challenge is a ``DPoP`` one
    naming those proof algorithms, and a :class:`~django_bearer_guard.exceptions.UseDPoPNonce`
    carries its nonce in ``headers["DPoP-Nonce"]`` (RFC 9449 §7.1, §8).
    """
    # RFC 6750 §3.1: a 403 insufficient_scope names the scope the resource needs.
    scope = " ".join(error.scopes) if isinstance(error, InsufficientScope) else None
    extra = error.challenge_params()
    if error.status_code == 401:
        extra.update(metadata_params())
    if dpop_algs is not None:
        headers = {"DPoP-Nonce": error.nonce} if isinstance(error, UseDPoPNonce) else None
        challenge = dpop_challenge(realm(), dpop_algs, error.error, error.description, scope, **extra)
        return BearerGuardAPIException(error, challenge, headers)
    challenge = bearer_challenge(realm(), error.error, error.description, scope, **extra)
    return BearerGuardAPIException(error, challenge)


def token_exception(error: BearerGuardError, token: Any) -> BearerGuardAPIException:
    """:func:`api_exception` for a request authenticated with ``token`` (``request.auth``).

    A request that proved a DPoP key used the DPoP scheme, so its refusals (a missing scope, a
    refused path) carry a ``DPoP`` challenge too (RFC 9449 §7.1).
    """
    binding = getattr(token, "binding", None)
    if binding is None or "jkt" not in binding.methods:
        return api_exception(error)
    try:
        issuer = get_runtime().issuers.get(token.issuer)
    except Exception:  # the issuer left the trusted set since: offer every proof algorithm
        issuer = None
    return api_exception(error, dpop_algs=proof_algorithms(issuer))


def parse_allowed_issuers(allowed: Any) -> frozenset[str] | None:
    """A view's ``allowed_issuers`` as a set (``None``: every trusted issuer).

    Raises :class:`TypeError` for anything but a list (or tuple, set) of non-empty strings.
    """
    if allowed is None:
        return None
    if isinstance(allowed, str) or not isinstance(allowed, (list, tuple, set, frozenset)):
        raise TypeError("allowed_issuers must be a list of exact 'iss' values")
    if not all(isinstance(entry, str) and entry for entry in allowed):
        raise TypeError("allowed_issuers must hold non-empty strings")
    return frozenset(allowed)


def check_issuer_allowed(view: Any, token: VerifiedToken) -> None:
    """Raise :class:`AccessDenied` unless ``token.issuer`` is in the view's ``allowed_issuers``.

    ``allowed_issuers`` is a list of exact ``iss`` values; absent or ``None`` admits every
    trusted issuer. A value that is not a list of non-empty strings refuses every request
    (logged), so a typo never opens the view to every issuer.
    """
    try:
        allowed = parse_allowed_issuers(getattr(view, "allowed_issuers", None))
    except TypeError as exc:
        logger.error("%s: %s; request refused", type(view).__qualname__, exc)
        raise AccessDenied("This resource does not accept tokens of this issuer.") from None
    # An issuer speaks only for itself: a partner's token must not reach another issuer's views.
    if allowed is not None and token.issuer not in allowed:
        logger.info("%s refuses issuer %r (allowed_issuers)", type(view).__qualname__, token.issuer)
        raise AccessDenied("This resource does not accept tokens of this issuer.")
