"""``@bearer_required``: the bearer checks of the DRF face for plain Django views, sync and async.

The flow is the DRF face's own (:mod:`django_bearer_guard._authenticate`), and so are the
answers (:mod:`django_bearer_guard._refusals`): the same statuses, RFC 6750 bodies and
``WWW-Authenticate`` challenges as ``BearerTokenAuthentication`` with ``HasScopes`` and the
library's DRF exception handler.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, overload

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.http import HttpRequest, JsonResponse  # noqa: TID251 - a face (tests/test_layers.py FACES)
from django.http.response import HttpResponseBase  # noqa: TID251
from django.views.decorators.csrf import csrf_exempt

from django_bearer_guard._authenticate import Authenticated, Rejected, Requirements, admit
from django_bearer_guard._refusals import Answer, missing_answer

__all__ = ["bearer_required"]

_View = TypeVar("_View", bound=Callable[..., Any])


def _respond(reply: Answer) -> JsonResponse:
    response = JsonResponse(reply.body, status=reply.status)
    for name, value in reply.headers.items():
        response[name] = value
    return response


def _admit(request: HttpRequest, requirements: Requirements) -> Authenticated | JsonResponse:
    try:
        admitted = admit(request, requirements, sender=bearer_required)
    except Rejected as rejected:
        return _respond(rejected.answer())
    # RFC 6750 §3.1: no credentials, so the challenge has no error code (a session never counts).
    return _respond(missing_answer()) if admitted is None else admitted


def _with_nonce(response: HttpResponseBase, admitted: Authenticated) -> HttpResponseBase:
    if admitted.nonce is not None and "DPoP-Nonce" not in response:
        # RFC 9449 §8.2: the next proof should carry the nonce of the current period.
        response["DPoP-Nonce"] = admitted.nonce
    return response


def _guard(view: _View, requirements: Requirements) -> _View:
    if iscoroutinefunction(view):

        @functools.wraps(view)
        async def guarded_async(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            # In a worker thread: a key fetch never blocks the event loop (see docs/plain-django.rst).
            admitted = await sync_to_async(_admit)(request, requirements)
            if isinstance(admitted, JsonResponse):
                return admitted
            return _with_nonce(await view(request, *args, **kwargs), admitted)

        guarded: Any = guarded_async
    else:

        @functools.wraps(view)
        def guarded_sync(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            admitted = _admit(request, requirements)
            if isinstance(admitted, JsonResponse):
                return admitted
            return _with_nonce(view(request, *args, **kwargs), admitted)

        guarded = guarded_sync
    # Only the Authorization header counts, never a cookie: a cross-site form cannot send one.
    exempt: _View = csrf_exempt(guarded)
    return exempt


@overload
def bearer_required(view: _View, /) -> _View: ...


@overload
def bearer_required(
    *,
    scopes: Any = None,
    scopes_by_method: Mapping[str, Any] | None = None,
    allowed_issuers: Any = None,
) -> Callable[[_View], _View]: ...


def bearer_required(
    view: Any = None,
    /,
    *,
    scopes: Any = None,
    scopes_by_method: Mapping[str, Any] | None = None,
    allowed_issuers: Any = None,
) -> Any:
    """Require a valid bearer token (``Bearer`` or, for DPoP issuers, ``DPoP``) on a plain Django view.

    ``@bearer_required`` alone accepts any valid token. ``scopes`` is a list of scopes the token
    must all hold, or a list of lists (alternatives), like a DRF view's ``required_scopes``;
    ``scopes_by_method`` (``{"POST": [...]}``) replaces ``scopes`` for a method, like
    ``required_scopes_by_method`` (``HEAD`` and ``OPTIONS`` fall back to ``GET``), and a method
    neither declares is refused. ``allowed_issuers`` (exact ``iss`` values) refuses tokens of
    other issuers with a 403, like the view attribute.

    The view sees ``request.auth`` (a :class:`~django_bearer_guard.tokens.verified.VerifiedToken`)
    and ``request.user`` (and ``await request.auser()``): the token's ``TokenUser`` or looked-up
    user, never the session's. Refusals answer as the DRF face does: 400 ``invalid_request``,
    401 ``invalid_token`` or ``missing_token`` with the Bearer (or DPoP) challenge, 403
    ``insufficient_scope`` naming the scopes. Works on ``def`` and ``async def`` views (an async
    view validates in a worker thread). The view is exempt from CSRF checks: it accepts no
    ambient credential. Declarations that cannot be read raise :class:`TypeError` here.
    """

    def decorate(view: _View) -> _View:
        name = f"{getattr(view, '__module__', '')}.{getattr(view, '__qualname__', type(view).__qualname__)}"
        return _guard(view, Requirements(scopes, scopes_by_method, allowed_issuers, name=name))

    return decorate if view is None else decorate(view)
