from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import time
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote, unquote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from django_bearer_guard.conf import Network, TransportIdentity
from django_bearer_guard.identity import transport
from django_bearer_guard.identity.transport import (
    MAX_PEM_LENGTH,
    MAX_XFCC_LENGTH,
    ClientCertificate,
    MalformedXfcc,
    XfccElement,
    certificate_from_pem,
    is_trusted_peer,
    parse_xfcc,
    read_certificate,
)
from django_bearer_guard.testing import certificates
from django_bearer_guard.testing.certificates import WorkloadCA, WorkloadCertificate, xfcc_header

SPIFFE_ID = "spiffe://example.org/ns/prod/sa/billing"
OTHER_ID = "spiffe://example.org/ns/prod/sa/mallory"
HEX = "468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688"
PROXIES: tuple[Network, ...] = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8::/32"))
XFCC = TransportIdentity("xfcc", trusted_proxies=PROXIES)
PEM_HEADER = TransportIdentity("pem_header", header="X-SSL-Client-Cert", trusted_proxies=PROXIES)
ENVIRON = TransportIdentity("environ")
PROXY = "10.0.0.2"


@pytest.fixture(scope="module")
def ca() -> WorkloadCA:
    return WorkloadCA()


@pytest.fixture(scope="module")
def workload(ca: WorkloadCA) -> WorkloadCertificate:
    return ca.issue(SPIFFE_ID, dns=["billing.example.org"])


@pytest.fixture(scope="module")
def mallory(ca: WorkloadCA) -> WorkloadCertificate:
    return ca.issue(OTHER_ID)


def element(**fields: Any) -> XfccElement:
    values: dict[str, Any] = {
        "by": (),
        "hash": None,
        "cert": None,
        "chain": None,
        "subject": None,
        "uri": (),
        "dns": (),
    }
    return XfccElement(**{**values, **fields})


def read(
    meta: dict[str, Any], identity: TransportIdentity = XFCC, **kwargs: Any
) -> tuple[ClientCertificate | None, str]:
    kwargs.setdefault("now", time.time())
    kwargs.setdefault("leeway", 30)
    return read_certificate(meta, identity, **kwargs)


def xfcc_meta(value: Any, peer: Any = PROXY) -> dict[str, Any]:
    return {"REMOTE_ADDR": peer, XFCC.meta_key: value}


