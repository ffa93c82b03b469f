"""What a view declares: the scope sets it requires, the workloads it allows, the
authentication level it needs, the rates it throttles scopes at.

Read from plain attributes (``required_scopes``, ``required_scopes_by_method``,
``required_scopes_by_action``, ``allowed_workloads``, ``required_acr``,
``required_acr_by_method``, ``max_auth_age``, ``throttle_rates_by_scope``) of a view or anything shaped like one, so the
permissions, the system checks and the schema extension read them alike.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "DeclaredView",
    "InvalidDeclaration",
    "ScopeSets",
    "declared_workloads",
    "declares_authentication_level",
    "max_auth_age",
    "required_acr_values",
    "required_scope_sets",
    "throttle_rates_by_scope",
]

ScopeSets = tuple[tuple[str, ...], ...]


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


def declared_workloads(view: Any) -> tuple[str, ...] | None:
    """The view's ``allowed_workloads`` as a tuple; ``None`` unless it is a list of strings."""
    allowed = getattr(view, "allowed_workloads", None)
    if isinstance(allowed, (list, tuple)) and all(isinstance(entry, str) for entry in allowed):
        return tuple(allowed)
    return None


class InvalidDeclaration(ValueError):
    """A step-up declaration that cannot be read; the message says which and why."""


_HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"})
# RFC 9470 §3 acr_values is space-separated, inside a quoted-string: RFC 6749 §A.4 NQCHAR only.
_ACR_CHARS = frozenset(chr(code) for code in range(0x21, 0x7F)) - {'"', "\\"}


def _acr_list(declared: Any, name: str) -> tuple[str, ...]:
    if isinstance(declared, str) or not isinstance(declared, (list, tuple)) or not declared:
        raise InvalidDeclaration(f"{name} must be a non-empty list of acr values, not {declared!r:.80}")
    for value in declared:
        if not isinstance(value, str) or not value or not set(value) <= _ACR_CHARS:
            raise InvalidDeclaration(
                f"{name} holds {value!r:.80}: an acr value is a non-empty string of printable ASCII "
                "without spaces, quotes or backslashes"
            )
    return tuple(declared)


def _acr_by_method(view: Any) -> dict[str, tuple[str, ...]]:
    if getattr(view, "required_acr_by_action", None) is not None:
        # Never silently ignored: a ViewSet declares its levels per HTTP method.
        raise InvalidDeclaration("required_acr_by_action is not supported; use required_acr_by_method")
    by_method = getattr(view, "required_acr_by_method", None)
    if by_method is None:
        return {}
    if not isinstance(by_method, Mapping):
        raise InvalidDeclaration(f"required_acr_by_method must be a dict, not {type(by_method).__name__}")
    parsed: dict[str, tuple[str, ...]] = {}
    for key, value in by_method.items():
        method = key.upper() if isinstance(key, str) else key
        # A misspelt method would leave the real one without its level.
        if method not in _HTTP_METHODS:
            raise InvalidDeclaration(f"required_acr_by_method names {key!r:.40}, which is not an HTTP method")
        parsed[method] = _acr_list(value, f"required_acr_by_method[{key!r}]")
    return parsed


def required_acr_values(view: Any, method: str) -> tuple[str, ...] | None:
    """The ``acr`` values ``view`` accepts for ``method`` (any one is enough), preferred first.

    Looked up in ``required_acr_by_method[method]`` (``HEAD`` and ``OPTIONS`` fall back to
    ``GET``), then ``required_acr``. ``None`` when neither applies to ``method``. Raises
    :class:`InvalidDeclaration` when either attribute is malformed, for any method (a list of
    non-empty acr values; method names must be HTTP methods) or when the view sets
    ``required_acr_by_action``, which is not supported.
    """
    method = method.upper()
    by_method = _acr_by_method(view)
    declared = getattr(view, "required_acr", None)
    default = None if declared is None else _acr_list(declared, "required_acr")
    if method in by_method:
        return by_method[method]
    if method in ("HEAD", "OPTIONS") and "GET" in by_method:
        return by_method["GET"]
    return default


def max_auth_age(view: Any) -> int | None:
    """The view's ``max_auth_age``: the most seconds since ``auth_time`` it accepts, for every
    method; ``None`` when not set. Raises :class:`InvalidDeclaration` unless it is a positive
    whole number."""
    declared = getattr(view, "max_auth_age", None)
    if declared is None:
        return None
    if isinstance(declared, bool) or not isinstance(declared, int) or declared <= 0:
        raise InvalidDeclaration(f"max_auth_age must be a whole number of seconds > 0, not {declared!r:.40}")
    return declared


def declares_authentication_level(view: Any) -> bool:
    """True when ``view`` sets any of ``required_acr``, ``required_acr_by_method`` (non-empty)
    or ``max_auth_age``, valid or not; whether they are valid is the readers' business."""
    return (
        getattr(view, "required_acr", None) is not None
        or bool(getattr(view, "required_acr_by_method", None))
        or getattr(view, "max_auth_age", None) is not None
    )


# DRF's documented periods (``SimpleRateThrottle``); DRF itself reads only the first letter.
_PERIODS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}
_RATE = re.compile(r"(0|[1-9][0-9]{0,8})/([a-z]+)")


def throttle_rates_by_scope(view: Any) -> dict[str, tuple[int, int]]:
    """The view's ``throttle_rates_by_scope`` as ``{scope: (requests, seconds)}``; empty when not set.

    Raises :class:`InvalidDeclaration` unless it is a dict whose keys are scopes (non-empty
    strings without spaces) and whose values are DRF rates, ``"<number>/<period>"`` with a
    period of ``s``, ``sec``, ``m``, ``min``, ``h``, ``hour``, ``d`` or ``day``.
    """
    declared = getattr(view, "throttle_rates_by_scope", None)
    if declared is None:
        return {}
    if not isinstance(declared, Mapping):
        raise InvalidDeclaration(f"throttle_rates_by_scope must be a dict, not {type(declared).__name__}")
    parsed: dict[str, tuple[int, int]] = {}
    for scope, rate in declared.items():
        if not isinstance(scope, str) or not scope or any(ch.isspace() for ch in scope):
            raise InvalidDeclaration(f"throttle_rates_by_scope names {scope!r:.80}, which is not a scope")
        match = _RATE.fullmatch(rate) if isinstance(rate, str) else None
        if match is None or match[2] not in _PERIODS:
            raise InvalidDeclaration(
                f"throttle_rates_by_scope[{scope!r:.80}] is {rate!r:.80}, not a rate such as '100/min'"
            )
        parsed[scope] = (int(match[1]), _PERIODS[match[2]])
    return parsed


class DeclaredView:
    """A routed view's attributes as an instance would see them (its ``initkwargs``, then its
    class), for reading its declarations without building or dispatching it."""

    def __init__(self, cls: type, initkwargs: Mapping[str, Any], action: str | None = None) -> None:
        self._cls, self._initkwargs, self.action = cls, initkwargs, action

    @classmethod
    def of(cls, callback: Any, method: str | None = None) -> DeclaredView | None:
        """The view behind an ``as_view()`` callback, with the action routed for ``method``;
        ``None`` for a callback that is not a class-based view."""
        view_class = getattr(callback, "cls", None)
        if not isinstance(view_class, type):
            return None
        actions = getattr(callback, "actions", None) or {}
        return cls(view_class, getattr(callback, "initkwargs", None) or {}, actions.get(method))

    def __getattr__(self, name: str) -> Any:
        if name in self._initkwargs:
            return self._initkwargs[name]
        return getattr(self._cls, name)
