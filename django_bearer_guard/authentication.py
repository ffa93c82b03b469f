"""The DRF face: ``BearerTokenAuthentication``."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from django_bearer_guard._drf import (
    BearerGuardAPIException,
    api_exception,
    check_issuer_allowed,
    realm,
)
from django_bearer_guard.challenges import bearer_challenge
from django_bearer_guard.conf import require_valid
from django_bearer_guard.exceptions import BearerGuardError, InvalidToken, KeysUnavailable
from django_bearer_guard.identity.principal import resolve_user
from django_bearer_guard.runtime import get_runtime
from django_bearer_guard.signals import token_rejected, token_validated
from django_bearer_guard.tokens.credentials import parse_authorization
from django_bearer_guard.tokens.validator import TokenValidator
from django_bearer_guard.tokens.verified import VerifiedToken

__all__ = ["BearerGuardAPIException", "BearerTokenAuthentication"]

logger = logging.getLogger("django_bearer_guard")


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
            runtime = get_runtime()
            credential = parse_authorization(header, max_bytes=runtime.settings.max_token_bytes)
            if credential is None:
                return None
            require_valid(runtime.settings)
            token = TokenValidator(runtime).validate(credential[1])
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
        return api_exception(error)

    def authenticate_header(self, request: Request) -> str:
        """The challenge for requests that carried no credential (RFC 6750 §3.1: no error code)."""
        return bearer_challenge(realm())