# --- parse_xfcc -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(
            f'By=http://frontend.lyft.com;Hash={HEX};Subject="/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client";'
            "URI=spiffe://lyft.com/test;DNS=lyft.com;DNS=www.lyft.com",
            [
                element(
                    by=("http://frontend.lyft.com",),
                    hash=HEX,
                    subject="/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client",
                    uri=("spiffe://lyft.com/test",),
                    dns=("lyft.com", "www.lyft.com"),
                )
            ],
            id="envoy-docs-example",
        ),
        pytest.param('Subject="CN=a \\"b\\""', [element(subject='CN=a "b"')], id="escaped-quotes"),
        pytest.param('Subject="a\\\\b"', [element(subject="a\\b")], id="escaped-backslash"),
        pytest.param('Subject="\\\\\\""', [element(subject='\\"')], id="escaped-backslash-then-quote"),
        # RFC 4514 escapes in an RFC 2253 subject pass through as written.
        pytest.param('Subject="CN=a\\,b,O=c\\+d"', [element(subject="CN=a\\,b,O=c\\+d")], id="rfc4514-escapes-kept"),
        pytest.param(
            'Subject="CN=x,O=y;OU=z";URI=spiffe://a/b',
            [element(subject="CN=x,O=y;OU=z", uri=("spiffe://a/b",))],
            id="comma-semicolon-equals-inside-quotes",
        ),
        pytest.param('By="a,b";URI="c;d=e"', [element(by=("a,b",), uri=("c;d=e",))], id="quoted-uri-and-by"),
        pytest.param(
            "By=spiffe://a/client;URI=spiffe://a/x,By=spiffe://a/gw;URI=spiffe://a/y",
            [
                element(by=("spiffe://a/client",), uri=("spiffe://a/x",)),
                element(by=("spiffe://a/gw",), uri=("spiffe://a/y",)),
            ],
            id="two-elements",
        ),
        pytest.param(
            "By=a;By=b;URI=u1;URI=u2;DNS=d1;DNS=d2",
            [element(by=("a", "b"), uri=("u1", "u2"), dns=("d1", "d2"))],
            id="repeated-by-uri-dns-keep-order",
        ),
        pytest.param(
            f"by=a;HASH={HEX};uRi=u;Dns=d;subject=s",
            [element(by=("a",), hash=HEX, uri=("u",), dns=("d",), subject="s")],
            id="case-insensitive-keys",
        ),
        pytest.param(f"Hash={HEX.upper()}", [element(hash=HEX)], id="hash-lower-cased"),
        pytest.param(f'Hash="{HEX}"', [element(hash=HEX)], id="quoted-hash"),
        pytest.param('Subject=""', [element(subject="")], id="empty-quoted-subject"),
        pytest.param("Subject=", [element(subject="")], id="empty-plain-subject"),
        pytest.param('URI=;DNS=;By=""', [element()], id="empty-repeated-values-dropped"),
        pytest.param(
            'Cert="-----BEGIN%20CERTIFICATE-----%0AAB%2B%2F%3D%0A-----END%20CERTIFICATE-----%0A"',
            [element(cert="-----BEGIN CERTIFICATE-----\nAB+/=\n-----END CERTIFICATE-----\n")],
            id="cert-url-decoded",
        ),
        pytest.param("Cert=%2D%2D%0A", [element(cert="--\n")], id="unquoted-cert"),
        pytest.param(
            'Chain="-----BEGIN%20CERTIFICATE-----%0AA%0A-----END%20CERTIFICATE-----%0A'
            '-----BEGIN%20CERTIFICATE-----%0AB%0A-----END%20CERTIFICATE-----%0A"',
            [
                element(
                    chain="-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n"
                    "-----BEGIN CERTIFICATE-----\nB\n-----END CERTIFICATE-----\n"
                )
            ],
            id="chain-of-two-blocks",
        ),
        pytest.param("By=a\\b", [element(by=("a\\b",))], id="backslash-literal-unquoted"),
        pytest.param('Subject="CN=Zoë Ünïcode"', [element(subject="CN=Zoë Ünïcode")], id="non-ascii-quoted"),
        pytest.param("Subject=Zoë", [element(subject="Zoë")], id="non-ascii-plain"),
    ],
)
def test_parse_xfcc_reads_envoy_grammar(value: str, expected: list[XfccElement]) -> None:
    assert parse_xfcc(value) == tuple(expected)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        pytest.param("", "expected a key at character 0", id="empty-header"),
        pytest.param(",", "expected a key at character 0", id="lone-comma"),
        pytest.param(",By=a", "expected a key at character 0", id="leading-comma"),
        pytest.param("By=a,", "expected a key at character 5", id="trailing-comma"),
        pytest.param("By=a,,By=b", "expected a key at character 5", id="empty-element"),
        pytest.param("By=a;", "expected a key at character 5", id="trailing-semicolon"),
        pytest.param("By=a;;URI=b", "expected a key at character 5", id="empty-pair"),
        pytest.param("=a", "expected a key at character 0", id="value-without-key"),
        pytest.param("By", "has no '='", id="key-without-equals-at-end"),
        pytest.param("By;URI=a", "has no '='", id="key-without-equals"),
        pytest.param("X509=a", "has no '='", id="key-with-digit"),
        pytest.param('Subject="abc', "is not terminated", id="unterminated-quote"),
        pytest.param('Subject="abc\\"', "is not terminated", id="escaped-closing-quote"),
        pytest.param('Subject="abc;URI=x', "is not terminated", id="unterminated-swallows-rest"),
        pytest.param('Subject="a\\', "bad escape", id="bad-escape"),
        pytest.param('Subject="a\\', "bad escape", id="backslash-at-end"),
        pytest.param('Subject="a"b', "after the quoted value", id="junk-after-quote"),
        pytest.param('Subject="a""b"', "after the quoted value", id="doubled-quote"),
        pytest.param('Subject="a\x00b"', "control character", id="nul-in-quotes"),
        pytest.param('Subject="a\tb"', "control character", id="tab-in-quotes"),
        pytest.param('Subject="a\x7fb"', "control character", id="del-in-quotes"),
        pytest.param('Subject="a\x85b"', "control character", id="c1-in-quotes"),
        pytest.param("By=a\x01b", "unquoted value", id="control-unquoted"),
        pytest.param("By=a\r\nURI=b", "unquoted value", id="crlf-unquoted"),
        pytest.param("By=a b", "unquoted value", id="space-unquoted"),
        pytest.param("By= a", "unquoted value", id="space-after-equals"),
        pytest.param("By=a ,URI=b", "unquoted value", id="space-before-comma"),
        pytest.param("By=a=b", "unquoted value", id="equals-unquoted"),
        pytest.param('By=a"b', "unquoted value", id="quote-inside-unquoted"),
        pytest.param("By=a\xa0", "unquoted value", id="nbsp-unquoted"),
        pytest.param(" By=a", "expected a key", id="leading-space"),
        pytest.param("Foo=bar", "unknown key 'Foo'", id="unknown-key"),
        pytest.param("Bye=1", "unknown key 'Bye'", id="unknown-key-prefix"),
        pytest.param("URI=a,Foo=b", "unknown key", id="unknown-key-second-element"),
        pytest.param(f"Hash={HEX};hash={HEX}", "appears twice", id="hash-twice"),
        pytest.param("Cert=a;cert=b", "appears twice", id="cert-twice"),
        pytest.param("Chain=a;Chain=b", "appears twice", id="chain-twice"),
        pytest.param('Subject="a";Subject="b"', "appears twice", id="subject-twice"),
        pytest.param(f"Hash={HEX[:-1]}", "64 hexadecimal", id="hash-63-digits"),
        pytest.param(f"Hash={HEX}0", "64 hexadecimal", id="hash-65-digits"),
        pytest.param("Hash=" + "g" * 64, "64 hexadecimal", id="hash-not-hex"),
        pytest.param("Hash=", "64 hexadecimal", id="hash-empty"),
        pytest.param("By=" + "a" * MAX_XFCC_LENGTH, "longer than", id="over-64-kib"),
    ],
)
def test_parse_xfcc_refuses_malformed_header(value: str, reason: str) -> None:
    with pytest.raises(MalformedXfcc, match=reason):
        parse_xfcc(value)


