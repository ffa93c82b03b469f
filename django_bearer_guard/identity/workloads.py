"""The calling workload a verified token names (a SPIFFE ID, a client id, a service account)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django_bearer_guard.identity.scopes import claim_at
from django_bearer_guard.issuers.config import IssuerConfig

__all__ = ["MAX_WORKLOAD_LENGTH", "workload_from"]

MAX_WORKLOAD_LENGTH = 2048


def workload_from(claims: Mapping[str, Any], issuer: IssuerConfig) -> str | None:
    """The value of ``issuer.workload_claim`` (a claim name or dotted path), or ``None``.

    Only a non-empty printable string of at most :data:`MAX_WORKLOAD_LENGTH` characters names
    a workload; any other value (absent, a number, a list, a string with control characters)
    gives ``None``, which no ``allowed_workloads`` entry matches.
    """
    value = claim_at(claims, issuer.workload_claim)
    # Control characters could forge log lines or defeat exact matching.
    if isinstance(value, str) and value and len(value) <= MAX_WORKLOAD_LENGTH and value.isprintable():
        return value
    return None
