"""drf-spectacular support: the bearer scheme (with the RFC 9728 metadata URL when it is served),
each operation's scopes and step-up level in the schema.

Importing this module registers the extension; the app does so on start-up when
drf-spectacular is installed. Without drf-spectacular, nothing imports it.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.drainage import warn
from drf_spectacular.extensions import OpenApiAuthenticationExtension

from django_bearer_guard._declarations import (
    InvalidDeclaration,
    declares_authentication_level,
    max_auth_age,
    required_acr_values,
)
from django_bearer_guard.conf import get_settings
from django_bearer_guard.permissions import HasScopes, RequiresAuthenticationLevel, required_scope_sets, uses_permission

__all__ = ["LEVEL", "REFUSED", "RESOURCE_METADATA", "BearerTokenScheme", "authentication_level"]

LEVEL = "x-bearer-guard-authentication-level"
"""The operation member listing a step-up requirement: ``{"acr_values": [...], "max_age": seconds}``."""

RESOURCE_METADATA = "x-resource-metadata"
"""The ``bearerAuth`` scheme member naming the RFC 9728 metadata document, when it is served."""

REFUSED = "bearer-guard:refused"
"""The one role an operation lists when its scope declaration refuses every token."""


class BearerTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """``BearerTokenAuthentication`` as an HTTP bearer scheme (JWT), named ``bearerAuth``.

    For views guarded by :class:`~django_bearer_guard.permissions.HasScopes`, each operation's
    security requirement lists the scopes it needs; alternatives become alternative
    requirements. OpenAPI 3.1 allows such role lists for non-OAuth schemes (§4.8.30).
    """

    target_class = "django_bearer_guard.authentication.BearerTokenAuthentication"
    name = "bearerAuth"
    match_subclasses = True

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        """The ``securitySchemes`` entry; with ``RESOURCE_METADATA`` on, it names the document."""
        definition = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
        metadata = get_settings().resource_metadata
        if metadata is not None:
            definition[RESOURCE_METADATA] = metadata.url
            definition["description"] = (
                f"A JWT access token. Which issuers, scopes and bindings this API accepts: {metadata.url} (RFC 9728)."
            )
        return definition

    def get_security_requirement(self, auto_schema: Any) -> dict[str, Any] | list[dict[str, Any]]:
        """The operation's requirement: ``bearerAuth`` with the scopes its view declares."""
        view, method = auto_schema.view, auto_schema.method
        _list_level(auto_schema)
        steps_up = uses_permission(view.permission_classes, RequiresAuthenticationLevel)
        if steps_up and authentication_level(view, method) is None:
            return self._refused(view, f"declares no valid authentication level for {method}")
        if not uses_permission(view.permission_classes, HasScopes):
            return {self.name: []}
        scope_sets = required_scope_sets(view, method)
        if scope_sets is None:
            return self._refused(view, f"uses HasScopes but declares no valid scopes for {method}")
        return [{self.name: list(scopes)} for scopes in scope_sets]

    def _refused(self, view: Any, problem: str) -> dict[str, Any]:
        # A bare requirement would advertise an operation that refuses every token as open to any.
        warn(f"{type(view).__qualname__} {problem}; every request is refused (listed as {REFUSED!r})")
        return {self.name: [REFUSED]}


def authentication_level(view: Any, method: str) -> dict[str, Any] | None:
    """The step-up level ``view`` requires for ``method``, as listed in the schema.

    ``{"acr_values": [...]}`` and/or ``{"max_age": seconds}``, the names of the RFC 9470 challenge
    parameters; ``None`` when the view declares no level or one it cannot read (it then refuses
    every request).
    """
    if not declares_authentication_level(view):
        return None
    try:
        acr_values, max_age = required_acr_values(view, method), max_auth_age(view)
    except InvalidDeclaration:
        return None
    level: dict[str, Any] = {}
    if acr_values is not None:
        level["acr_values"] = list(acr_values)
    if max_age is not None:
        level["max_age"] = max_age
    return level


def _list_level(auto_schema: Any) -> None:
    """Make ``auto_schema`` add the :data:`LEVEL` member to the operations it describes.

    drf-spectacular asks an operation's extensions after its security requirement; one schema
    instance may describe several operations, so the member is computed at each call.
    """
    if getattr(auto_schema, "_bearer_guard_level", False):
        return
    original = auto_schema.get_extensions

    def get_extensions() -> dict[str, Any]:
        extensions: dict[str, Any] = original()
        view = auto_schema.view
        if uses_permission(view.permission_classes, RequiresAuthenticationLevel):
            level = authentication_level(view, auto_schema.method)
            if level:
                extensions = {**extensions, LEVEL: level}
        return extensions

    auto_schema.get_extensions = get_extensions
    auto_schema._bearer_guard_level = True
