"""DRF's own 401 and 403 responses in the RFC 6750 body shape.

:func:`exception_handler` wraps DRF's default handler. The library's own refusals already have
the shape; DRF's ``NotAuthenticated``, ``AuthenticationFailed`` and ``PermissionDenied`` (raised
by ``IsAuthenticated``, ``DjangoModelPermissions`` and other permission classes) get it here.
Everything else keeps DRF's behaviour.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from django_bearer_guard._drf import AccessDenied, BearerGuardAPIException, token_exception
from django_bearer_guard._refusals import MISSING_TOKEN
from django_bearer_guard.exceptions import InsufficientScope
from django_bearer_guard.tokens.verified import VerifiedToken

__all__ = ["MISSING_TOKEN", "exception_handler"]

logger = logging.getLogger("django_bearer_guard")

_MISSING_DESCRIPTION = "The request carries no access token."


def _description(exc: exceptions.APIException, default: str) -> str:
    detail = exc.detail
    return str(detail) if isinstance(detail, str) else default


def _body(error: str, description: str) -> Any:
    return {"error": error, "error_description": description}


def _shaped(exc: Exception, context: dict[str, Any]) -> Exception:
    """``exc`` as the exception whose DRF rendering has the RFC 6750 shape."""
    if isinstance(exc, (BearerGuardAPIException, AccessDenied)):
        return exc
    if isinstance(exc, exceptions.NotAuthenticated):
        # RFC 6750 §3.1: no credentials, so the challenge keeps no error code; only the body names it.
        exc.detail = _body(MISSING_TOKEN, _description(exc, _MISSING_DESCRIPTION))
        return exc
    if isinstance(exc, exceptions.AuthenticationFailed):
        exc.detail = _body("invalid_token", _description(exc, "The access token is invalid."))
        return exc
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    if not isinstance(exc, exceptions.PermissionDenied):
        return exc
    request = context.get("request")
    token = getattr(request, "auth", None)
    description = _description(exc, "You do not have permission to perform this action.")
    if isinstance(token, VerifiedToken):
        # RFC 6750 §3.1: a token that may not do this gets insufficient_scope and its challenge.
        view = type(context.get("view")).__qualname__
        logger.info("%s refused a token of %r: %s", view, token.issuer, description)
        return token_exception(InsufficientScope(description, description=description), token)
    return AccessDenied(description)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's default handler, with DRF's own 401s and 403s in the RFC 6750 body shape.

    Set ``REST_FRAMEWORK["EXCEPTION_HANDLER"] = "django_bearer_guard.exceptions.exception_handler"``.
    A request without credentials answers ``{"error": "missing_token", …}`` with the plain
    challenge; a DRF ``AuthenticationFailed`` answers ``invalid_token``; a ``PermissionDenied``
    answers ``insufficient_scope`` with its challenge for a bearer token and ``access_denied``
    otherwise. Other exceptions (validation, throttling, 404) render as DRF renders them.
    """
    return drf_exception_handler(_shaped(exc, context), context)
