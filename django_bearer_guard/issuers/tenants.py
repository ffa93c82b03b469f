"""Multi-tenant issuer templates: one ``issuer`` with a ``{tenantid}`` placeholder, one key set.

A template such as ``https://login.microsoftonline.com/{tenantid}/v2.0`` stands for the issuer of
every tenant it admits (``tenants``: a list, or ``"any"``). The placeholder matches one tenant ID
or verified domain name (letters, digits, ``.`` and ``-``, at most 253 characters) in the path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["TENANT_CLAIM", "TENANT_PLACEHOLDER", "template_pattern", "template_problems"]

TENANT_PLACEHOLDER = "{tenantid}"
"""The one placeholder an ``issuer`` template may hold."""
TENANT_CLAIM = "tid"
"""The claim that must name the same tenant as the token's ``iss``."""
# A directory GUID or a verified domain name, bounded like a DNS name; never a '/' or a brace.
_TENANT = r"[A-Za-z0-9][A-Za-z0-9.-]{0,252}"
_TENANT_RE = re.compile(_TENANT)
# Scheme, host, then a path: the placeholder may only follow the host's first '/'.
_PREFIX_RE = re.compile(r"[a-z][a-z0-9+.-]*://[^/?#{}]+/[^?#{}]*")


def template_pattern(issuer: str) -> re.Pattern[str]:
    """The pattern of the concrete ``iss`` values of a template; group 1 is the tenant."""
    prefix, _, suffix = issuer.partition(TENANT_PLACEHOLDER)
    return re.compile(f"{re.escape(prefix)}({_TENANT}){re.escape(suffix)}")


def template_problems(
    entry: Mapping[str, Any], issuer: str
) -> tuple[bool, frozenset[str] | None, list[tuple[str | None, str]]]:
    """Whether ``issuer`` is a template, the tenants it admits (``None``: any) and its problems.

    Each problem is the issuer key it is about and its message.
    """
    tenants_raw = entry.get("tenants")
    if "{" not in issuer and "}" not in issuer:
        if tenants_raw is None:
            return False, None, []
        # A parsed setting with nothing to limit must not look like a protection.
        return False, None, [("tenants", f"'tenants' is set, and 'issuer' holds no {TENANT_PLACEHOLDER} placeholder.")]
    problems: list[tuple[str | None, str]] = []
    prefix, _, suffix = issuer.partition(TENANT_PLACEHOLDER)
    if "{" in prefix + suffix or "}" in prefix + suffix:
        problems.append(("issuer", f"'issuer' may hold one {TENANT_PLACEHOLDER} placeholder and no other braces."))
    elif not _PREFIX_RE.fullmatch(prefix):
        # The host is the provider's own: only the path names the tenant.
        problems.append(("issuer", f"the {TENANT_PLACEHOLDER} placeholder must be in the path of 'issuer'."))
    if entry.get("discovery") or entry.get("shared_secret") is not None:
        # Discovery would read one tenant's metadata; a secret shared by tenants proves no tenant.
        problems.append((None, "a template issuer needs 'jwks_uri' or 'jwks': one key set serves all its tenants."))
    jwks_uri = entry.get("jwks_uri")
    if isinstance(jwks_uri, str) and ("{" in jwks_uri or "}" in jwks_uri):
        problems.append(("jwks_uri", "'jwks_uri' holds a placeholder: one key set serves every tenant of a template."))
    tenants: frozenset[str] | None = None
    if tenants_raw is None:
        problems.append(("tenants", "a template issuer needs 'tenants': the tenants it admits, or 'any'."))
    elif tenants_raw != "any":
        names = list(tenants_raw) if isinstance(tenants_raw, (list, tuple)) else []
        if names and all(isinstance(name, str) and _TENANT_RE.fullmatch(name) for name in names):
            tenants = frozenset(names)
        else:
            problems.append((
                "tenants",
                "'tenants' must be 'any' or a non-empty list of tenant IDs or domain names (letters, digits, "
                "'.' and '-', at most 253 characters).",
            ))
    return True, tenants, problems
