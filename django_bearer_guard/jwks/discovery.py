"""Find an issuer's ``jwks_uri`` from its metadata (OIDC Discovery, then RFC 8414)."""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from django_bearer_guard._http import get_json
from django_bearer_guard._urls import discovered_key_url_problem
from django_bearer_guard.exceptions import KeyFetchError

__all__ = ["Discovered", "discover_jwks_uri", "metadata_urls"]


@dataclass(frozen=True)
class Discovered:
    """The ``jwks_uri`` an issuer's metadata announced, and the metadata's ``Cache-Control: max-age``."""

    jwks_uri: str
    max_age: int | None


def metadata_urls(issuer: str) -> tuple[str, str]:
    """Where the metadata of ``issuer`` may live, in the order they are tried.

    First OIDC Discovery (``/.well-known/openid-configuration`` appended to the issuer), then
    RFC 8414 §3.1 (``/.well-known/oauth-authorization-server`` inserted before the issuer's path).
    """
    oidc = issuer.rstrip("/") + "/.well-known/openid-configuration"
    parts = urlsplit(issuer)
    path = "/.well-known/oauth-authorization-server" + parts.path.rstrip("/")
    return oidc, urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def discover_jwks_uri(
    issuer: str,
    *,
    deadline: float,
    max_bytes: int,
    allow_http_loopback: bool,
    jwks_hosts: Collection[str] | None,
) -> Discovered:
    """The ``jwks_uri`` announced by the metadata of ``issuer``, with the metadata's lifetime.

    ``deadline`` is a :func:`time.monotonic` instant that bounds every request made here.
    ``jwks_hosts`` (the issuer's allowlist, ``None`` for none) limits the hosts the ``jwks_uri``
    may name. Raises :class:`~django_bearer_guard.exceptions.KeyFetchError` when no location
    serves metadata whose ``issuer`` is exactly ``issuer`` and whose ``jwks_uri`` is acceptable:
    a valid key URL, not on an internal host, and inside ``jwks_hosts`` when that is set.
    """
    reasons = []
    for url in metadata_urls(issuer):
        remaining = max(deadline - time.monotonic(), 0.001)
        try:
            response = get_json(url, timeout=remaining, max_bytes=max_bytes, allow_http_loopback=allow_http_loopback)
            metadata = response.data
        except KeyFetchError as exc:
            reasons.append(exc.reason)
            continue
        # RFC 8414 §3.3, OIDC Discovery §4.3: metadata naming another issuer is discarded (mix-up).
        if metadata.get("issuer") != issuer:
            reasons.append(f"{url} names issuer {_shown(metadata.get('issuer'))}, not {issuer!r}")
            continue
        jwks_uri = metadata.get("jwks_uri")
        # The metadata may not point key fetches at plain HTTP, odd URLs or internal hosts (SSRF, downgrade).
        problem = discovered_key_url_problem(
            jwks_uri, allow_http_loopback=allow_http_loopback, allowed_hosts=jwks_hosts
        )
        if problem:
            reasons.append(f"{url} has a jwks_uri {_shown(jwks_uri)} that {problem}")
            continue
        return Discovered(str(jwks_uri), response.max_age)
    raise KeyFetchError(f"discovery for {issuer} failed: " + "; ".join(reasons))


def _shown(value: object) -> str:
    # repr escapes control characters, so metadata cannot forge log lines; the cut bounds their size.
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "…"
