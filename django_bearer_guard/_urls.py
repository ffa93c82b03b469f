from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def key_url_problem(url: object, *, allow_http_loopback: bool) -> str | None:  # noqa: PLR0911 - one rule a line
    """Why ``url`` may not be used to fetch keys, or ``None`` when it may."""
    if not isinstance(url, str) or not url:
        return "must be a non-empty string"
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "is not a valid URL"
    if not host or parts.username is not None or parts.password is not None:
        return "must name a host and carry no credentials"
    if parts.fragment:
        return "must not have a fragment"
    if parts.scheme == "https":
        return None
    if parts.scheme == "http":
        if not _is_loopback(host):
            return "must use https:// (http:// is only allowed on loopback)"
        if not allow_http_loopback:
            return "uses http:// on loopback, which needs ALLOW_HTTP_LOOPBACK = True"
        return None
    return "must use https://"
