"""The DRF face of scopes, workloads and step-up: ``HasScopes``, ``AllowedWorkloads``,
``TokenOwnsObject``, ``RequiresAuthenticationLevel``.

Each permission returns ``False`` for a request not authenticated by a bearer token, so DRF
answers 401 with the Bearer challenge. Everything else that is refused is a 403.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast
from uuid import UUID

from rest_framework.exceptions import APIException
from rest_framework.permissions import BasePermission, BasePermissionMetaclass, OperandHolder
from rest_framework.request import Request

from django_bearer_guard import _clock
from django_bearer_guard._authenticate import check_scopes
from django_bearer_guard._declarations import (
    InvalidDeclaration,
    declared_workloads,
    declares_authentication_level,
    max_auth_age,
    required_acr_values,
    required_scope_sets,
)
from django_bearer_guard._drf import (
    AccessDenied,
    BearerGuardAPIException,
    check_issuer_allowed,
    refusal_exception,
    token_exception,
)
from django_bearer_guard._refusals import AccessRefused
from django_bearer_guard.exceptions import (
    InsufficientScope,
    InvalidClaim,
    UntrustedIssuer,
)
from django_bearer_guard.identity.matching import workload_allowed
from django_bearer_guard.runtime import get_runtime
from django_bearer_guard.tokens.levels import authentication_shortfall
from django_bearer_guard.tokens.scopes import claim_at
from django_bearer_guard.tokens.verified import VerifiedToken

__all__ = [
    "AccessDenied",
    "AllowedWorkloads",
    "HasScopes",
    "RequiresAuthenticationLevel",
    "TokenOwnsObject",
    "authentication_shortfall",
    "check_issuer_allowed",
    "offered_as_alternative",
    "require_scopes",
    "required_scope_sets",
    "uses_permission",
    "workload_allowed",
]

if TYPE_CHECKING:
    # Imported lazily at run time: rest_framework.views reads DEFAULT_PERMISSION_CLASSES while
    # it loads, so a module-level import would be circular when HasScopes is the default.
    from rest_framework.views import APIView

logger = logging.getLogger("django_bearer_guard.permissions")
_View = TypeVar("_View", bound=Callable[..., Any])


class _EitherAllows:
    """``A | B`` for permissions that refuse by raising their RFC 6750 error.

    DRF's ``OR`` stops at the first exception; this one tries the other operand first and
    re-raises the first refusal only when neither allows.
    """

    def __init__(self, op1: Any, op2: Any) -> None:
        self.op1, self.op2 = op1, op2

    def has_permission(self, request: Request, view: APIView) -> bool:
        return _first_that_allows(
            lambda: self.op1.has_permission(request, view), lambda: self.op2.has_permission(request, view)
        )

    def has_object_permission(self, request: Request, view: APIView, obj: Any) -> bool:
        return _first_that_allows(
            lambda: self.op1.has_permission(request, view) and self.op1.has_object_permission(request, view, obj),
            lambda: self.op2.has_permission(request, view) and self.op2.has_object_permission(request, view, obj),
        )


def _first_that_allows(*checks: Callable[[], bool]) -> bool:
    refusal: APIException | None = None
    for check in checks:
        try:
            if check():
                return True
        except (BearerGuardAPIException, AccessDenied) as exc:
            refusal = refusal or exc
    if refusal is not None:
        raise refusal
    return False


class _ComposesMeta(BasePermissionMetaclass):
    def __or__(cls, other: Any) -> Any:
        return OperandHolder(cast(Any, _EitherAllows), cast(Any, cls), other)


def _unhandled(view: Any, method: str) -> bool:
    names = getattr(view, "http_method_names", None)
    unhandled = names is not None and (method not in names or not hasattr(view, method))
    return unhandled and getattr(view, "action", None) is None


def _to_check(request: Request, view: APIView) -> tuple[VerifiedToken, str] | bool:
    """The token and the lower-case method a view's declaration is checked for, or the answer
    when there is nothing to check: ``False`` without a verified token, ``True`` for a method
    the view does not handle (DRF answers 405 Method Not Allowed next; nothing to protect)."""
    token = request.auth
    if not isinstance(token, VerifiedToken):
        return False
    check_issuer_allowed(view, token)
    method = (request.method or "GET").lower()
    if _unhandled(view, method):
        return True
    return token, method


class HasScopes(BasePermission, metaclass=_ComposesMeta):
    """The token must hold every scope of one of the view's declared scope sets.

    Declare ``required_scopes`` on the view, optionally ``required_scopes_by_method`` and
    ``required_scopes_by_action``; see :func:`required_scope_sets`. A missing scope raises a 403
    ``insufficient_scope`` whose challenge names the first declared set. A view that declares
    nothing for the request refuses it (403, logged): it fails closed.
    """

    def has_permission(self, request: Request, view: APIView) -> bool:
        """Check the token's scopes against the view's declaration for this request."""
        checked = _to_check(request, view)
        if isinstance(checked, bool):
            return checked
        token, method = checked
        name = f"{type(view).__qualname__} uses HasScopes but"
        try:
            check_scopes(view, method, token, name=name, context=f" (action {getattr(view, 'action', None)})")
        except (InsufficientScope, AccessRefused) as error:
            raise refusal_exception(error, token) from None
        return True


class AllowedWorkloads(BasePermission, metaclass=_ComposesMeta):
    """The token's workload must be allowed by the view's ``allowed_workloads``.

    See :func:`workload_allowed` for the matching rule. Refusals are 403 ``access_denied``;
    a view without a valid ``allowed_workloads`` list refuses every request (logged).
    """

    def has_permission(self, request: Request, view: APIView) -> bool:
        """Check ``request.auth.workload`` against the view's ``allowed_workloads``."""
        token = request.auth
        if not isinstance(token, VerifiedToken):
            return False
        check_issuer_allowed(view, token)
        allowed = declared_workloads(view)
        if allowed is None:
            logger.error("%s uses AllowedWorkloads without allowed_workloads", type(view).__qualname__)
            raise AccessDenied("This resource declares no allowed workloads.")
        if workload_allowed(token.workload, allowed):
            return True
        raise AccessDenied("The calling workload is not allowed to use this resource.")


