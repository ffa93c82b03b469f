"""drf-spectacular support: the bearer scheme and each operation's scopes in the OpenAPI schema.

Importing this module registers the extension; the app does so on start-up when
drf-spectacular is installed. Without drf-spectacular, nothing imports it.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.drainage import warn
from drf_spectacular.extensions import OpenApiAuthenticationExtension

from django_bearer_guard.permissions import HasScopes, required_scope_sets, uses_permission

__all__ = ["REFUSED", "BearerTokenScheme"]

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
        """The ``securitySchemes`` entry."""
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}

    def get_security_requirement(self, auto_schema: Any) -> dict[str, Any] | list[dict[str, Any]]:
        """The operation's requirement: ``bearerAuth`` with the scopes its view declares."""
        view = auto_schema.view
        if not uses_permission(view.permission_classes, HasScopes):
            return {self.name: []}
        scope_sets = required_scope_sets(view, auto_schema.method)
        if scope_sets is None:
            # A bare requirement would advertise an operation that refuses every token as open to any.
            warn(
                f"{type(view).__qualname__} uses HasScopes but declares no valid scopes for "
                f"{auto_schema.method}; every request is refused (listed as {REFUSED!r})"
            )
            return {self.name: [REFUSED]}
        return [{self.name: list(scopes)} for scopes in scope_sets]