def test_parse_xfcc_accepts_exactly_64_kib() -> None:
    value = "By=" + "a" * (MAX_XFCC_LENGTH - 3)
    assert parse_xfcc(value)[0].by == ("a" * (MAX_XFCC_LENGTH - 3),)


@pytest.mark.parametrize("value", [None, b"By=a", 42])
def test_parse_xfcc_refuses_non_text(value: Any) -> None:
    with pytest.raises(MalformedXfcc, match="not text"):
        parse_xfcc(value)


@pytest.mark.parametrize(
    "value",
    ['Subject="SECRET', 'URI=a;Foo="SECRET"', 'Subject="SECRET\\\x01"', "By=SECRET SECRET", 'By="SECRET"SECRET'],
)
def test_parse_xfcc_message_never_quotes_header_value(value: str) -> None:
    with pytest.raises(MalformedXfcc) as info:
        parse_xfcc(value)
    assert "SECRET" not in str(info.value)


def test_parse_xfcc_is_fast_on_a_3_kib_header_with_a_cert(workload: WorkloadCertificate, ca: WorkloadCA) -> None:
    chain = workload.pem + ca.pem + WorkloadCA("Test intermediate CA").pem + WorkloadCA("Test root CA").pem
    value = xfcc_header("By=spiffe://example.org/client", workload.xfcc(by="spiffe://example.org/gw", subject=True))
    value += f';Chain="{quote(chain, safe="")}"'
    assert len(value) > 3000
    assert parse_xfcc(value)[-1].chain == chain
    start = time.perf_counter()
    for _ in range(200):
        parse_xfcc(value)
    # About 30 µs each; a per-character loop would take milliseconds.
    assert time.perf_counter() - start < 1.0


def test_parse_xfcc_does_not_backtrack_on_hostile_quotes() -> None:
    value = 'Subject="' + "\\\\a" * 20000
    start = time.perf_counter()
    with pytest.raises(MalformedXfcc, match="not terminated"):
        parse_xfcc(value)
    assert time.perf_counter() - start < 1.0


# --- certificate_from_pem ---------------------------------------------------------------------


def test_certificate_from_pem_reads_digests_spiffe_id_and_validity(workload: WorkloadCertificate) -> None:
    certificate = certificate_from_pem(workload.pem)
    assert certificate == ClientCertificate(
        thumbprint=workload.thumbprint,
        sha256_hex=hashlib.sha256(workload.der).hexdigest(),
        spiffe_id=SPIFFE_ID,
        not_before=workload.certificate.not_valid_before_utc.timestamp(),
        not_after=workload.certificate.not_valid_after_utc.timestamp(),
    )
    assert "=" not in certificate.thumbprint and len(certificate.thumbprint) == 43


def test_certificate_from_pem_is_memoised_per_string(workload: WorkloadCertificate) -> None:
    assert certificate_from_pem(workload.pem) is certificate_from_pem(workload.pem)


@pytest.mark.parametrize(
    ("uris", "dns"),
    [
        pytest.param([], [], id="no-san-extension"),
        pytest.param([], ["billing.example.org"], id="dns-san-only"),
        pytest.param([SPIFFE_ID, OTHER_ID], [], id="two-uri-sans"),
        pytest.param(["https://example.org/billing"], [], id="uri-not-spiffe"),
        pytest.param(["spiffe://Example.org/billing"], [], id="invalid-spiffe-upper-case-trust-domain"),
        pytest.param(["spiffe://example.org/billing/"], [], id="invalid-spiffe-trailing-slash"),
    ],
)
def test_certificate_from_pem_without_exactly_one_spiffe_uri_san_has_no_spiffe_id(
    ca: WorkloadCA, uris: list[str], dns: list[str]
) -> None:
    certificate = certificate_from_pem(ca.issue(uris=uris, dns=dns).pem)
    assert certificate is not None and certificate.spiffe_id is None


