"""Which URLs keys may be fetched from: any key URL, and the stricter rules for a discovered one."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Collection
from urllib.parse import urlsplit

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")
# A last label that resolvers read as an IPv4 number: decimal, octal (leading 0) or 0x hex.
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")
_LOOPBACK_NEEDS_SETTING = "names a loopback host, which needs ALLOW_HTTP_LOOPBACK = True"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _has_unsafe_character(url: str) -> bool:
    return any(char.isspace() or unicodedata.category(char) == "Cc" for char in url)


def key_url_problem(url: object, *, allow_http_loopback: bool) -> str | None:  # noqa: PLR0911 - one rule a line
    """Why ``url`` may not be used to fetch keys, or ``None`` when it may."""
    if not isinstance(url, str) or not url:
        return "must be a non-empty string"
    # urlsplit drops tab, CR, LF and edge spaces: the URL checked must be the exact string fetched.
    if _has_unsafe_character(url):
        return "contains whitespace or control characters"
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


def discovered_key_url_problem(
    url: object, *, allow_http_loopback: bool, allowed_hosts: Collection[str] | None
) -> str | None:
    """Why a ``jwks_uri`` read from an issuer's metadata may not be used, or ``None`` when it may.

    Beyond :func:`key_url_problem`, the host must not be an internal address: loopback
    (``localhost`` included) only with ``allow_http_loopback``; private, link-local, shared,
    reserved, multicast and unspecified addresses, IPv4 spellings other than the dotted quad
    and non-ASCII names never. Names are not resolved. With ``allowed_hosts`` (the issuer's
    ``jwks_hosts``) the host must also be listed: ``host:port`` for that port, a bare host for
    the scheme's default port only.
    """
    problem = key_url_problem(url, allow_http_loopback=allow_http_loopback)
    if problem is not None or not isinstance(url, str):
        return problem or "must be a non-empty string"
    parts = urlsplit(url)
    host = parts.hostname or ""
    bracketed = parts.netloc.rpartition("@")[2].startswith("[")
    problem = _host_problem(host, bracketed=bracketed, allow_loopback=allow_http_loopback)
    if problem is not None:
        return problem
    # A trusted issuer's metadata may only point key fetches at the hosts listed for it.
    if allowed_hosts is not None:
        default = 443 if parts.scheme == "https" else 80
        port = default if parts.port is None else parts.port
        if f"{host}:{port}" not in allowed_hosts and not (port == default and host in allowed_hosts):
            return "names a host that is not in the issuer's jwks_hosts"
    return None


def _host_problem(host: str, *, bracketed: bool, allow_loopback: bool) -> str | None:  # noqa: PLR0911 - one rule a line
    # Resolvers map other scripts through IDNA (fullwidth digits, ideographic dots): ASCII only.
    if not host.isascii():
        return "names a host that is not ASCII (use its A-label)"
    name = host[:-1] if host.endswith(".") else host
    address = _ip_literal(name)
    if address is None:
        # [v1.x] (an IPvFuture literal) and the like: no resolver agrees on what they name.
        if bracketed or ":" in name:
            return "names a host that is neither a DNS name nor an IP address"
        # 2130706433, 0x7f.1, 127.1, 0177.0.0.1: IPv4 addresses that resolvers accept, in disguise.
        if _NUMERIC_LABEL.fullmatch(name.rpartition(".")[2]):
            return "spells an IP address in a form other than the dotted quad"
        # RFC 6761 §6.3: localhost and its subdomains are loopback.
        if name == "localhost" or name.endswith(".localhost"):
            return None if allow_loopback else _LOOPBACK_NEEDS_SETTING
        return None
    # SSRF: the issuer's metadata must not steer key fetches into the internal network.
    if address.is_loopback:
        return None if allow_loopback else _LOOPBACK_NEEDS_SETTING
    if address.is_link_local:
        return "names a link-local address"
    site_local = isinstance(address, ipaddress.IPv6Address) and address.is_site_local
    if (
        site_local
        or address in _SHARED
        or address.is_private
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
        or not address.is_global
    ):
        return "names a private or reserved address"
    return None


def _ip_literal(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        # ::ffff:10.0.0.1 and 64:ff9b::10.0.0.1 reach the embedded IPv4 address.
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        # 6to4 (2002::/16) routes to the IPv4 address it embeds: 2002:a00:1:: is 10.0.0.1.
        if address.sixtofour is not None:
            return address.sixtofour
    return address


def peer_address_problem(address: str, *, allow_loopback: bool) -> str | None:
    """Why a connection to ``address`` (an IP address as the socket reports it) may not fetch keys.

    The same rules as the host of a discovered ``jwks_uri``, applied to the address a name
    resolved to, so a public-looking name (or one rebound after a check) cannot reach loopback
    or the internal network.
    """
    return _host_problem(address.partition("%")[0], bracketed=False, allow_loopback=allow_loopback)