class RequiresAuthenticationLevel(BasePermission, metaclass=_ComposesMeta):
    """The token's authentication must meet the view's step-up requirement (RFC 9470).

    Declare ``required_acr`` (the acceptable ``acr`` values, preferred first; any one is
    enough), optionally ``required_acr_by_method`` (replacing ``required_acr`` for a method;
    ``HEAD`` and ``OPTIONS`` fall back to ``GET``) and ``max_auth_age`` (the most seconds since
    ``auth_time``, for every method). A token that falls short gets a 401
    ``insufficient_user_authentication`` whose challenge carries ``acr_values`` and/or
    ``max_age``; a malformed ``acr`` or ``auth_time`` a 401 ``invalid_token``. A view that
    declares none of the three, or declares one it cannot read, refuses every request (403,
    logged).
    """

    def has_permission(self, request: Request, view: APIView) -> bool:
        """Check the token's ``acr`` and ``auth_time`` against the view's declaration."""
        checked = _to_check(request, view)
        if isinstance(checked, bool):
            return checked
        token, method = checked
        name = type(view).__qualname__
        try:
            acr_values, max_age = required_acr_values(view, method), max_auth_age(view)
        except InvalidDeclaration as exc:
            # Fail closed: a level that cannot be read must not be replaced by no level.
            logger.error("%s: %s; request refused", name, exc)
            raise AccessDenied("This resource declares no valid authentication level.") from None
        if not declares_authentication_level(view):
            logger.error("%s uses RequiresAuthenticationLevel but declares no level; request refused", name)
            raise AccessDenied("This resource declares no authentication level.")
        try:
            shortfall = authentication_shortfall(
                token.claims, acr_values, max_age, now=_clock.now(), leeway=_leeway(token)
            )
        except InvalidClaim as exc:
            logger.info("%s refuses a token of %r: %s", name, token.issuer, exc.reason)
            raise token_exception(exc, token) from None
        if shortfall is None:
            return True
        logger.info("%s refuses a token of %r: %s", name, token.issuer, shortfall.reason)
        raise token_exception(shortfall, token)


def _leeway(token: VerifiedToken) -> int:
    runtime = get_runtime()
    try:
        issuer = runtime.issuers.get(token.issuer)
    except UntrustedIssuer:
        return 0  # the issuer left the trusted set since: no skew is granted
    return runtime.settings.leeway if issuer.leeway is None else issuer.leeway


def _owner_key(value: Any) -> str | None:
    # Only plain identifiers compare: never a bool, a list or a model instance's str().
    if isinstance(value, bool) or not isinstance(value, (str, int, UUID)):
        return None
    return str(value) or None


def _attribute(obj: Any, path: str) -> Any:
    for name in path.split("."):
        obj = getattr(obj, name, None)
    return obj


