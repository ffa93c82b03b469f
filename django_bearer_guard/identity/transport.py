"""The caller's client certificate, from the TLS server or from a trusted proxy's header.

:func:`read_certificate` is the one entry point: it reads ``TRANSPORT_IDENTITY``'s source
(``SSL_CLIENT_CERT``, Envoy's ``X-Forwarded-Client-Cert`` or a URL-encoded PEM header such as
nginx's ``$ssl_client_escaped_cert``) and returns a :class:`ClientCertificate` or the reason
there is none. Proxy headers are believed only from ``trusted_proxies``.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import ipaddress
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import unquote

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from django_bearer_guard.conf import Network, TransportIdentity
from django_bearer_guard.exceptions import MalformedXfcc
from django_bearer_guard.tokens.workloads import spiffe_trust_domain

__all__ = [
    "MAX_PEM_LENGTH",
    "MAX_XFCC_LENGTH",
    "ClientCertificate",
    "MalformedXfcc",
    "XfccElement",
    "certificate_from_pem",
    "is_trusted_peer",
    "parse_xfcc",
    "read_certificate",
]

logger = logging.getLogger("django_bearer_guard")

MAX_XFCC_LENGTH = 64 * 1024
"""The longest ``X-Forwarded-Client-Cert`` value :func:`parse_xfcc` reads, in characters."""
MAX_PEM_LENGTH = 16 * 1024
"""The longest PEM text :func:`certificate_from_pem` reads; a client certificate is a few KiB."""

_CONTROL = r"\x00-\x1f\x7f-\x9f"
# A quoted value's inside is an unrolled loop (no nested quantifier over the same characters),
# so a hostile header cannot make the tokenizer backtrack.
_QUOTED = rf'[^"\\{_CONTROL}]*(?:\\[^{_CONTROL}][^"\\{_CONTROL}]*)*'
_PLAIN = rf'[^,;="\s{_CONTROL}]*'
# One key=value pair and the separator after it.
_PAIR = re.compile(rf'([A-Za-z]+)=(?:"({_QUOTED})"|({_PLAIN}))([;,]|\Z)')
_KEY = re.compile(r"[A-Za-z]*")
_QUOTED_PREFIX = re.compile(_QUOTED)
_PLAIN_PREFIX = re.compile(_PLAIN)
_ESCAPE = re.compile(r'\\(["\\])')
_HASH = re.compile(r"[0-9A-Fa-f]{64}")
_SINGLE_KEYS = frozenset({"hash", "cert", "chain", "subject"})
_REPEATED_KEYS = frozenset({"by", "uri", "dns"})
_PEM = re.compile(r"[ \t\r\n]*-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\t\r\n ]+-----END CERTIFICATE-----[ \t\r\n]*")
_PEER_TEXT = re.compile(r"[0-9A-Za-z.:%_-]{1,64}")
_MAX_ADDRESS_LENGTH = 128
# Header values up to this length are memoised (256 of them at most, a few MiB).
_MEMO_MAX_LENGTH = 16 * 1024


@dataclass(frozen=True, slots=True)
class XfccElement:
    """One comma-separated element of ``X-Forwarded-Client-Cert``: what one proxy saw.

    ``cert`` and ``chain`` are URL-decoded PEM text, ``hash`` is lower-cased; empty ``By``,
    ``URI`` and ``DNS`` values (Envoy writes ``URI=`` for a certificate without one) are dropped.
    """

    by: tuple[str, ...]
    hash: str | None
    cert: str | None
    chain: str | None
    subject: str | None
    uri: tuple[str, ...]
    dns: tuple[str, ...]


def _end(pattern: re.Pattern[str], value: str, pos: int) -> int:
    # Every pattern passed here matches the empty string, so a match always exists.
    return cast("re.Match[str]", pattern.match(value, pos)).end()


def _failure(value: str, pos: int) -> str:  # noqa: PLR0911 - one message per way a pair breaks
    """Why no pair starts at ``pos``, without quoting the header."""
    key_end = _end(_KEY, value, pos)
    if key_end == pos:
        return f"expected a key at character {pos} (an empty element or pair)"
    if not value.startswith("=", key_end):
        return f"the key at character {pos} has no '='"
    start = key_end + 1
    if value.startswith('"', start):
        stop = _end(_QUOTED_PREFIX, value, start + 1)
        if stop == len(value):
            return f"the quoted value at character {start} is not terminated"
        if value[stop] == "\\":
            return f"a bad escape at character {stop}"
        if value[stop] == '"':
            return f"no ';' or ',' after the quoted value at character {start}"
        return f"a control character at character {stop}"
    stop = _end(_PLAIN_PREFIX, value, start)
    return f"the character at {stop} must not appear in an unquoted value"


def _element(pairs: list[tuple[str, str]]) -> XfccElement:
    single: dict[str, str] = {}
    repeated: dict[str, list[str]] = {"by": [], "uri": [], "dns": []}
    for key, text in pairs:
        name = key.lower()
        if name in _REPEATED_KEYS:
            if text:
                repeated[name].append(text)
        elif name not in _SINGLE_KEYS:
            raise MalformedXfcc(f"unknown key {key[:32]!r}")
        elif name in single:
            # Two Cert (or Hash) values would let the one checked differ from the one used.
            raise MalformedXfcc(f"{key[:32]!r} appears twice in one element")
        else:
            single[name] = text
    digest = single.get("hash")
    if digest is not None and not _HASH.fullmatch(digest):
        raise MalformedXfcc("Hash is not 64 hexadecimal digits")
    cert, chain = single.get("cert"), single.get("chain")
    return XfccElement(
        by=tuple(repeated["by"]),
        hash=None if digest is None else digest.lower(),
        cert=None if cert is None else unquote(cert),
        chain=None if chain is None else unquote(chain),
        subject=single.get("subject"),
        uri=tuple(repeated["uri"]),
        dns=tuple(repeated["dns"]),
    )


def parse_xfcc(value: str) -> tuple[XfccElement, ...]:
    """Parse an ``X-Forwarded-Client-Cert`` value into its elements, first to last.

    Follows Envoy's format: elements separated by ``,``, ``key=value`` pairs separated by ``;``,
    keys ``By``, ``Hash``, ``Cert``, ``Chain``, ``Subject``, ``URI`` and ``DNS`` in any case, values
    unquoted (no ``,;="``, spaces or control characters) or double-quoted (``\\"`` and ``\\\\``
    escaped; any other backslash, as in an RFC 4514 subject, is kept as written). ``By``, ``URI``
    and ``DNS`` may repeat. Raises :class:`MalformedXfcc`, and nothing else, for anything outside
    this grammar, a ``Hash`` that is not 64 hex digits or a value longer than
    :data:`MAX_XFCC_LENGTH`; its message never quotes the header.
    """
    if not isinstance(value, str):
        raise MalformedXfcc("the header is not text")
    if len(value) > MAX_XFCC_LENGTH:
        raise MalformedXfcc(f"the header is longer than {MAX_XFCC_LENGTH} characters")
    elements: list[XfccElement] = []
    pairs: list[tuple[str, str]] = []
    pos = 0
    while True:
        match = _PAIR.match(value, pos)
        if match is None:
            raise MalformedXfcc(_failure(value, pos))
        key, quoted, plain, separator = match.groups()
        pairs.append((key, plain if quoted is None else _ESCAPE.sub(r"\1", quoted)))
        pos = match.end()
        if separator != ";":
            elements.append(_element(pairs))
            pairs = []
            if not separator:
                return tuple(elements)


@dataclass(frozen=True, slots=True)
class ClientCertificate:
    """What the library uses of a client certificate."""

    thumbprint: str
    """RFC 8705 ``x5t#S256``: the base64url (unpadded) SHA-256 of the DER certificate."""
    sha256_hex: str
    """The lower-case hex SHA-256 of the DER certificate (what Envoy's ``Hash`` carries)."""
    spiffe_id: str | None
    """The certificate's only URI SAN when it is a valid SPIFFE ID; else ``None``."""
    not_before: float
    not_after: float


