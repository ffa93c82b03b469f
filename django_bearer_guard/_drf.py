"""The one adapter from library errors to DRF exceptions, shared by the DRF faces.

A :class:`~django_bearer_guard.exceptions.BearerGuardError` becomes a
:class:`BearerGuardAPIException` with the error's status, the RFC 6750 body and its
``WWW-Authenticate`` challenge, as :mod:`django_bearer_guard._refusals` answers it for every
face; refusals no token could better are :class:`AccessDenied`.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import APIException

from django_bearer_guard._authenticate import check_issuer_allowed as check_issuer
from django_bearer_guard._authenticate import parse_allowed_issuers
from django_bearer_guard._refusals import AccessRefused, answer, metadata_params, realm, token_dpop_algs
from django_bearer_guard.exceptions import BearerGuardError
from django_bearer_guard.tokens.verified import VerifiedToken

__all__ = [
    "AccessDenied",
    "BearerGuardAPIException",
    "api_exception",
    "check_issuer_allowed",
    "metadata_params",
    "parse_allowed_issuers",
    "realm",
    "refusal_exception",
    "token_exception",
]


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


def api_exception(error: BearerGuardError, *, dpop_algs: tuple[str, ...] | None = None) -> BearerGuardAPIException:
    """The DRF exception for ``error``: its status, RFC 6750 body and Bearer challenge.

    With ``dpop_algs`` (a request that used the DPoP scheme), the challenge is a ``DPoP`` one
    naming those proof algorithms, and a :class:`~django_bearer_guard.exceptions.UseDPoPNonce`
    carries its nonce in ``headers["DPoP-Nonce"]`` (RFC 9449 §7.1, §8). The answer is
    :func:`django_bearer_guard._refusals.answer`'s, as for every face.
    """
    headers = dict(answer(error, dpop_algs=dpop_algs).headers)
    challenge = headers.pop("WWW-Authenticate")
    return BearerGuardAPIException(error, challenge, headers)


def token_exception(error: BearerGuardError, token: Any) -> BearerGuardAPIException:
    """:func:`api_exception` for a request authenticated with ``token`` (``request.auth``).

    A request that proved a DPoP key used the DPoP scheme, so its refusals (a missing scope, a
    refused path) carry a ``DPoP`` challenge too (RFC 9449 §7.1).
    """
    return api_exception(error, dpop_algs=token_dpop_algs(token))


def refusal_exception(error: BearerGuardError | AccessRefused, token: Any = None) -> APIException:
    """The DRF exception for a refusal of the core checks: :class:`AccessDenied` for an
    :class:`~django_bearer_guard._refusals.AccessRefused`, :func:`token_exception` otherwise."""
    if isinstance(error, AccessRefused):
        return AccessDenied(error.description)
    return token_exception(error, token)


def check_issuer_allowed(view: Any, token: VerifiedToken) -> None:
    """Raise :class:`AccessDenied` unless ``token.issuer`` is in the view's ``allowed_issuers``.

    ``allowed_issuers`` is a list of exact ``iss`` values; absent or ``None`` admits every
    trusted issuer. A value that is not a list of non-empty strings refuses every request
    (logged), so a typo never opens the view to every issuer.
    """
    try:
        check_issuer(getattr(view, "allowed_issuers", None), token, name=type(view).__qualname__)
    except AccessRefused as refusal:
        raise AccessDenied(refusal.description) from None