def test_certificate_from_pem_accepts_whitespace_around_and_crlf(workload: WorkloadCertificate) -> None:
    expected = certificate_from_pem(workload.pem)
    assert certificate_from_pem("\n \t" + workload.pem + "\r\n  ") == expected
    assert certificate_from_pem(workload.pem.replace("\n", "\r\n")) == expected


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda w, ca: "", id="empty"),
        pytest.param(lambda w, ca: "garbage", id="garbage"),
        pytest.param(lambda w, ca: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", id="bad-der"),
        pytest.param(lambda w, ca: "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n", id="empty-block"),
        pytest.param(lambda w, ca: w.pem.replace("CERTIFICATE", "PRIVATE KEY"), id="other-block-type"),
        pytest.param(lambda w, ca: w.pem + ca.pem, id="two-blocks"),
        pytest.param(lambda w, ca: w.pem + w.pem, id="same-block-twice"),
        pytest.param(lambda w, ca: "subject=CN=x\n" + w.pem, id="text-before"),
        pytest.param(lambda w, ca: w.pem + "trailer", id="text-after"),
        pytest.param(lambda w, ca: w.pem.replace("\n", "", 1)[:-30] + "\n-----END CERTIFICATE-----", id="truncated"),
        pytest.param(lambda w, ca: w.pem + " " * MAX_PEM_LENGTH, id="over-16-kib"),
        pytest.param(lambda w, ca: w.pem.replace("\n", "\né", 1), id="non-ascii"),
        pytest.param(lambda w, ca: w.pem.encode(), id="bytes"),
        pytest.param(lambda w, ca: None, id="none"),
    ],
)
def test_certificate_from_pem_refuses_anything_but_one_certificate(
    workload: WorkloadCertificate, ca: WorkloadCA, make: Any
) -> None:
    assert certificate_from_pem(make(workload, ca)) is None


# --- is_trusted_peer --------------------------------------------------------------------------


def nets(*cidrs: str) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(cidr) for cidr in cidrs)


@pytest.mark.parametrize(
    ("remote_addr", "networks", "expected"),
    [
        pytest.param("10.0.0.1", nets("10.0.0.0/8"), True, id="ipv4-inside"),
        pytest.param("11.0.0.1", nets("10.0.0.0/8"), False, id="ipv4-outside"),
        pytest.param("10.0.0.1", nets("10.0.0.1/32"), True, id="ipv4-slash-32"),
        pytest.param("10.0.0.2", nets("10.0.0.1/32"), False, id="ipv4-slash-32-other"),
        pytest.param("10.0.0.1", nets("192.0.2.0/24", "10.0.0.0/8"), True, id="second-network"),
        pytest.param("2001:db8::1", nets("2001:db8::/32"), True, id="ipv6-inside"),
        pytest.param("2001:db9::1", nets("2001:db8::/32"), False, id="ipv6-outside"),
        pytest.param("2001:db8::1", nets("2001:db8::1/128"), True, id="ipv6-slash-128"),
        pytest.param("2001:db8::2", nets("2001:db8::1/128"), False, id="ipv6-slash-128-other"),
        pytest.param("2001:DB8:0:0::1", nets("2001:db8::1/128"), True, id="ipv6-non-canonical-text"),
        pytest.param("::ffff:10.0.0.1", nets("10.0.0.0/8"), True, id="mapped-as-ipv4"),
        pytest.param("::ffff:10.0.0.1", nets("::ffff:0:0/96"), True, id="mapped-as-ipv6"),
        pytest.param("::ffff:11.0.0.1", nets("10.0.0.0/8"), False, id="mapped-outside"),
        pytest.param("::ffff:a00:1", nets("10.0.0.1/32"), True, id="mapped-hex-form"),
        pytest.param("fe80::1%eth0", nets("fe80::/10"), True, id="scoped-inside"),
        pytest.param("fe80::1%eth0", nets("fe80::1/128"), True, id="scoped-slash-128"),
        pytest.param("fe80::2%3", nets("fe80::1/128"), False, id="scoped-outside"),
        pytest.param("::ffff:10.0.0.1%eth0", nets("10.0.0.0/8"), True, id="scoped-mapped"),
        pytest.param("10.0.0.1", nets("::ffff:0:0/96", "2001:db8::/32"), False, id="ipv4-against-ipv6-only"),
        pytest.param("::1", nets("127.0.0.0/8"), False, id="ipv6-loopback-not-ipv4"),
        pytest.param("10.0.0.1", (), False, id="no-networks"),
        pytest.param("", nets("0.0.0.0/0"), False, id="empty"),
        pytest.param("garbage", nets("0.0.0.0/0", "::/0"), False, id="garbage"),
        pytest.param(" 10.0.0.1", nets("0.0.0.0/0"), False, id="leading-space"),
        pytest.param("10.0.0.1\n", nets("0.0.0.0/0"), False, id="trailing-newline"),
        pytest.param("10.0.0.1%eth0", nets("0.0.0.0/0"), False, id="scoped-ipv4"),
        pytest.param("fe80::1%", nets("::/0"), False, id="empty-scope"),
        pytest.param("[::1]", nets("::/0"), False, id="brackets"),
        pytest.param("10.0.0.256", nets("0.0.0.0/0"), False, id="octet-too-big"),
        pytest.param("010.0.0.1", nets("0.0.0.0/0"), False, id="leading-zero"),
        pytest.param("10.0.0.1:8080", nets("0.0.0.0/0"), False, id="with-port"),
        pytest.param("1" * 200, nets("0.0.0.0/0"), False, id="too-long"),
        pytest.param(None, nets("0.0.0.0/0"), False, id="none"),
        pytest.param(167772161, nets("0.0.0.0/0"), False, id="int"),
        pytest.param(b"10.0.0.1", nets("0.0.0.0/0"), False, id="bytes"),
        pytest.param(ipaddress.ip_address("10.0.0.1"), nets("0.0.0.0/0"), False, id="address-object"),
    ],
)
def test_is_trusted_peer(remote_addr: object, networks: tuple[Network, ...], expected: bool) -> None:
    assert is_trusted_peer(remote_addr, networks) is expected


