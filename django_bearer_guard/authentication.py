"""The DRF face: ``BearerTokenAuthentication``."""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import APIException
from rest_framework.request import Request

from django_bearer_guard._authenticate import Rejected, authenticate, refuse
from django_bearer_guard._drf import AccessDenied, BearerGuardAPIException, api_exception
from django_bearer_guard._refusals import AccessRefused, missing_challenge
from django_bearer_guard.exceptions import BearerGuardError
from django_bearer_guard.identity.binding import RequestBinder
from django_bearer_guard.tokens.verified import VerifiedToken

__all__ = ["BearerGuardAPIException", "BearerTokenAuthentication"]


class BearerTokenAuthentication(BaseAuthentication):
    """Authenticate ``Authorization: Bearer <jwt>`` (and ``DPoP <jwt>``) against the trusted issuers.

    Returns ``(user, VerifiedToken)``: the user is a stateless ``TokenUser`` unless
    ``USER_LOOKUP`` is set. Requests without a Bearer or DPoP credential return ``None`` so other
    authentication classes can try. Refusals raise :class:`BearerGuardAPIException`:
    400 ``invalid_request`` for a malformed header, 401 ``invalid_token`` for a bad token, 401
    ``invalid_dpop_proof`` or ``use_dpop_nonce`` for a DPoP proof (with a ``DPoP`` challenge).
    Sender-constrained tokens are checked against the request (:mod:`django_bearer_guard.identity.binding`).
    """

    def authenticate(self, request: Request) -> tuple[Any, VerifiedToken] | None:
        """Validate the request's token, or return ``None`` when there is none."""
        # The wrapped HttpRequest's META, without DRF's attribute proxying on the hot path.
        django_request = getattr(request, "_request", request)
        view = (getattr(request, "parser_context", None) or {}).get("view")
        try:
            admitted = authenticate(
                django_request,
                sender=type(self),
                reported=request,
                allowed_issuers=getattr(view, "allowed_issuers", None),
                name=type(view).__qualname__,
            )
        except Rejected as rejected:
            raise self._exception(rejected, view) from None
        if admitted is None:
            return None
        if admitted.nonce is not None and view is not None:
            # RFC 9449 §8.2: the next proof should carry the nonce of the current period.
            view.headers["DPoP-Nonce"] = admitted.nonce
        return admitted.user, admitted.token

    def reject(
        self, request: Request, error: BearerGuardError, binder: RequestBinder | None = None, view: Any = None
    ) -> BearerGuardAPIException:
        """Log and signal ``error``; return the DRF exception to raise."""
        rejected = refuse(error, request=request, sender=type(self), binder=binder)
        exception = api_exception(error, dpop_algs=rejected.dpop_algs)
        _add_headers(view, exception.headers)
        return exception

    def _exception(self, rejected: Rejected, view: Any) -> APIException:
        if isinstance(rejected.error, AccessRefused):
            exception: APIException = AccessDenied(rejected.error.description)
            headers: dict[str, str] = {}
        else:
            exception = api_exception(rejected.error, dpop_algs=rejected.dpop_algs)
            headers = dict(exception.headers)
        if rejected.nonce is not None:
            headers.setdefault("DPoP-Nonce", rejected.nonce)
        _add_headers(view, headers)
        return exception

    def authenticate_header(self, request: Request) -> str:
        """The challenge for requests that carried no credential (RFC 6750 §3.1: no error code)."""
        return missing_challenge()


def _add_headers(view: Any, headers: dict[str, str]) -> None:
    if headers and view is not None:
        # DRF's exception handler sets only WWW-Authenticate; the view adds its headers to any response.
        view.headers.update(headers)
