"""The RFC 9728 metadata document of this API, from ``RESOURCE_METADATA`` and what is enforced.

The members the settings leave out are derived: ``authorization_servers`` from the enabled,
correctly configured issuers (settings and ``TrustedIssuer`` rows, but templates),
``scopes_supported`` from the URLconf's ``HasScopes`` views and ``SCOPE_PERMISSIONS`` (walked once, dropped when the
settings or ``ROOT_URLCONF`` change), and the binding members from the issuers' ``binding``
and ``algorithms`` and ``TRANSPORT_IDENTITY``, so the document promises nothing the validator
does not hold to.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django_bearer_guard._declarations import DeclaredView, required_scope_sets
from django_bearer_guard._resource import ResourceMetadata
from django_bearer_guard._routes import routed_views, view_methods
from django_bearer_guard.conf import GuardSettings, on_reload
from django_bearer_guard.identity.binding import proof_algorithms
from django_bearer_guard.issuers.config import IssuerConfig

__all__ = ["declared_scopes", "metadata_document", "setting_changed_receiver"]

logger = logging.getLogger("django_bearer_guard")
_scopes: tuple[str, ...] | None = None
_lock = threading.Lock()


def declared_scopes() -> tuple[str, ...]:
    """Every scope a ``HasScopes`` view of the URLconf declares for some method, sorted.

    Walked once; :func:`forget_scopes` drops it.
    """
    global _scopes
    scopes = _scopes
    if scopes is None:
        with _lock:
            scopes = _scopes = _scopes if _scopes is not None else _walk_scopes()
    return scopes


def _walk_scopes() -> tuple[str, ...]:
    # Imported here: DRF's views must not load while the app registry does.
    from rest_framework.views import APIView

    from django_bearer_guard.permissions import HasScopes, uses_permission

    found: set[str] = set()
    for route, callback, cls, initkwargs in routed_views(APIView):
        try:
            if not uses_permission(initkwargs.get("permission_classes", cls.permission_classes), HasScopes):
                continue
            for method, action in view_methods(callback, cls):
                for group in required_scope_sets(DeclaredView(cls, initkwargs, action), method) or ():
                    found.update(group)
        except Exception:  # a view DRF itself cannot run must not take the public document down
            logger.exception("%s at %r: its scopes cannot be read; scopes_supported leaves them out", cls, route)
    return tuple(sorted(found))


@on_reload
def forget_scopes() -> None:
    """Drop the walked scopes; the next document walks the URLconf again."""
    global _scopes
    with _lock:
        _scopes = None


def setting_changed_receiver(*, setting: str, **kwargs: Any) -> None:
    """``setting_changed`` receiver: another URLconf declares other scopes."""
    if setting == "ROOT_URLCONF":
        forget_scopes()


def metadata_document(
    metadata: ResourceMetadata, settings: GuardSettings, issuers: tuple[IssuerConfig, ...]
) -> dict[str, Any]:
    """The JSON object served for ``metadata``; ``issuers`` are every configured issuer."""
    usable = [config for config in issuers if config.usable]
    document: dict[str, Any] = {"resource": metadata.resource}
    servers = metadata.authorization_servers
    if servers is None:
        # A template names no issuer a client could ask for a token: only an explicit list names its tenants.
        servers = tuple(dict.fromkeys(config.issuer for config in usable if not config.template))
    if servers:
        document["authorization_servers"] = list(servers)
    if metadata.jwks_uri is not None:
        document["jwks_uri"] = metadata.jwks_uri
    scopes = metadata.scopes_supported
    if scopes is None:
        scopes = tuple(sorted({*declared_scopes(), *settings.scope_permissions}))
    if scopes:
        document["scopes_supported"] = list(scopes)
    # RFC 6750 §2.1: the Authorization header is the only place a token is read from.
    document["bearer_methods_supported"] = ["header"]
    if metadata.resource_signing_alg_values_supported:
        document["resource_signing_alg_values_supported"] = list(metadata.resource_signing_alg_values_supported)
    for member in ("resource_name", "resource_documentation", "resource_policy_uri", "resource_tos_uri"):
        value = getattr(metadata, member)
        if value is not None:
            document[member] = value
    # RFC 8705 §3: a certificate-bound token is checked whenever a client certificate can be read.
    document["tls_client_certificate_bound_access_tokens"] = settings.transport_identity.source is not None
    # RFC 9449 §7.1: a DPoP-bound token is checked for every issuer with an asymmetric algorithm.
    dpop_algorithms = sorted({alg for config in usable for alg in proof_algorithms(config)})
    if dpop_algorithms:
        document["dpop_signing_alg_values_supported"] = dpop_algorithms
    document["dpop_bound_access_tokens_required"] = bool(usable) and all(c.binding == "dpop" for c in usable)
    return document