# --- read_certificate: sources ----------------------------------------------------------------


def test_read_certificate_without_source_gives_no_identity(workload: WorkloadCertificate) -> None:
    meta = {"SSL_CLIENT_CERT": workload.pem, **xfcc_meta(workload.xfcc())}
    assert read(meta, TransportIdentity()) == (None, "no TRANSPORT_IDENTITY source is configured")


def test_read_certificate_unknown_source_fails_closed(workload: WorkloadCertificate) -> None:
    assert read({"SSL_CLIENT_CERT": workload.pem}, TransportIdentity("tls")) == (
        None,
        "unknown TRANSPORT_IDENTITY source 'tls'",
    )


def test_read_certificate_environ_reads_ssl_client_cert_from_any_peer(workload: WorkloadCertificate) -> None:
    meta = {"SSL_CLIENT_CERT": workload.pem, "REMOTE_ADDR": "203.0.113.9"}
    assert read(meta, ENVIRON) == (certificate_from_pem(workload.pem), "")


@pytest.mark.parametrize("value", [None, "", "  \n", 42], ids=["absent", "empty", "blank", "not-text"])
def test_read_certificate_environ_without_certificate_gives_no_identity(value: Any) -> None:
    meta = {} if value is None else {"SSL_CLIENT_CERT": value}
    assert read(meta, ENVIRON) == (None, "the connection presented no client certificate (SSL_CLIENT_CERT is empty)")


def test_read_certificate_environ_garbage_gives_no_identity(workload: WorkloadCertificate, ca: WorkloadCA) -> None:
    assert read({"SSL_CLIENT_CERT": workload.pem + ca.pem}, ENVIRON) == (
        None,
        "SSL_CLIENT_CERT is not exactly one valid PEM certificate",
    )


def test_read_certificate_environ_ignores_proxy_header(workload: WorkloadCertificate) -> None:
    certificate, reason = read(xfcc_meta(workload.xfcc()), ENVIRON)
    assert certificate is None and "SSL_CLIENT_CERT" in reason


def test_read_certificate_xfcc_from_trusted_proxy(workload: WorkloadCertificate) -> None:
    certificate, reason = read(xfcc_meta(workload.xfcc(by="spiffe://example.org/gw", subject=True)))
    assert reason == ""
    assert certificate is not None and certificate.spiffe_id == SPIFFE_ID
    assert certificate.thumbprint == workload.thumbprint


@pytest.mark.parametrize("peer", ["2001:db8::7", "::ffff:10.1.2.3"])
def test_read_certificate_xfcc_from_trusted_ipv6_peer(workload: WorkloadCertificate, peer: str) -> None:
    assert read(xfcc_meta(workload.xfcc(), peer=peer))[0] == certificate_from_pem(workload.pem)


@pytest.mark.parametrize(
    ("peer", "shown"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db9::1", "2001:db9::1"),
        (None, "an unrecognised peer"),
        ("evil\nINFO forged log line", "an unrecognised peer"),
        ("x" * 65, "an unrecognised peer"),
    ],
)
def test_read_certificate_xfcc_from_untrusted_peer_is_ignored_and_logged(
    workload: WorkloadCertificate, caplog: pytest.LogCaptureFixture, peer: Any, shown: str
) -> None:
    value = workload.xfcc()
    with caplog.at_level(logging.WARNING, logger="django_bearer_guard"):
        assert read(xfcc_meta(value, peer=peer)) == (
            None,
            f"the X-Forwarded-Client-Cert header came from {shown}, not a trusted proxy",
        )
    [record] = caplog.records
    assert record.levelno == logging.WARNING and record.name == "django_bearer_guard"
    assert shown in record.getMessage() and "X-Forwarded-Client-Cert" in record.getMessage()
    # The header value (and so the certificate) never reaches the log.
    assert "BEGIN" not in caplog.text and workload.sha256_hex not in caplog.text and "Cert=" not in caplog.text


def test_read_certificate_xfcc_absent_header_is_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="django_bearer_guard"):
        assert read({"REMOTE_ADDR": "203.0.113.9"}) == (None, "no X-Forwarded-Client-Cert header")
    assert caplog.records == []


