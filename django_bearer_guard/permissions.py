"""The DRF face of scopes and workloads: ``HasScopes``, ``AllowedWorkloads``, ``TokenOwnsObject``.

Each permission returns ``False`` for a request not authenticated by a bearer token, so DRF
answers 401 with the Bearer challenge. Everything else that is refused is a 403.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast
from uuid import UUID

from django.core import checks
from rest_framework.exceptions import APIException
from rest_framework.permissions import BasePermission, BasePermissionMetaclass, OperandHolder
from rest_framework.request import Request

from django_bearer_guard._routes import routes
from django_bearer_guard.authentication import AccessDenied, BearerGuardAPIException, check_issuer_allowed
from django_bearer_guard.challenges import bearer_challenge
from django_bearer_guard.conf import get_settings
from django_bearer_guard.exceptions import InsufficientScope
from django_bearer_guard.identity.scopes import claim_at
from django_bearer_guard.tokens.verified import VerifiedToken

__all__ = [
    "AccessDenied",
    "AllowedWorkloads",
    "HasScopes",
    "TokenOwnsObject",
    "check_issuer_allowed",
    "check_scope_declarations",
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
ScopeSets = tuple[tuple[str, ...], ...]
_View = TypeVar("_View", bound=Callable[..., Any])


def _scope_sets(declared: Any) -> ScopeSets | None:
    if isinstance(declared, str) or not isinstance(declared, (list, tuple)):
        return None
    if all(isinstance(scope, str) for scope in declared):
        groups: list[Any] = [declared]
    elif all(isinstance(g, (list, tuple)) and all(isinstance(s, str) for s in g) for g in declared):
        groups = list(declared)
    else:
        return None
    if any(not scope or any(ch.isspace() for ch in scope) for group in groups for scope in group):
        return None
    return tuple(tuple(group) for group in groups)


def required_scope_sets(view: Any, method: str) -> ScopeSets | None:
    """The scope sets ``view`` accepts for ``method``; any one set, held entirely, is enough.

    Looked up in ``required_scopes_by_action[view.action]`` (ViewSets), then
    ``required_scopes_by_method[method]`` (``HEAD`` and ``OPTIONS`` fall back to ``GET``), then
    ``required_scopes``. A flat list of scopes is one set; a list of lists is alternatives.
    ``None`` when nothing valid is declared.
    """
    method = method.upper()
    by_action = getattr(view, "required_scopes_by_action", None) or {}
    by_method = getattr(view, "required_scopes_by_method", None) or {}
    if not isinstance(by_action, Mapping) or not isinstance(by_method, Mapping):
        return None
    by_method = {str(key).upper(): value for key, value in by_method.items()}
    action = getattr(view, "action", None)
    if action == "metadata" and action not in by_action:
        # DRF names OPTIONS on a ViewSet "metadata": it follows the GET action of the route.
        action = (getattr(view, "action_map", None) or {}).get("get", action)
    if action is not None and action in by_action:
        declared = by_action[action]
    elif method in by_method:
        declared = by_method[method]
    elif method in ("HEAD", "OPTIONS") and "GET" in by_method:
        declared = by_method["GET"]
    else:
        declared = getattr(view, "required_scopes", None)
    return _scope_sets(declared)


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


def _insufficient_scope(scopes: tuple[str, ...]) -> BearerGuardAPIException:
    error = InsufficientScope(f"needs all of {scopes}", scopes=scopes)
    # RFC 6750 §3.1: a 403 insufficient_scope names the scope the resource needs.
    challenge = bearer_challenge(get_settings().realm, error.error, error.description, " ".join(scopes))
    return BearerGuardAPIException(error, challenge)


class HasScopes(BasePermission, metaclass=_ComposesMeta):
    """The token must hold every scope of one of the view's declared scope sets.

    Declare ``required_scopes`` on the view, optionally ``required_scopes_by_method`` and
    ``required_scopes_by_action``; see :func:`required_scope_sets`. A missing scope raises a 403
    ``insufficient_scope`` whose challenge names the first declared set. A view that declares
    nothing for the request refuses it (403, logged): it fails closed.
    """

    def has_permission(self, request: Request, view: APIView) -> bool:
        """Check the token's scopes against the view's declaration for this request."""
        token = request.auth
        if not isinstance(token, VerifiedToken):
            return False
        check_issuer_allowed(view, token)
        method = (request.method or "GET").lower()
        names = getattr(view, "http_method_names", None)
        unhandled = names is not None and (method not in names or not hasattr(view, method))
        if unhandled and getattr(view, "action", None) is None:
            return True  # DRF answers 405 Method Not Allowed next; nothing to protect here
        scope_sets = required_scope_sets(view, method)
        if scope_sets is None:
            # Fail closed: a forgotten declaration must not open the view to every token.
            logger.error(
                "%s uses HasScopes but declares no valid scopes for %s (action %s); request refused",
                type(view).__qualname__, request.method, getattr(view, "action", None),
            )
            raise AccessDenied("This resource declares no scopes.")
        if any(token.scopes.issuperset(scopes) for scopes in scope_sets):
            return True
        raise _insufficient_scope(scope_sets[0])


def _allowed(view: Any) -> tuple[str, ...] | None:
    allowed = getattr(view, "allowed_workloads", None)
    if isinstance(allowed, (list, tuple)) and all(isinstance(entry, str) for entry in allowed):
        return tuple(allowed)
    return None


def _under(workload: str, base: str) -> bool:
    base_parts = base.split("/")
    parts = workload.split("/")
    rest = parts[len(base_parts) :]
    # Compared by path component, never by string prefix: ".../prod/*" does not admit ".../production".
    # Empty, "." and ".." segments (invalid in SPIFFE IDs) could smuggle a path out of the base.
    clean = all(part not in ("", ".", "..") for part in rest)
    return parts[: len(base_parts)] == base_parts and bool(rest) and clean


def workload_allowed(workload: str | None, allowed: Iterable[str]) -> bool:
    """True when ``workload`` equals an entry of ``allowed`` or lies below an entry ending in ``/*``.

    ``"spiffe://example.org/ns/prod/*"`` admits ``spiffe://example.org/ns/prod/sa/api`` but not
    ``spiffe://example.org/ns/prod`` itself, nor ``spiffe://example.org/ns/production/x``.
    """
    if workload is None:
        return False
    for entry in allowed:
        if entry.endswith("/*"):
            if _under(workload, entry[:-2]):
                return True
        elif workload == entry:
            return True
    return False


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
        allowed = _allowed(view)
        if allowed is None:
            logger.error("%s uses AllowedWorkloads without allowed_workloads", type(view).__qualname__)
            raise AccessDenied("This resource declares no allowed workloads.")
        if workload_allowed(token.workload, allowed):
            return True
        raise AccessDenied("The calling workload is not allowed to use this resource.")


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


class _Probe:
    """Attribute lookups as a view instance would see them: initkwargs, then the class."""

    def __init__(self, cls: type, initkwargs: Mapping[str, Any], action: str | None) -> None:
        self._cls, self._initkwargs, self.action = cls, initkwargs, action

    def __getattr__(self, name: str) -> Any:
        if name in self._initkwargs:
            return self._initkwargs[name]
        return getattr(self._cls, name)


def check_scope_declarations(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """System check: DRF views in the URLconf that use ``HasScopes`` or ``AllowedWorkloads``
    without declaring scopes (``bearer_guard.E020``) or workloads (``bearer_guard.E021``), and
    ``TokenOwnsObject`` without ``owner_issuer_field`` while several issuers are trusted
    (``bearer_guard.W008``)."""
    from rest_framework.views import APIView

    from django_bearer_guard.checks import trusted_issuer_count

    several_issuers = trusted_issuer_count(kwargs.get("databases")) > 1
    messages: list[checks.CheckMessage] = []
    for route, callback in routes():
        cls = getattr(callback, "cls", None)
        if not (isinstance(cls, type) and issubclass(cls, APIView)):
            continue
        initkwargs = getattr(callback, "initkwargs", None) or {}
        permission_classes = initkwargs.get("permission_classes", cls.permission_classes)
        actions = getattr(callback, "actions", None)
        methods: Iterable[tuple[str, str | None]] = (
            actions.items() if actions else [(m, None) for m in cls.http_method_names if hasattr(cls, m)]
        )
        name = f"{cls.__module__}.{cls.__qualname__} at '{route}'"
        if not uses_permission(permission_classes, HasScopes):
            methods = ()
        for method, action in methods:
            # HEAD and OPTIONS fall back to GET; when nothing is declared they are refused at run time.
            probe = _Probe(cls, initkwargs, action)
            if method not in ("head", "options") and required_scope_sets(probe, method) is None:
                messages.append(
                    checks.Error(
                        f"{name} uses HasScopes but declares no valid scopes for {method.upper()}.",
                        hint="Set required_scopes, required_scopes_by_method or required_scopes_by_action; "
                        "until then every request is refused.",
                        obj=cls,
                        id="bearer_guard.E020",
                    )
                )
        probe = _Probe(cls, initkwargs, None)
        bare_owner = not isinstance(getattr(probe, "owner_issuer_field", None), str)
        if several_issuers and uses_permission(permission_classes, TokenOwnsObject) and bare_owner:
            messages.append(
                checks.Warning(
                    f"{name} uses TokenOwnsObject without owner_issuer_field while several issuers are "
                    "trusted: a token of one issuer owns the objects of another issuer's subject of the same name.",
                    hint="Store the owner's issuer beside the owner and name it in owner_issuer_field, "
                    "or restrict the view with allowed_issuers.",
                    obj=cls,
                    id="bearer_guard.W008",
                )
            )
        no_workloads = _allowed(probe) is None
        if uses_permission(permission_classes, AllowedWorkloads) and no_workloads:
            messages.append(
                checks.Error(
                    f"{name} uses AllowedWorkloads without an allowed_workloads list.",
                    hint="Set allowed_workloads to the workload identifiers allowed to call it; "
                    "until then every request is refused.",
                    obj=cls,
                    id="bearer_guard.E021",
                )
            )
    return messages
