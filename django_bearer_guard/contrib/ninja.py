"""django-ninja support: :class:`BearerGuard`, the bearer checks of the DRF face as a ninja
``HttpBearer``, and :func:`install`, which gives a ``NinjaAPI`` the RFC 6750 answers.

The flow is the DRF face's own (:mod:`django_bearer_guard._authenticate`), and so are the
answers (:mod:`django_bearer_guard._refusals`). Requires django-ninja 1.3 or later (the
``[ninja]`` extra).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.openapi.schema import OpenAPISchema
from ninja.operation import Operation
from ninja.security import HttpBearer

from django_bearer_guard._authenticate import Rejected, Requirements, admit
from django_bearer_guard._declarations import required_scope_sets
from django_bearer_guard._refusals import Answer, missing_answer
from django_bearer_guard.tokens.verified import VerifiedToken

__all__ = ["SCHEME", "BearerGuard", "BearerRefused", "install"]

SCHEME = "bearerAuth"
"""The name of the security scheme in the schema of an installed API (as drf-spectacular's)."""

_OFFERED = "_bearer_guard_offered"  # set on a request BearerGuard found no credential in
_NONCE = "_bearer_guard_nonce"  # a fresh DPoP nonce for the response


class BearerRefused(HttpError):
    """A refusal of :class:`BearerGuard`, with its :class:`~django_bearer_guard._refusals.Answer`.

    An ``HttpError``, so an API without :func:`install` still answers its status (with ninja's
    ``{"detail": …}`` body and no challenge).
    """

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        super().__init__(answer.status, answer.body["error_description"])


class BearerGuard(HttpBearer):
    """``auth=BearerGuard(scopes=[...])`` on a ``NinjaAPI``, a ``Router`` or an operation.

    ``scopes``, ``scopes_by_method`` and ``allowed_issuers`` read as for
    :func:`~django_bearer_guard.decorators.bearer_required`; without scopes any valid token is
    enough. ``request.auth`` becomes the
    :class:`~django_bearer_guard.tokens.verified.VerifiedToken` and ``request.user`` its user.
    A request without a Bearer or DPoP credential lets the next ``auth`` try; refusals raise
    :class:`BearerRefused`. Call :func:`install` on the API for the RFC 6750 bodies and challenges.
    """

    openapi_bearerFormat = "JWT"

    def __init__(
        self,
        scopes: Any = None,
        *,
        scopes_by_method: Mapping[str, Any] | None = None,
        allowed_issuers: Any = None,
    ) -> None:
        name = type(self).__qualname__
        self.requirements = Requirements(scopes, scopes_by_method, allowed_issuers, name=name)
        super().__init__()

    def __call__(self, request: HttpRequest) -> VerifiedToken | None:
        """The request's verified token; ``None`` without a credential. Reads the whole
        ``Authorization`` header with the library's grammar (RFC 6750 §2.1, RFC 9449 §7.1)."""
        try:
            admitted = admit(request, self.requirements, sender=type(self))
        except Rejected as rejected:
            raise BearerRefused(rejected.answer()) from None
        if admitted is None:
            setattr(request, _OFFERED, True)
            return None
        setattr(request, _NONCE, admitted.nonce)
        return admitted.token

    def authenticate(self, request: HttpRequest, token: str) -> VerifiedToken | None:
        """ninja's hook: the same as calling the guard (the header is read whole, not ``token``)."""
        return self(request)

    def security_requirement(self, method: str) -> list[str]:
        """The scopes the schema lists for ``method``: the first scope set declared for it."""
        if not self.requirements.checks_scopes:
            return []
        scope_sets = required_scope_sets(self.requirements, method)
        return list(scope_sets[0]) if scope_sets else []


def _respond(api: NinjaAPI, request: HttpRequest, reply: Answer) -> HttpResponse:
    response = api.create_response(request, reply.body, status=reply.status)
    for name, value in reply.headers.items():
        response[name] = value
    return response


class _Schema(OpenAPISchema):
    """ninja's schema, with every ``BearerGuard`` as ``bearerAuth`` and the operation's scopes."""

    def operation_security(self, operation: Operation) -> list[dict[str, Any]] | None:
        security = super().operation_security(operation)
        if security is None:
            return None
        guards = [auth for auth in operation.auth_callbacks if hasattr(auth, "openapi_security_schema")]
        for index, auth in enumerate(guards):
            if isinstance(auth, BearerGuard):
                self.securitySchemes.pop(type(auth).__name__, None)
                self.securitySchemes[SCHEME] = auth.openapi_security_schema
                security[index] = {SCHEME: auth.security_requirement(operation.methods[0])}
        return security


def install(api: NinjaAPI) -> NinjaAPI:
    """Give ``api`` the answers of the DRF face for :class:`BearerGuard` routes; returns ``api``.

    Registers exception handlers: a :class:`BearerRefused` answers its status, RFC 6750 body and
    challenge (and ``DPoP-Nonce``); ninja's ``AuthenticationError`` answers 401 ``missing_token``
    with the Bearer challenge when a ``BearerGuard`` found no credential, and as before
    otherwise. A fresh DPoP nonce reaches successful responses, and the OpenAPI schema names the
    scheme ``bearerAuth`` with each operation's scopes. Call it once, before registering your own
    ``AuthenticationError`` handler (one registered later replaces this one).
    """

    # ninja types a handler's exception as the class or its instance; it passes the instance.
    def refused(request: HttpRequest, exc: Any) -> HttpResponse:
        return _respond(api, request, exc.answer)

    def unauthenticated(request: HttpRequest, exc: Any) -> HttpResponse:
        if getattr(request, _OFFERED, False):
            return _respond(api, request, missing_answer())
        # Another auth's refusal: ninja's own handler of HttpError answers it.
        return api.on_exception(request, HttpError(exc.status_code, exc.message))

    temporal = api.create_temporal_response

    def create_temporal_response(request: HttpRequest) -> HttpResponse:
        response = temporal(request)
        nonce = getattr(request, _NONCE, None)
        if nonce is not None:
            # RFC 9449 §8.2: the next proof should carry the nonce of the current period.
            response["DPoP-Nonce"] = nonce
        return response

    def get_openapi_schema(*, path_prefix: str | None = None, path_params: Any = None) -> OpenAPISchema:
        if path_prefix is None:
            path_prefix = api.get_root_path(path_params or {})
        return _Schema(api, path_prefix)

    api.add_exception_handler(BearerRefused, refused)
    api.add_exception_handler(AuthenticationError, unauthenticated)
    vars(api).update(create_temporal_response=create_temporal_response, get_openapi_schema=get_openapi_schema)
    return api