def _uri_sans(certificate: x509.Certificate) -> list[str]:
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return san.value.get_values_for_type(x509.UniformResourceIdentifier)


@functools.lru_cache(maxsize=256)
def _parse_pem(pem: str) -> ClientCertificate | None:
    # One block and nothing else: text around it, or a second certificate, is not ignored.
    if not _PEM.fullmatch(pem):
        return None
    try:
        certificate = x509.load_pem_x509_certificate(pem.encode("ascii"))
        der = certificate.public_bytes(serialization.Encoding.DER)
        uris = _uri_sans(certificate)
        not_before = certificate.not_valid_before_utc.timestamp()
        not_after = certificate.not_valid_after_utc.timestamp()
    except Exception:  # whatever a malformed certificate raises, it names no one
        return None
    digest = hashlib.sha256(der).digest()
    # SPIFFE X.509-SVID §2: an SVID has exactly one URI SAN; two would make the identity ambiguous.
    spiffe_id = uris[0] if len(uris) == 1 and spiffe_trust_domain(uris[0]) is not None else None
    return ClientCertificate(
        thumbprint=base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii"),
        sha256_hex=digest.hex(),
        spiffe_id=spiffe_id,
        not_before=not_before,
        not_after=not_after,
    )


def certificate_from_pem(pem: str) -> ClientCertificate | None:
    """The certificate in ``pem``, or ``None`` when it is not exactly one parsable certificate.

    ``pem`` must hold one ``-----BEGIN CERTIFICATE-----`` block with nothing but whitespace
    around it, and at most :data:`MAX_PEM_LENGTH` characters. Results are memoised per exact
    string, so a certificate is parsed once. Never raises.
    """
    if not isinstance(pem, str) or len(pem) > MAX_PEM_LENGTH:
        return None
    return _parse_pem(pem)


_IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@functools.lru_cache(maxsize=1024)
def _addresses(text: str) -> tuple[_IPAddress, ...]:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return ()
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id is not None:
            address = ipaddress.IPv6Address(text.partition("%")[0])
        if address.ipv4_mapped is not None:
            # A dual-stack socket reports an IPv4 peer as ::ffff:a.b.c.d.
            return (address.ipv4_mapped, address)
    return (address,)


