"""What a view declares: the scope sets it requires and the workloads it allows.

Read from plain attributes (``required_scopes``, ``required_scopes_by_method``,
``required_scopes_by_action``, ``allowed_workloads``) of a view or anything shaped like one,
so the permissions, the system checks and the schema extension read them alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["DeclaredView", "ScopeSets", "declared_workloads", "required_scope_sets"]

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
