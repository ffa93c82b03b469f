"""One request's bearer credential, from the ``Authorization`` header to ``(user, VerifiedToken)``.

Every face runs this flow: the DRF authentication class, ``@bearer_required`` and the
django-ninja guard. :func:`authenticate` reads the credential, validates the token (binding and
DPoP included), resolves the user, logs and signals the outcome and, for a refusal, raises
:class:`Rejected` with what its answer needs (:mod:`django_bearer_guard._refusals`).
:func:`check_issuer_allowed` and :func:`check_scopes` are the view-level checks;
:class:`Requirements` and :func:`admit` put them together for the faces that are not DRF.
It takes any object shaped like Django's ``HttpRequest`` and imports no HTTP machinery.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import quote

from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation

from django_bearer_guard._declarations import _HTTP_METHODS, required_scope_sets
from django_bearer_guard._refusals import AccessRefused, Answer, answer, token_dpop_algs
from django_bearer_guard.conf import require_valid
from django_bearer_guard.exceptions import BearerGuardError, InsufficientScope, InvalidToken, KeysUnavailable
from django_bearer_guard.identity.binding import Presentation, RequestBinder
from django_bearer_guard.identity.principal import resolve_user
from django_bearer_guard.runtime import get_runtime
from django_bearer_guard.signals import token_rejected, token_validated
from django_bearer_guard.tokens.credentials import parse_authorization
from django_bearer_guard.tokens.validator import TokenValidator
from django_bearer_guard.tokens.verified import VerifiedToken

__all__ = [
    "Authenticated",
    "Rejected",
    "Requirements",
    "admit",
    "authenticate",
    "check_issuer_allowed",
    "check_scopes",
    "parse_allowed_issuers",
    "refuse",
]

logger = logging.getLogger("django_bearer_guard")

# RFC 3986 §3.3 pchar beyond the unreserved characters: everything else in a path is percent-encoded.
_PATH_SAFE = "/:@!$&'()*+,;="


def _request_url(request: Any) -> str:
    """The request's URL for a DPoP proof's ``htu``: its decoded path encoded again, joined to nothing.

    A decoded ``?``, ``#`` or ``%`` is encoded again and no URL join reads a leading ``//`` as a
    host, so the request path cannot make the URL name another resource or server.
    """
    return f"{request.scheme}://{request.get_host()}{quote(request.path, safe=_PATH_SAFE)}"


class Authenticated(NamedTuple):
    """An accepted credential: the ``user``, the ``token`` and a fresh DPoP ``nonce`` for the response."""

    user: Any
    token: VerifiedToken
    nonce: str | None = None


class Rejected(Exception):
    """A refused request: the ``error``, the ``dpop_algs`` of its challenge (a DPoP request) and a
    fresh DPoP ``nonce`` the response should carry anyway."""

    def __init__(
        self,
        error: BearerGuardError | AccessRefused,
        dpop_algs: tuple[str, ...] | None = None,
        nonce: str | None = None,
    ) -> None:
        self.error, self.dpop_algs, self.nonce = error, dpop_algs, nonce
        super().__init__(error)

    def answer(self) -> Answer:
        """The status, body and headers to answer with."""
        reply = answer(self.error, dpop_algs=self.dpop_algs)
        if self.nonce is not None:
            # RFC 9449 §8.2: the next proof should carry the nonce of the current period.
            reply.headers.setdefault("DPoP-Nonce", self.nonce)
        return reply


def refuse(
    error: BearerGuardError, *, request: Any, sender: Any, binder: RequestBinder | None = None
) -> Rejected:
    """Log and signal ``error`` (``token_rejected`` from ``sender``); the :class:`Rejected` to raise."""
    logger.info("bearer token rejected: %s (%s) path=%r", error.reason, type(error).__name__, request.path)
    token_rejected.send(sender=sender, error=error, reason=error.reason, request=request)
    dpop = binder is not None and binder.presentation.scheme == "dpop"
    return Rejected(error, binder.proof_algorithms() if binder and dpop else None)


def authenticate(
    request: Any, *, sender: Any, reported: Any = None, allowed_issuers: Any = None, name: str = ""
) -> Authenticated | None:
    """Validate the ``Authorization`` credential of ``request`` (a Django ``HttpRequest``).

    ``None`` when the request carries no Bearer or DPoP credential. Signals go out from
    ``sender`` with ``reported`` (default: ``request``) as their request. ``allowed_issuers``
    (of the view called ``name``) restricts the issuers, see :func:`check_issuer_allowed`.
    Raises :class:`Rejected`; misconfiguration and unexpected failures fail closed (401).
    """
    reported = request if reported is None else reported
    header = request.META.get("HTTP_AUTHORIZATION")
    if header is None:
        return None
    binder: RequestBinder | None = None
    try:
        runtime = get_runtime()
        max_bytes = runtime.settings.max_token_bytes
        credential = parse_authorization(header, schemes=("bearer", "dpop"), max_bytes=max_bytes)
        if credential is None:
            return None
        require_valid(runtime.settings)
        presentation = Presentation(
            scheme=credential[0],
            method=request.method or "",
            url=lambda: _request_url(request),
            meta=request.META,
        )
        binder = RequestBinder(presentation, runtime.settings)
        token = TokenValidator(runtime).validate(credential[1], binder=binder)
        user = resolve_user(token)
    except BearerGuardError as error:
        raise refuse(error, request=reported, sender=sender, binder=binder) from None
    except SuspiciousOperation:
        # A Host outside ALLOWED_HOSTS (building a DPoP proof's URL): Django's own 400 and security log.
        raise
    except ImproperlyConfigured as exc:
        # Misconfiguration fails closed; `manage.py check` names the setting to fix.
        logger.error("bearer tokens are refused: %s", exc)
        misconfigured = KeysUnavailable(f"misconfigured: {exc}")
        raise refuse(misconfigured, request=reported, sender=sender, binder=binder) from None
    except Exception as exc:
        # Never a 500 for client input: an unexpected failure is logged and fails closed.
        logger.exception("bearer token validation failed unexpectedly")
        unexpected = InvalidToken(f"unexpected {type(exc).__name__}: {exc}")
        raise refuse(unexpected, request=reported, sender=sender, binder=binder) from None
    try:
        # allowed_issuers holds for the whole view, whatever else it checks.
        check_issuer_allowed(allowed_issuers, token, name=name)
    except AccessRefused as refusal:
        raise Rejected(refusal, nonce=binder.fresh_nonce) from None
    token_validated.send(sender=sender, token=token, request=reported)
    return Authenticated(user, token, binder.fresh_nonce)


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


def check_issuer_allowed(allowed_issuers: Any, token: VerifiedToken, *, name: str) -> None:
    """Raise :class:`AccessRefused` unless ``token.issuer`` is in ``allowed_issuers`` (of ``name``).

    ``allowed_issuers`` is a list of exact ``iss`` values; ``None`` admits every trusted issuer.
    A value that is not a list of non-empty strings refuses every request (logged), so a typo
    never opens the view to every issuer.
    """
    try:
        allowed = parse_allowed_issuers(allowed_issuers)
    except TypeError as exc:
        logger.error("%s: %s; request refused", name, exc)
        raise AccessRefused("This resource does not accept tokens of this issuer.") from None
    # An issuer speaks only for itself: a partner's token must not reach another issuer's views.
    if allowed is not None and token.issuer not in allowed:
        logger.info("%s refuses issuer %r (allowed_issuers)", name, token.issuer)
        raise AccessRefused("This resource does not accept tokens of this issuer.")


def check_scopes(
    declaration: Any, method: str, token: VerifiedToken, *, name: str, context: str = ""
) -> None:
    """Raise unless ``token`` holds every scope of one of the scope sets ``declaration`` requires
    for ``method`` (:func:`~django_bearer_guard._declarations.required_scope_sets`).

    A missing scope raises :class:`~django_bearer_guard.exceptions.InsufficientScope` naming the
    first declared set; a declaration without a valid set for ``method`` raises
    :class:`AccessRefused` (logged with ``name`` and ``context``): it fails closed.
    """
    scope_sets = required_scope_sets(declaration, method)
    if scope_sets is None:
        # Fail closed: a forgotten declaration must not open the view to every token.
        logger.error("%s declares no valid scopes for %s%s; request refused", name, method.upper(), context)
        raise AccessRefused("This resource declares no scopes.")
    if not any(token.scopes.issuperset(scopes) for scopes in scope_sets):
        raise InsufficientScope(f"needs all of {scope_sets[0]}", scopes=scope_sets[0])


class Requirements:
    """What a plain view or a django-ninja operation requires of its token, read like a DRF
    view's ``required_scopes``, ``required_scopes_by_method`` and ``allowed_issuers``.

    Without ``scopes`` and ``scopes_by_method`` any valid token is enough; with either, a method
    neither declares is refused (403). Raises :class:`TypeError` for a declaration that cannot
    be read, when the view is declared rather than at its first request.
    """

    def __init__(
        self,
        scopes: Any = None,
        scopes_by_method: Mapping[str, Any] | None = None,
        allowed_issuers: Any = None,
        *,
        name: str,
    ) -> None:
        if scopes_by_method is not None and not isinstance(scopes_by_method, Mapping):
            raise TypeError(f"{name}: scopes_by_method must be a dict of HTTP methods to scopes")
        self.required_scopes = scopes
        self.required_scopes_by_method = None if scopes_by_method is None else dict(scopes_by_method)
        self.allowed_issuers = allowed_issuers
        self.name = name
        self.checks_scopes = scopes is not None or scopes_by_method is not None
        parse_allowed_issuers(allowed_issuers)
        if scopes is not None and required_scope_sets(self, "") is None:
            raise TypeError(f"{name}: scopes must be a list of scopes or a list of lists, not {scopes!r:.80}")
        for method in self.required_scopes_by_method or {}:
            # A misspelt method would leave the real one with the scopes of every other method.
            if not isinstance(method, str) or method.upper() not in _HTTP_METHODS:
                raise TypeError(f"{name}: scopes_by_method names {method!r:.40}, which is not an HTTP method")
            if required_scope_sets(self, method) is None:
                raise TypeError(f"{name}: scopes_by_method[{method!r}] must be a list of scopes or of lists")


def admit(request: Any, requirements: Requirements, *, sender: Any) -> Authenticated | None:
    """:func:`authenticate` ``request`` against ``requirements`` and set ``request.auth`` and
    ``request.user`` (``request.auser`` too) like DRF; ``None`` without a credential.

    Raises :class:`Rejected` for a refused token, an issuer outside ``allowed_issuers`` or a
    missing scope.
    """
    admitted = authenticate(
        request, sender=sender, allowed_issuers=requirements.allowed_issuers, name=requirements.name
    )
    if admitted is None:
        return None
    user, token = admitted.user, admitted.token
    request.auth, request.user = token, user

    async def auser() -> Any:
        return user

    # A session user must never answer for the token's caller, in async views either.
    request.auser = auser
    if requirements.checks_scopes:
        try:
            check_scopes(requirements, request.method or "GET", token, name=requirements.name)
        except (InsufficientScope, AccessRefused) as error:
            raise Rejected(error, token_dpop_algs(token), admitted.nonce) from None
    return admitted
