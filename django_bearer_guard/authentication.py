"""The DRF face: ``BearerTokenAuthentication``."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import APIException
from rest_framework.request import Request

from django_bearer_guard.challenges import bearer_challenge
from django_bearer_guard.conf import get_settings, on_reload, require_valid
from django_bearer_guard.exceptions import BearerGuardError, InvalidToken, KeysUnavailable
from django_bearer_guard.identity.principal import resolve_user
from django_bearer_guard.signals import token_rejected, token_validated
from django_bearer_guard.tokens.credentials import parse_authorization
from django_bearer_guard.tokens.validator import TokenValidator
from django_bearer_guard.tokens.verified import VerifiedToken

__all__ = [
    "AccessDenied",
    "BearerGuardAPIException",
    "BearerTokenAuthentication",
    "check_issuer_allowed",
    "parse_allowed_issuers",
]

logger = logging.getLogger("django_bearer_guard")
_validator: TokenValidator | None = None


@on_reload
def _drop_validator() -> None:
    global _validator
    _validator = None


def _get_validator() -> TokenValidator:
    global _validator
    if _validator is None:
        settings = get_settings()
        require_valid(settings)
        _validator = TokenValidator(settings)
    return _validator


class BearerGuardAPIException(APIException):
    """A library error as a DRF exception, with its status and ``WWW-Authenticate`` challenge.

    It is not an ``AuthenticationFailed``, so DRF keeps its status and challenge whatever
    the order of the authentication classes; the default exception handler copies
    ``auth_header`` into ``WWW-Authenticate``.
    """

    def __init__(self, error: BearerGuardError, auth_header: str | None) -> None:
        self.status_code = error.status_code
        self.auth_header = auth_header
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


def _realm() -> str:
    try:
        return get_settings().realm
    except Exception:  # the realm must never turn a 401 into a 500
        return "api"


class BearerTokenAuthentication(BaseAuthentication):
    """Authenticate ``Authorization: Bearer <jwt>`` against the trusted issuers.

    Returns ``(user, VerifiedToken)``: the user is a stateless ``TokenUser`` unless
    ``USER_LOOKUP`` is set. Requests without a Bearer credential return ``None`` so other
    authentication classes can try. Refusals raise :class:`BearerGuardAPIException`:
    400 ``invalid_request`` for a malformed header, 401 ``invalid_token`` for a bad token.
    """

    def authenticate(self, request: Request) -> tuple[Any, VerifiedToken] | None:
        """Validate the request's Bearer token, or return ``None`` when there is none."""
        # The wrapped HttpRequest's META, without DRF's attribute proxying on the hot path.
        header = getattr(request, "_request", request).META.get("HTTP_AUTHORIZATION")
        if header is None:
            return None
        try:
            settings = get_settings()
            credential = parse_authorization(header, max_bytes=settings.max_token_bytes)
            if credential is None:
                return None
            token = _get_validator().validate(credential[1])
            user = resolve_user(token)
        except BearerGuardError as error:
            raise self.reject(request, error) from None
        except ImproperlyConfigured as exc:
            # Misconfiguration fails closed; `manage.py check` names the setting to fix.
            logger.error("bearer tokens are refused: %s", exc)
            raise self.reject(request, KeysUnavailable(f"misconfigured: {exc}")) from None
        except Exception as exc:
            # Never a 500 for client input: an unexpected failure is logged and fails closed.
            logger.exception("bearer token validation failed unexpectedly")
            raise self.reject(
                request, InvalidToken(f"unexpected {type(exc).__name__}: {exc}")
            ) from None
        # allowed_issuers holds for the whole view, whatever its permission classes and operators.
        view = (getattr(request, "parser_context", None) or {}).get("view")
        if view is not None:
            check_issuer_allowed(view, token)
        token_validated.send(sender=type(self), token=token, request=request)
        return user, token

    def reject(self, request: Request, error: BearerGuardError) -> BearerGuardAPIException:
        """Log and signal ``error``; return the DRF exception to raise."""
        logger.info(
            "bearer token rejected: %s (%s) path=%s", error.reason, type(error).__name__, request.path
        )
        token_rejected.send(sender=type(self), error=error, reason=error.reason, request=request)
        return BearerGuardAPIException(
            error, bearer_challenge(_realm(), error.error, error.description)
        )

    def authenticate_header(self, request: Request) -> str:
        """The challenge for requests that carried no credential (RFC 6750 §3.1: no error code)."""
        return bearer_challenge(_realm())
