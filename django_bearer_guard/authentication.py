"""The DRF face: ``BearerTokenAuthentication``."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from django_bearer_guard._drf import (
    BearerGuardAPIException,
    api_exception,
    check_issuer_allowed,
    metadata_params,
    realm,
)
from django_bearer_guard.challenges import bearer_challenge
from django_bearer_guard.conf import require_valid
from django_bearer_guard.exceptions import BearerGuardError, InvalidToken, KeysUnavailable
from django_bearer_guard.identity.binding import Presentation, RequestBinder
from django_bearer_guard.identity.principal import resolve_user
from django_bearer_guard.runtime import get_runtime
from django_bearer_guard.signals import token_rejected, token_validated
from django_bearer_guard.tokens.credentials import parse_authorization
from django_bearer_guard.tokens.validator import TokenValidator
from django_bearer_guard.tokens.verified import VerifiedToken

__all__ = ["BearerGuardAPIException", "BearerTokenAuthentication"]

logger = logging.getLogger("django_bearer_guard")


# RFC 3986 §3.3 pchar beyond the unreserved characters: everything else in a path is percent-encoded.
_PATH_SAFE = "/:@!$&'()*+,;="


def _request_url(request: Any) -> str:
    """The request's URL for a DPoP proof's ``htu``: its decoded path encoded again, joined to nothing.

    A decoded ``?``, ``#`` or ``%`` is encoded again and no URL join reads a leading ``//`` as a
    host, so the request path cannot make the URL name another resource or server.
    """
    return f"{request.scheme}://{request.get_host()}{quote(request.path, safe=_PATH_SAFE)}"


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
        header = django_request.META.get("HTTP_AUTHORIZATION")
        if header is None:
            return None
        binder: RequestBinder | None = None
        view = (getattr(request, "parser_context", None) or {}).get("view")
        try:
            runtime = get_runtime()
            credential = parse_authorization(
                header, schemes=("bearer", "dpop"), max_bytes=runtime.settings.max_token_bytes
            )
            if credential is None:
                return None
            require_valid(runtime.settings)
            presentation = Presentation(
                scheme=credential[0],
                method=django_request.method or "",
                url=lambda: _request_url(django_request),
                meta=django_request.META,
            )
            binder = RequestBinder(presentation, runtime.settings)
            token = TokenValidator(runtime).validate(credential[1], binder=binder)
            user = resolve_user(token)
        except BearerGuardError as error:
            raise self.reject(request, error, binder, view) from None
        except SuspiciousOperation:
            # A Host outside ALLOWED_HOSTS (building a DPoP proof's URL): Django's own 400 and security log.
            raise
        except ImproperlyConfigured as exc:
            # Misconfiguration fails closed; `manage.py check` names the setting to fix.
            logger.error("bearer tokens are refused: %s", exc)
            raise self.reject(request, KeysUnavailable(f"misconfigured: {exc}"), binder, view) from None
        except Exception as exc:
            # Never a 500 for client input: an unexpected failure is logged and fails closed.
            logger.exception("bearer token validation failed unexpectedly")
            raise self.reject(
                request, InvalidToken(f"unexpected {type(exc).__name__}: {exc}"), binder, view
            ) from None
        if binder.fresh_nonce is not None and view is not None:
            # RFC 9449 §8.2: the next proof should carry the nonce of the current period.
            view.headers["DPoP-Nonce"] = binder.fresh_nonce
        # allowed_issuers holds for the whole view, whatever its permission classes and operators.
        if view is not None:
            check_issuer_allowed(view, token)
        token_validated.send(sender=type(self), token=token, request=request)
        return user, token

    def reject(
        self, request: Request, error: BearerGuardError, binder: RequestBinder | None = None, view: Any = None
    ) -> BearerGuardAPIException:
        """Log and signal ``error``; return the DRF exception to raise."""
        logger.info(
            "bearer token rejected: %s (%s) path=%r", error.reason, type(error).__name__, request.path
        )
        token_rejected.send(sender=type(self), error=error, reason=error.reason, request=request)
        dpop = binder is not None and binder.presentation.scheme == "dpop"
        exception = api_exception(error, dpop_algs=binder.proof_algorithms() if binder and dpop else None)
        if exception.headers and view is not None:
            # DRF's exception handler sets only WWW-Authenticate; the view adds its headers to any response.
            view.headers.update(exception.headers)
        return exception

    def authenticate_header(self, request: Request) -> str:
        """The challenge for requests that carried no credential (RFC 6750 §3.1: no error code)."""
        return bearer_challenge(realm(), **metadata_params())