def test_read_certificate_xfcc_non_text_header_counts_as_absent() -> None:
    assert read(xfcc_meta(b"Cert=x")) == (None, "no X-Forwarded-Client-Cert header")


def test_read_certificate_xfcc_last_element_wins_over_injected_one(
    workload: WorkloadCertificate, mallory: WorkloadCertificate
) -> None:
    # The client sends its own element; the proxy appends the real one after it.
    header = xfcc_header(mallory.xfcc(by="spiffe://example.org/gw"), workload.xfcc(by="spiffe://example.org/gw"))
    certificate, _ = read(xfcc_meta(header))
    assert certificate is not None and certificate.spiffe_id == SPIFFE_ID


def test_read_certificate_xfcc_injected_cert_does_not_fill_a_certless_last_element(
    mallory: WorkloadCertificate,
) -> None:
    header = xfcc_header(mallory.xfcc(), f"By=spiffe://example.org/gw;URI={OTHER_ID}")
    assert read(xfcc_meta(header)) == (None, "the last element of the X-Forwarded-Client-Cert header has no Cert")


@pytest.mark.parametrize(
    "value",
    [f"URI={SPIFFE_ID}", f'Subject="CN=billing";URI={SPIFFE_ID};DNS=billing.example.org', f"Hash={HEX}"],
)
def test_read_certificate_xfcc_without_cert_gives_no_identity(value: str) -> None:
    assert read(xfcc_meta(value)) == (None, "the last element of the X-Forwarded-Client-Cert header has no Cert")


@pytest.mark.parametrize(
    "cert", ['""', "garbage", '"-----BEGIN%20CERTIFICATE-----%0AAAAA%0A-----END%20CERTIFICATE-----"']
)
def test_read_certificate_xfcc_bad_cert_gives_no_identity(cert: str) -> None:
    assert read(xfcc_meta(f"Cert={cert}")) == (
        None,
        "the Cert of the X-Forwarded-Client-Cert header is not exactly one valid PEM certificate",
    )


def test_read_certificate_xfcc_hash_must_match_cert(
    workload: WorkloadCertificate, mallory: WorkloadCertificate
) -> None:
    value = workload.xfcc(hash=False) + f";Hash={mallory.sha256_hex}"
    assert read(xfcc_meta(value)) == (None, "the Hash of the X-Forwarded-Client-Cert header does not match its Cert")


def test_read_certificate_xfcc_hash_compares_case_insensitively(workload: WorkloadCertificate) -> None:
    value = workload.xfcc(hash=False) + f";Hash={workload.sha256_hex.upper()}"
    assert read(xfcc_meta(value))[0] == certificate_from_pem(workload.pem)


def test_read_certificate_xfcc_without_hash_uses_cert(workload: WorkloadCertificate) -> None:
    assert read(xfcc_meta(workload.xfcc(hash=False)))[0] == certificate_from_pem(workload.pem)


def test_read_certificate_xfcc_uri_must_name_the_spiffe_id(workload: WorkloadCertificate) -> None:
    value = workload.xfcc(uri=False) + f";URI={OTHER_ID}"
    assert read(xfcc_meta(value)) == (
        None,
        "the URI of the X-Forwarded-Client-Cert header does not name the certificate's SPIFFE ID",
    )


def test_read_certificate_xfcc_uri_among_several_is_enough(workload: WorkloadCertificate) -> None:
    value = workload.xfcc() + f";URI={OTHER_ID}"
    assert read(xfcc_meta(value))[0] == certificate_from_pem(workload.pem)


def test_read_certificate_xfcc_uri_unchecked_when_certificate_has_no_spiffe_id(ca: WorkloadCA) -> None:
    two = ca.issue(uris=[SPIFFE_ID, OTHER_ID])
    certificate, reason = read(xfcc_meta(two.xfcc(uri=False) + f";URI={OTHER_ID}"))
    assert reason == "" and certificate is not None and certificate.spiffe_id is None


def test_read_certificate_xfcc_malformed_header_reason_names_no_value(workload: WorkloadCertificate) -> None:
    value = workload.xfcc() + ';Subject="unterminated'
    certificate, reason = read(xfcc_meta(value))
    assert certificate is None
    assert reason.startswith("the X-Forwarded-Client-Cert header is malformed: the quoted value at character")
    assert "unterminated" not in reason and "BEGIN" not in reason


def test_read_certificate_xfcc_is_memoised_per_header(workload: WorkloadCertificate) -> None:
    value = workload.xfcc(by="spiffe://example.org/memo")
    first = read(xfcc_meta(value))
    hits = transport._memoised_xfcc_certificate.cache_info().hits
    assert read(xfcc_meta(value)) == first
    assert transport._memoised_xfcc_certificate.cache_info().hits == hits + 1