def is_trusted_peer(remote_addr: object, networks: tuple[Network, ...]) -> bool:
    """True when ``remote_addr`` (``REMOTE_ADDR``) lies inside one of ``networks``.

    An IPv4-mapped IPv6 address counts as its IPv4 address (and as itself); a scoped IPv6
    address is checked without its scope. Anything that is not an IP address string is not
    trusted.
    """
    if not isinstance(remote_addr, str) or not networks or len(remote_addr) > _MAX_ADDRESS_LENGTH:
        return False
    return any(address in network for address in _addresses(remote_addr) for network in networks)


def _xfcc_certificate(value: str, header: str) -> tuple[ClientCertificate | None, str]:
    try:
        elements = parse_xfcc(value)
    except MalformedXfcc as exc:
        return None, f"the {header} header is malformed: {exc}"
    # The nearest proxy appends its element last; earlier ones may come from the client.
    last = elements[-1]
    if last.cert is None:
        # URI, Subject and DNS are the proxy's words about a certificate: only the certificate counts.
        return None, f"the last element of the {header} header has no Cert"
    certificate = certificate_from_pem(last.cert)
    if certificate is None:
        return None, f"the Cert of the {header} header is not exactly one valid PEM certificate"
    if last.hash is not None and last.hash != certificate.sha256_hex:
        return None, f"the Hash of the {header} header does not match its Cert"
    if last.uri and certificate.spiffe_id is not None and certificate.spiffe_id not in last.uri:
        return None, f"the URI of the {header} header does not name the certificate's SPIFFE ID"
    return certificate, ""


_memoised_xfcc_certificate = functools.lru_cache(maxsize=256)(_xfcc_certificate)


def _pem_header_certificate(value: str, header: str) -> tuple[ClientCertificate | None, str]:
    if not value.strip():
        # nginx sends an empty $ssl_client_escaped_cert when the client presented none.
        return None, f"the {header} header is empty: the client presented no certificate"
    certificate = certificate_from_pem(unquote(value))
    if certificate is None:
        return None, f"the {header} header is not exactly one valid URL-encoded PEM certificate"
    return certificate, ""


def _proxy_certificate(meta: Mapping[str, Any], transport: TransportIdentity) -> tuple[ClientCertificate | None, str]:
    header = transport.header
    value = meta.get(transport.meta_key)
    if not isinstance(value, str):
        return None, f"no {header} header"
    peer = meta.get("REMOTE_ADDR")
    # A certificate header from anyone but the proxy is the client's own claim: ignored.
    if not is_trusted_peer(peer, transport.trusted_proxies):
        shown = peer if isinstance(peer, str) and _PEER_TEXT.fullmatch(peer) else "an unrecognised peer"
        logger.warning(
            "Ignored the %s header from %s, which is not in TRANSPORT_IDENTITY trusted_proxies", header, shown
        )
        return None, f"the {header} header came from {shown}, not a trusted proxy"
    if transport.source == "pem_header":
        return _pem_header_certificate(value, header)
    if len(value) <= _MEMO_MAX_LENGTH:
        return _memoised_xfcc_certificate(value, header)
    return _xfcc_certificate(value, header)


def _environ_certificate(meta: Mapping[str, Any]) -> tuple[ClientCertificate | None, str]:
    pem = meta.get("SSL_CLIENT_CERT")
    if not isinstance(pem, str) or not pem.strip():
        return None, "the connection presented no client certificate (SSL_CLIENT_CERT is empty)"
    certificate = certificate_from_pem(pem)
    return certificate, "" if certificate else "SSL_CLIENT_CERT is not exactly one valid PEM certificate"


def _outside_validity(certificate: ClientCertificate, now: float, leeway: float) -> str:
    # RFC 5280 §4.1.2.5: outside its validity period a certificate proves nothing (NaN fails too).
    if not now >= certificate.not_before - leeway:
        return "the client certificate is not valid yet"
    if not now <= certificate.not_after + leeway:
        return "the client certificate has expired"
    return ""


def read_certificate(
    meta: Mapping[str, Any], transport: TransportIdentity, *, now: float, leeway: float
) -> tuple[ClientCertificate | None, str]:
    """The caller's client certificate from ``transport``'s source, and why there is none.

    ``meta`` is the request's WSGI environ. Returns ``(certificate, "")``, or ``(None, reason)``
    with a short reason for logs that never contains certificate bytes or header values. A
    certificate outside its validity period (``now`` ± ``leeway``) identifies no one. Never raises.
    """
    source = transport.source
    if source == "environ":
        certificate, reason = _environ_certificate(meta)
    elif source in ("xfcc", "pem_header"):
        certificate, reason = _proxy_certificate(meta, transport)
    elif source is None:
        return None, "no TRANSPORT_IDENTITY source is configured"
    else:
        return None, f"unknown TRANSPORT_IDENTITY source {source!r:.40}"
    if certificate is not None:
        reason = _outside_validity(certificate, now, leeway)
    return (None, reason) if reason else (certificate, "")
