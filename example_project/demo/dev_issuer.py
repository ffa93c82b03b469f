"""A local development issuer: key pairs on disk, a served JWKS and discovery, ``mint()``.

Example project only, on top of :mod:`django_bearer_guard.testing.dev_issuer`, which
``manage.py bearer_guard_dev_issuer`` uses too. The keys are made on first use in
``settings.DEMO_KEYS_DIR`` (git-ignored, beside the demo's admin password): an RSA 2048 key for
RS256 and a P-256 key for ES256. The API fetches the public keys from
``/dev-issuer/.well-known/jwks.json`` over real HTTP, like it would from an identity provider,
and trusts the issuer through ``TrustedIssuer`` rows with the fields of :func:`row_fields` (made
by ``manage.py demo_setup``): one for plain Bearer tokens, and, with the same keys, one whose
tokens are bound to the caller's workload certificate and one whose tokens are DPoP-bound. Each
has its own ``iss``, so a token says which binding it needs.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.urls import path

from django_bearer_guard.testing import SigningKey, dev_issuer

__all__ = [
    "BINDINGS",
    "NAME",
    "WORKLOAD_TRUST_DOMAIN",
    "issuer_of",
    "load_keys",
    "mint",
    "row_fields",
    "secrets_dir",
    "urlpatterns",
]

NAME = "Local development issuer"
"""The name of the development issuer's ``TrustedIssuer`` row for plain Bearer tokens."""
BINDINGS = (None, "workload", "dpop")
"""The ``binding`` of each of the development issuer's rows."""
WORKLOAD_TRUST_DOMAIN = "example.test"
"""The SPIFFE trust domain of the workloads the workload-bound row may name."""

_SUFFIXES = {None: "", "workload": "/workloads", "dpop": "/dpop"}
_LABELS = {None: "", "workload": " (workload-bound)", "dpop": " (DPoP-bound)"}

_FILES = {"RS256": "rs256.pem", "ES256": "es256.pem"}


def secrets_dir() -> Path:
    """``settings.DEMO_KEYS_DIR``, created readable by its owner only."""
    folder = Path(settings.DEMO_KEYS_DIR)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def load_keys() -> dict[str, SigningKey]:
    """The issuer's signing keys by algorithm, created on first use."""
    folder = secrets_dir()
    return {alg: dev_issuer.load_key(folder / name, alg) for alg, name in _FILES.items()}


def issuer_of(binding: str | None = None) -> str:
    """The ``iss`` of the development issuer's tokens with ``binding`` (one of :data:`BINDINGS`)."""
    return f"{settings.DEMO_ISSUER}{_SUFFIXES[binding]}"


def row_fields(binding: str | None = None) -> dict[str, Any]:
    """The development issuer's row for tokens with ``binding``, as ``TrustedIssuer`` fields, enabled.

    The plain row follows the RFC 9068 profile (``typ`` ``at+jwt``, the §2.2 claims, ``client_id``
    as the workload). The workload-bound row accepts a token only from the workload its ``sub``
    names (a SPIFFE ID in :data:`WORKLOAD_TRUST_DOMAIN`), the DPoP-bound row only with a proof of
    the key in its ``cnf.jkt`` (the rows' ES256 is also what the demo client signs its proofs with).
    """
    if binding is None:
        profiled = {"profile": "rfc9068", "workload_claim": None, "required_typ": None, "required_claims": []}
    else:
        profiled = {
            "profile": None,
            "workload_claim": "sub",
            "required_typ": "at+jwt",
            "required_claims": ["sub", "iat"],
        }
    return {
        "name": NAME + _LABELS[binding],
        "issuer": issuer_of(binding),
        "audiences": [settings.DEMO_AUDIENCE],
        "algorithms": list(_FILES),
        # Fetched over HTTP from this project (needs ALLOW_HTTP_LOOPBACK).
        "jwks_uri": f"{settings.DEMO_ISSUER}/.well-known/jwks.json",
        "discovery": False,
        "jwks": None,
        "scope_claim": "scope",
        **profiled,
        "binding": binding,
        "workload_trust_domains": [WORKLOAD_TRUST_DOMAIN] if binding == "workload" else None,
        "enabled": True,
    }


def mint(
    *,
    sub: str = "demo-client",
    scope: str = "",
    alg: str = "RS256",
    audience: str | None = None,
    lifetime: int = 600,
    issued_ago: int = 0,
    binding: str | None = None,
    cnf: Mapping[str, str] | None = None,
    client_id: bool = True,
    acr: str | None = None,
    auth_age: int | None = None,
) -> str:
    """A token of the development issuer (an RFC 9068 access token, ``typ: at+jwt``).

    ``binding`` picks the issuer row that will check it (its ``iss``, see :func:`issuer_of`);
    ``cnf`` is the token's confirmation claim, such as ``{"jkt": thumbprint}`` for DPoP.
    ``client_id=False`` leaves out the claim RFC 9068 requires; ``acr`` and ``auth_age`` (seconds
    since the user authenticated, giving ``auth_time``) say how the user authenticated (RFC 9470).
    """
    now = int(time.time()) - issued_ago
    claims: dict[str, Any] = {
        "client_id": sub if client_id else None,
        "acr": acr,
        "auth_time": None if auth_age is None else now - auth_age,
        "cnf": None if cnf is None else dict(cnf),
    }
    return dev_issuer.mint(
        load_keys()[alg],
        issuer=issuer_of(binding),
        audience=audience or settings.DEMO_AUDIENCE,
        subject=sub,
        scopes=scope.split(),
        lifetime=lifetime,
        issued_at=now,
        claims=claims,
    )


def jwks(request: HttpRequest) -> JsonResponse:
    """The public keys (RFC 7517 JWK Set)."""
    response = JsonResponse(dev_issuer.jwks_document(load_keys().values()))
    response["Cache-Control"] = "max-age=300"
    return response


def openid_configuration(request: HttpRequest) -> JsonResponse:
    """The discovery document (OpenID Connect Discovery 1.0 / RFC 8414)."""
    jwks_uri = f"{settings.DEMO_ISSUER}/.well-known/jwks.json"
    return JsonResponse(dev_issuer.discovery_document(settings.DEMO_ISSUER, jwks_uri, _FILES))


urlpatterns = [
    path(".well-known/jwks.json", jwks, name="dev-issuer-jwks"),
    path(".well-known/openid-configuration", openid_configuration, name="dev-issuer-discovery"),
]
