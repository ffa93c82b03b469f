"""The calling workload a verified token names (a SPIFFE ID, a client id, a service account)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django_bearer_guard.exceptions import InvalidClaim
from django_bearer_guard.issuers.config import TRUST_DOMAIN, IssuerConfig
from django_bearer_guard.tokens.scopes import claim_at

__all__ = ["MAX_WORKLOAD_LENGTH", "spiffe_id_parts", "spiffe_trust_domain", "workload_from"]

MAX_WORKLOAD_LENGTH = 2048
_SPIFFE_SEGMENT = re.compile(r"[A-Za-z0-9._-]+")


def spiffe_id_parts(value: str) -> tuple[str, str] | None:
    """The trust domain and path (``""`` or ``"/…"``) of ``value`` when it is a valid SPIFFE ID, else ``None``.

    Follows the SPIFFE ID specification: the scheme ``spiffe://`` in lower case, a trust domain
    of lower-case letters, digits, ``.``, ``-`` and ``_``, then an optional path of segments of
    letters, digits, ``.``, ``-`` and ``_`` (none empty, ``.`` or ``..``, no trailing ``/``); no
    port, user info, query or fragment; at most 2048 bytes.
    """
    if not value.startswith("spiffe://") or len(value.encode("utf-8", "surrogatepass")) > MAX_WORKLOAD_LENGTH:
        return None
    trust_domain, slash, path = value[len("spiffe://") :].partition("/")
    if not TRUST_DOMAIN.fullmatch(trust_domain):
        return None
    if slash:
        segments = path.split("/")
        if not all(_SPIFFE_SEGMENT.fullmatch(s) and s not in (".", "..") for s in segments):
            return None
    return trust_domain, slash + path


def spiffe_trust_domain(value: str) -> str | None:
    """The trust domain of ``value`` when it is a valid SPIFFE ID (:func:`spiffe_id_parts`), else ``None``."""
    parts = spiffe_id_parts(value)
    return None if parts is None else parts[0]


def _check_svid_subject(claims: Mapping[str, Any]) -> None:
    sub = claims.get("sub")
    parts = spiffe_id_parts(sub) if isinstance(sub, str) else None
    if parts is None:
        # JWT-SVID §3.1: sub is the workload's SPIFFE ID.
        raise InvalidClaim(f"sub {sub!r:.100} is not a valid SPIFFE ID, as the jwt-svid profile requires")
    if not parts[1]:
        # SPIFFE ID spec: an ID without a path names the trust domain itself, never a workload.
        raise InvalidClaim(f"sub {sub!r:.100} names a trust domain, not a workload (jwt-svid profile)")


def workload_from(claims: Mapping[str, Any], issuer: IssuerConfig) -> str | None:
    """The value of ``issuer.workload_claim`` (a claim name or dotted path), or ``None``.

    Only a non-empty printable string of at most :data:`MAX_WORKLOAD_LENGTH` characters names
    a workload; any other value (absent, a number, a list, a string with control characters)
    gives ``None``, which no ``allowed_workloads`` entry matches. A value with the ``spiffe:``
    scheme must be a valid SPIFFE ID, or :class:`~django_bearer_guard.exceptions.InvalidClaim` is
    raised. When the issuer has
    ``workload_trust_domains``, a workload it names must be a SPIFFE ID in one of them, or
    :class:`~django_bearer_guard.exceptions.InvalidClaim` is raised. Under the ``jwt-svid``
    profile, ``sub`` must be a SPIFFE ID with a path, whatever ``workload_claim`` names.
    """
    if issuer.profile == "jwt-svid":
        _check_svid_subject(claims)
    value = claim_at(claims, issuer.workload_claim)
    if isinstance(value, str) and value[:7].lower() == "spiffe:" and spiffe_trust_domain(value) is None:
        # A malformed SPIFFE ID could match a certificate or an allowlist entry it does not name.
        raise InvalidClaim(f"workload {value!r:.100} is not a valid SPIFFE ID")
    domains = issuer.workload_trust_domains
    if domains is not None and value is not None:
        # An issuer speaks only for itself: it may not assert workloads of another trust domain.
        trust_domain = spiffe_trust_domain(value) if isinstance(value, str) else None
        if trust_domain is None:
            raise InvalidClaim(f"workload {value!r:.100} is not a SPIFFE ID, and the issuer has workload_trust_domains")
        if trust_domain not in domains:
            raise InvalidClaim(f"workload {value!r:.100} is outside the issuer's trust domains {sorted(domains)}")
    # Control characters could forge log lines or defeat exact matching.
    if isinstance(value, str) and value and len(value) <= MAX_WORKLOAD_LENGTH and value.isprintable():
        return value
    return None
