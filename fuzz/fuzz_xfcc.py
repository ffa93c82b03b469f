"""Fuzz the X-Forwarded-Client-Cert parser and the certificate reader (``identity/transport.py``).

Input: one mode byte, then a header value (Latin-1, as a WSGI server decodes header bytes, or
UTF-8):

* mode 0: ``parse_xfcc``, then ``certificate_from_pem`` on each element's ``Cert``;
* mode 1: ``read_certificate`` with the ``xfcc`` source, from a trusted proxy;
* mode 2: ``read_certificate`` with the ``pem_header`` source (a URL-encoded PEM);
* mode 3: ``read_certificate`` with the ``environ`` source (``SSL_CLIENT_CERT``).

Refusal: ``MalformedXfcc`` from ``parse_xfcc``; the readers never raise. Properties: a refusal's
message never quotes the header; elements hold a lower-case 64-digit ``Hash`` or none and no
empty ``By``/``URI``/``DNS``; a certificate read is one valid certificate whose SPIFFE ID, if
any, is valid, and its reason is empty; a reason never quotes the header.
"""

from __future__ import annotations

import ipaddress
import string

from fuzz._driver import configure_django, fuzz, library_imports

configure_django()
with library_imports(__name__):
    from django_bearer_guard.conf import TransportIdentity
    from django_bearer_guard.exceptions import MalformedXfcc
    from django_bearer_guard.identity.transport import certificate_from_pem, parse_xfcc, read_certificate
    from django_bearer_guard.tokens.workloads import spiffe_trust_domain

NOW = 1_800_000_000.0
_PROXIES = (ipaddress.ip_network("127.0.0.1/32"),)
_SOURCES = {
    1: TransportIdentity(source="xfcc", trusted_proxies=_PROXIES),
    2: TransportIdentity(source="pem_header", header="X-SSL-Client-Cert", trusted_proxies=_PROXIES),
    3: TransportIdentity(source="environ"),
}
_HEX = frozenset(string.hexdigits.lower())
# The one quote a message may make: a key, cut to 32 characters.
_QUOTE_LIMIT = 40


def _check_elements(value: str) -> None:
    try:
        elements = parse_xfcc(value)
    except MalformedXfcc as exc:
        message = str(exc)
    else:
        message = ""
    if message:
        assert len(value) <= _QUOTE_LIMIT or value not in message, message[:80]
        return
    assert elements
    for element in elements:
        assert element.hash is None or (len(element.hash) == 64 and set(element.hash) <= _HEX)
        assert all(element.by) and all(element.uri) and all(element.dns)
        if element.cert is not None:
            certificate = certificate_from_pem(element.cert)
            if certificate is not None:
                assert certificate.spiffe_id is None or spiffe_trust_domain(certificate.spiffe_id) is not None


def _check_reader(mode: int, value: str) -> None:
    transport = _SOURCES[mode]
    key = "SSL_CLIENT_CERT" if transport.source == "environ" else transport.meta_key
    meta = {"REMOTE_ADDR": "127.0.0.1", key: value}
    certificate, reason = read_certificate(meta, transport, now=NOW, leeway=30)
    if certificate is None:
        assert reason and (len(value) <= _QUOTE_LIMIT or value not in reason), reason[:80]
    else:
        assert reason == ""
        assert certificate.not_before - 30 <= NOW <= certificate.not_after + 30
        assert len(certificate.sha256_hex) == 64 and len(certificate.thumbprint) == 43


def test_one_input(data: bytes) -> None:
    """Parse one header value and check the parser's and the readers' contracts."""
    if not data:
        return
    mode, rest = data[0] & 0x03, data[1:]
    value = rest.decode("utf-8", "replace") if data[0] & 0x80 else rest.decode("latin-1")
    if mode == 0:
        _check_elements(value)
    else:
        _check_reader(mode, value)


if __name__ == "__main__":
    fuzz(test_one_input)