def test_read_certificate_xfcc_long_header_is_read_without_memo(
    workload: WorkloadCertificate, mallory: WorkloadCertificate
) -> None:
    padding = [mallory.xfcc()] * (17 * 1024 // len(mallory.xfcc()) + 1)
    value = xfcc_header(*padding, workload.xfcc())
    assert 16 * 1024 < len(value) <= MAX_XFCC_LENGTH
    misses = transport._memoised_xfcc_certificate.cache_info().misses
    assert read(xfcc_meta(value))[0] == certificate_from_pem(workload.pem)
    assert transport._memoised_xfcc_certificate.cache_info().misses == misses


def test_read_certificate_xfcc_custom_header_name(workload: WorkloadCertificate) -> None:
    identity = TransportIdentity("xfcc", header="X-Client-Identity", trusted_proxies=PROXIES)
    meta = {"REMOTE_ADDR": PROXY, "HTTP_X_CLIENT_IDENTITY": workload.xfcc()}
    assert read(meta, identity)[0] == certificate_from_pem(workload.pem)
    assert read(xfcc_meta(workload.xfcc()), identity) == (None, "no X-Client-Identity header")


def test_read_certificate_xfcc_without_trusted_proxies_trusts_no_one(
    workload: WorkloadCertificate, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="django_bearer_guard"):
        certificate, reason = read(xfcc_meta(workload.xfcc()), TransportIdentity("xfcc"))
    assert certificate is None and reason.endswith("not a trusted proxy")
    assert len(caplog.records) == 1


def test_read_certificate_pem_header_from_trusted_proxy(workload: WorkloadCertificate) -> None:
    meta = {"REMOTE_ADDR": PROXY, PEM_HEADER.meta_key: workload.escaped_pem()}
    assert PEM_HEADER.meta_key == "HTTP_X_SSL_CLIENT_CERT"
    assert read(meta, PEM_HEADER) == (certificate_from_pem(workload.pem), "")


@pytest.mark.parametrize("value", ["", " "])
def test_read_certificate_pem_header_empty_gives_no_identity(value: str) -> None:
    meta = {"REMOTE_ADDR": PROXY, PEM_HEADER.meta_key: value}
    assert read(meta, PEM_HEADER) == (
        None,
        "the X-SSL-Client-Cert header is empty: the client presented no certificate",
    )


def test_read_certificate_pem_header_garbage_gives_no_identity(workload: WorkloadCertificate) -> None:
    meta = {"REMOTE_ADDR": PROXY, PEM_HEADER.meta_key: workload.xfcc()}
    assert read(meta, PEM_HEADER) == (
        None,
        "the X-SSL-Client-Cert header is not exactly one valid URL-encoded PEM certificate",
    )


def test_read_certificate_pem_header_from_untrusted_peer_is_ignored_and_logged(
    workload: WorkloadCertificate, caplog: pytest.LogCaptureFixture
) -> None:
    meta = {"REMOTE_ADDR": "203.0.113.9", PEM_HEADER.meta_key: workload.escaped_pem()}
    with caplog.at_level(logging.WARNING, logger="django_bearer_guard"):
        assert read(meta, PEM_HEADER) == (
            None,
            "the X-SSL-Client-Cert header came from 203.0.113.9, not a trusted proxy",
        )
    assert "X-SSL-Client-Cert" in caplog.text and "203.0.113.9" in caplog.text
    assert "BEGIN" not in caplog.text and workload.escaped_pem()[:40] not in caplog.text


# --- read_certificate: validity period --------------------------------------------------------

NOW = datetime(2030, 6, 1, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def dated(ca: WorkloadCA) -> WorkloadCertificate:
    return ca.issue(SPIFFE_ID, not_before=NOW - timedelta(hours=1), not_after=NOW + timedelta(hours=1))


@pytest.mark.parametrize(
    ("offset", "reason"),
    [
        pytest.param(0, "", id="inside"),
        pytest.param(-3600 - 30, "", id="not-yet-valid-within-leeway"),
        pytest.param(3600 + 30, "", id="expired-within-leeway"),
        pytest.param(-3600 - 31, "the client certificate is not valid yet", id="not-yet-valid"),
        pytest.param(3600 + 31, "the client certificate has expired", id="expired"),
        pytest.param(math.nan, "the client certificate is not valid yet", id="nan-now"),
    ],
)
@pytest.mark.parametrize("source", ["environ", "xfcc", "pem_header"])
def test_read_certificate_checks_validity_period(
    dated: WorkloadCertificate, source: str, offset: float, reason: str
) -> None:
    meta = {
        "REMOTE_ADDR": PROXY,
        "SSL_CLIENT_CERT": dated.pem,
        XFCC.meta_key: dated.xfcc(),
        PEM_HEADER.meta_key: dated.escaped_pem(),
    }
    identity = {"environ": ENVIRON, "xfcc": XFCC, "pem_header": PEM_HEADER}[source]
    certificate, why = read(meta, identity, now=NOW.timestamp() + offset, leeway=30)
    assert why == reason
    assert (certificate is None) is bool(reason)


def test_read_certificate_zero_leeway_is_exact(dated: WorkloadCertificate) -> None:
    meta = {"SSL_CLIENT_CERT": dated.pem}
    end = NOW.timestamp() + 3600
    assert read(meta, ENVIRON, now=end, leeway=0)[1] == ""
    assert read(meta, ENVIRON, now=end + 1, leeway=0)[1] == "the client certificate has expired"


# --- testing.certificates ---------------------------------------------------------------------


def test_certificates_module_exports_its_helpers() -> None:
    assert set(certificates.__all__) == {"WorkloadCA", "WorkloadCertificate", "xfcc_header"}


def test_workload_ca_issues_certificates_it_signed(ca: WorkloadCA, workload: WorkloadCertificate) -> None:
    assert ca.name == "Test workload CA"
    constraints = ca.certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca is True
    workload.certificate.verify_directly_issued_by(ca.certificate)
    assert x509.load_pem_x509_certificate(ca.pem.encode()) == ca.certificate
    leaf = workload.certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert leaf.ca is False


def test_workload_ca_name_is_its_subject() -> None:
    ca = WorkloadCA("Acme dev CA")
    cert = ca.issue()
    assert ca.certificate.subject.rfc4514_string() == "CN=Acme dev CA"
    assert cert.certificate.issuer == ca.certificate.subject
    assert "O=Acme dev CA" in cert.certificate.subject.rfc4514_string()


def test_issue_defaults_to_one_uri_san_and_a_year(workload: WorkloadCertificate) -> None:
    assert workload.uris == (SPIFFE_ID,)
    assert workload.dns == ("billing.example.org",)
    lifetime = workload.certificate.not_valid_after_utc - workload.certificate.not_valid_before_utc
    assert lifetime == timedelta(days=366)
    assert workload.certificate.not_valid_before_utc < datetime.now(timezone.utc)


@pytest.mark.parametrize(
    ("spiffe_id", "uris", "expected"),
    [
        (None, None, ()),
        (SPIFFE_ID, [], ()),
        (SPIFFE_ID, [SPIFFE_ID, OTHER_ID], (SPIFFE_ID, OTHER_ID)),
        (None, ["https://example.org/x"], ("https://example.org/x",)),
    ],
)
def test_issue_uris_override_the_spiffe_id(
    ca: WorkloadCA, spiffe_id: str | None, uris: list[str] | None, expected: tuple[str, ...]
) -> None:
    assert ca.issue(spiffe_id, uris=uris).uris == expected


def test_issue_uses_given_validity(dated: WorkloadCertificate) -> None:
    assert dated.certificate.not_valid_before_utc == NOW - timedelta(hours=1)
    assert dated.certificate.not_valid_after_utc == NOW + timedelta(hours=1)


def test_workload_certificate_digests_and_encodings(workload: WorkloadCertificate) -> None:
    assert workload.der == workload.certificate.public_bytes(serialization.Encoding.DER)
    assert workload.sha256_hex == hashlib.sha256(workload.der).hexdigest()
    assert workload.pem.startswith("-----BEGIN CERTIFICATE-----\n")
    escaped = workload.escaped_pem()
    assert unquote(escaped) == workload.pem
    assert not set(escaped) & set("\n +/=")


def test_workload_certificate_xfcc_writes_envoy_element(workload: WorkloadCertificate) -> None:
    value = workload.xfcc(by='spiffe://example.org/"gw"', subject=True)
    assert value.startswith('By="spiffe://example.org/\\"gw\\"";Hash=' + workload.sha256_hex + ';Cert="')
    assert value.endswith(f';Subject="CN=test workload,O=Test workload CA";URI={SPIFFE_ID};DNS=billing.example.org')
    [parsed] = parse_xfcc(value)
    assert parsed.by == ('spiffe://example.org/"gw"',) and parsed.subject == "CN=test workload,O=Test workload CA"


def test_workload_certificate_xfcc_omits_what_is_not_asked(workload: WorkloadCertificate) -> None:
    value = workload.xfcc(hash=False, uri=False)
    assert value.startswith('Cert="') and value.endswith(";DNS=billing.example.org")
    [parsed] = parse_xfcc(value)
    assert parsed.hash is None and parsed.uri == () and parsed.by == () and parsed.subject is None


def test_workload_certificate_xfcc_without_uri_sans_writes_empty_uri(ca: WorkloadCA) -> None:
    value = ca.issue().xfcc()
    assert value.endswith(";URI=")
    assert parse_xfcc(value)[0].uri == ()


def test_workload_certificate_xfcc_quotes_uri_that_needs_it(ca: WorkloadCA) -> None:
    uris = ["https://example.org/x?a=b;c", "urn:x\\y", "spiffe://example.org/plain"]
    value = ca.issue(uris=uris).xfcc()
    assert ';URI="https://example.org/x?a=b;c";URI="urn:x\\\\y";URI=spiffe://example.org/plain' in value
    assert parse_xfcc(value)[0].uri == tuple(uris)


def test_xfcc_header_joins_elements_with_commas() -> None:
    assert xfcc_header("By=a", "By=b") == "By=a,By=b"
    assert xfcc_header() == ""