class TokenOwnsObject(BasePermission, metaclass=_ComposesMeta):
    """Object permission: the token's ``owner_claim`` must equal the object's ``owner_field``.

    ``owner_claim`` (view attribute, default ``"sub"``) is a claim name or dotted path, or
    ``"workload"`` for the token's workload. ``owner_field`` (default ``"owner"``) is an
    attribute path, dotted through related objects (``"project.tenant_id"``). Strings, integers
    and UUIDs are compared as text; anything else never matches. ``owner_issuer_field``
    (default ``None``) names the attribute holding the owner's issuer: when set, it must equal
    the token's ``iss`` exactly as well, so identities of different issuers never meet. A
    mismatch is a 403 ``access_denied``; filter ``get_queryset()`` by the same claim (and
    issuer) to answer 404 instead.
    """

    def has_permission(self, request: Request, view: APIView) -> bool:
        """Only token-authenticated requests of an allowed issuer get as far as the object check."""
        token = request.auth
        if not isinstance(token, VerifiedToken):
            return False
        check_issuer_allowed(view, token)
        return True

    def has_object_permission(self, request: Request, view: APIView, obj: Any) -> bool:
        """Compare the token's owner claim with the object's owner attribute."""
        token = request.auth
        if not isinstance(token, VerifiedToken):
            return False
        claim = getattr(view, "owner_claim", "sub")
        owner_field = getattr(view, "owner_field", "owner")
        issuer_field = getattr(view, "owner_issuer_field", None)
        if not all(isinstance(v, str) and v for v in (claim, owner_field, issuer_field or "-")):
            # A misconfigured rule fails closed instead of raising on every object.
            logger.error("%s: owner_claim, owner_field and owner_issuer_field must be non-empty strings",
                         type(view).__qualname__)
            raise AccessDenied("The access token does not own this object.")
        mine = token.workload if claim == "workload" else claim_at(token.claims, claim)
        theirs = _attribute(obj, owner_field)
        key = _owner_key(mine)
        owned = key is not None and key == _owner_key(theirs)
        if owned and issuer_field is not None:
            # An issuer speaks only for itself: a partner's "alice" does not own the local alice's objects.
            owned = _attribute(obj, issuer_field) == token.issuer
        if owned:
            return True
        raise AccessDenied("The access token does not own this object.")


def _operands(permission: Any) -> list[Any]:
    return [getattr(permission, "op1_class", None), getattr(permission, "op2_class", None)]


def uses_permission(permission_classes: Iterable[Any], target: type) -> bool:
    """True when ``permission_classes`` holds ``target`` (or a subclass), composed or not."""
    for permission in permission_classes:
        if isinstance(permission, type):
            if issubclass(permission, target):
                return True
        # Composed permissions (HasScopes | IsAdminUser) hold their operands.
        elif uses_permission(_operands(permission), target):
            return True
    return False


def offered_as_alternative(permission_classes: Iterable[Any], target: type) -> bool:
    """True when ``target`` (or a subclass) is an operand of ``|`` in ``permission_classes``."""
    from rest_framework.permissions import OR

    for permission in permission_classes:
        operands = _operands(permission)
        if getattr(permission, "operator_class", None) in (OR, _EitherAllows) and uses_permission(operands, target):
            return True
        if not isinstance(permission, type) and offered_as_alternative(operands, target):
            return True
    return False


def require_scopes(
    *scopes: str | Sequence[str], by_method: Mapping[str, Any] | None = None
) -> Callable[[_View], _View]:
    """Declare the scopes of an ``@api_view`` function view and add :class:`HasScopes` to it.

    Place it **above** ``@api_view``: ``@require_scopes("files:read")`` needs that scope;
    ``@require_scopes(["a", "b"], ["admin"])`` needs (a and b) or admin; ``by_method`` sets
    ``required_scopes_by_method``. Works on any ``as_view()`` result.
    """

    def decorate(view: _View) -> _View:
        from rest_framework.views import APIView

        cls = getattr(view, "cls", None)
        if not (isinstance(cls, type) and issubclass(cls, APIView)):
            raise TypeError("@require_scopes decorates a DRF view: place it above @api_view.")
        attrs: dict[str, Any] = {
            "__module__": cls.__module__,
            "__qualname__": cls.__qualname__,
            "required_scopes": list(scopes) if scopes or by_method is None else None,
        }
        if by_method is not None:
            attrs["required_scopes_by_method"] = dict(by_method)
        if not uses_permission(cls.permission_classes, HasScopes):
            attrs["permission_classes"] = [*cls.permission_classes, HasScopes]
        # A subclass, so a class shared by other routes keeps its own declaration.
        declared: Any = type(cls.__name__, (cls,), attrs)
        initkwargs = getattr(view, "initkwargs", None) or {}
        actions = getattr(view, "actions", None)
        args = (actions,) if actions else ()
        return cast(_View, declared.as_view(*args, **initkwargs))

    return decorate
