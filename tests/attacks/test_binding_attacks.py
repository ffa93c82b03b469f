"""Workload and certificate binding: a leaked token replayed by a caller it is not bound to.

The attacker holds a token of ``svc-a`` (from a log, a trace, a neighbour's memory) and its own
workload certificate, a certificate header it can write itself, or a position between client and
proxy. Every attack goes through a real DRF view (``tests/testapp/binding_urls.py``) with the
Django test client, whose ``REMOTE_ADDR`` is 127.0.0.1: a trusted proxy unless a test says
otherwise. One test per rule, named after the attack it stops; each must answer 401.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from django_bearer_guard.testing import LocalIssuer
from django_bearer_guard.testing.certificates import WorkloadCA, WorkloadCertificate, xfcc_header
from django_bearer_guard.testing.dpop import DPoPKey
from tests.support.binding import ENVOY, SVC_A, SVC_B, XFCC, call, certificate_named, refused, send, via_proxy
from tests.support.live import Address

pytestmark = pytest.mark.urls("tests.testapp.binding_urls")

ANOTHER_CALLER = "The access token is bound to another caller."
UNVERIFIABLE = "The access token is bound to a key or certificate this resource cannot verify."



@pytest.fixture
def bind(idp: LocalIssuer, guard: Callable[..., None]) -> Callable[..., None]:
    """Trust ``idp`` with ``binding`` under ``TRANSPORT_IDENTITY`` (the trusted Envoy by default)."""

    def apply(binding: str | None, transport: dict[str, Any] | None = None) -> None:
        guard(issuers=[idp.issuer_settings(binding=binding)], TRANSPORT_IDENTITY=transport or XFCC)

    return apply


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_sanity_the_workload_the_token_names_is_accepted(
    idp: LocalIssuer, bind: Callable[..., None], svc_a: WorkloadCertificate
) -> None:
    bind("workload")
    assert call(idp.mint(sub=SVC_A), **via_proxy(svc_a)).json()["methods"] == ["workload"]


# -- a leaked workload-bound token replayed from another workload -------------------------------


@pytest.mark.parametrize(
    "uri",
    [
        # Another trust domain; the victim's own path under another trust domain, or one that imitates it.
        "spiffe://other.test/ns/default/sa/svc-b",
        "spiffe://attacker.test/ns/default/sa/svc-a",
        "spiffe://example.test.attacker.test/ns/default/sa/svc-a",
        "spiffe://example.tes/ns/default/sa/svc-a",
        "spiffe://xample.test/ns/default/sa/svc-a",
        # Beside, below and above the victim's path.
        "spiffe://example.test/ns/default/sa/svc-a2",
        "spiffe://example.test/ns/default/sa/svc-a/extra",
        "spiffe://example.test/ns/default/sa",
        "spiffe://example.test",
        # Look-alike spellings: not valid SPIFFE IDs, so the certificate names no workload at all.
        "spiffe://example.test/ns/default/sa/svc-a/",
        "spiffe://example.test/ns/default/sa/SVC-A",
        "spiffe://EXAMPLE.test/ns/default/sa/svc-a",
        "SPIFFE://example.test/ns/default/sa/svc-a",
        "spiffe://example.test/ns/default/sa/svc%2Da",
        "spiffe://example.test/ns/default/sa%2Fsvc-a",
        "spiffe://example.test/ns/default/sa/svc-a%00",
        "spiffe://example.test/ns/default/sa/./svc-a",
        "spiffe://example.test/ns/default/sa/x/../svc-a",
        "spiffe://example.test//ns/default/sa/svc-a",
        "spiffe://example.test/ns/default/sa/svc-a?x=1",
        "spiffe://example.test/ns/default/sa/svc-a#x",
        "spiffe://example.test:443/ns/default/sa/svc-a",
        "spiffe://svc-a@example.test/ns/default/sa/svc-a",
        "spiffe:example.test/ns/default/sa/svc-a",
        "https://example.test/ns/default/sa/svc-a",
    ],
)
def test_leaked_workload_token_replayed_with_a_look_alike_certificate_is_refused(
    idp: LocalIssuer, bind: Callable[..., None], ca: WorkloadCA, uri: str
) -> None:
    bind("workload")
    # The attacker's own certificate, verified by the proxy and reported truthfully.
    theirs = ca.issue(uris=[uri])
    assert refused(call(idp.mint(sub=SVC_A), **via_proxy(theirs))) == ANOTHER_CALLER


def test_leaked_workload_token_replayed_by_a_certificate_naming_the_id_as_a_dns_san_is_refused(
    idp: LocalIssuer, bind: Callable[..., None], ca: WorkloadCA
) -> None:
    bind("workload")
    # Only a URI SAN is a SPIFFE ID; Envoy copies the DNS SAN into DNS=, which counts for nothing.
    theirs = ca.issue(uris=[], dns=[SVC_A])
    assert f"DNS={SVC_A}" in theirs.xfcc()
    assert refused(call(idp.mint(sub=SVC_A), **via_proxy(theirs))) == ANOTHER_CALLER


def test_leaked_workload_token_replayed_by_a_certificate_naming_the_id_as_its_subject_is_refused(
    idp: LocalIssuer, bind: Callable[..., None], ca: WorkloadCA
) -> None:
    bind("workload")
    theirs = certificate_named(ca, SVC_A, dns=["svc-a.example.test"])
    header = theirs.xfcc(by=ENVOY, subject=True)
    assert refused(call(idp.mint(sub=SVC_A), HTTP_X_FORWARDED_CLIENT_CERT=header)) == ANOTHER_CALLER


@pytest.mark.parametrize(
    "uris",
    [
        [SVC_B, SVC_A],
        [SVC_A, SVC_A],
        [SVC_A, "https://svc-a.example.test/"],
        [SVC_A, "spiffe://attacker.test/ns/default/sa/svc-a"],
    ],
)
def test_leaked_workload_token_replayed_by_a_certificate_with_two_uri_sans_is_refused(
    idp: LocalIssuer, bind: Callable[..., None], ca: WorkloadCA, uris: list[str]
) -> None:
    bind("workload")
    # SPIFFE X.509-SVID §2: one URI SAN. The proxy's URI= entries name the matching one, to no avail.
    theirs = ca.issue(uris=uris)
    assert f"URI={SVC_A}" in theirs.xfcc()
    assert refused(call(idp.mint(sub=SVC_A), **via_proxy(theirs))) == ANOTHER_CALLER


@pytest.mark.parametrize("sub", [None, "svc-a", "default/svc-a", "spiffe-example.test/ns/default/sa/svc-a"])
def test_token_naming_no_spiffe_workload_cannot_borrow_the_callers_certificate(
    idp: LocalIssuer, bind: Callable[..., None], svc_a: WorkloadCertificate, sub: str | None
) -> None:
    bind("workload")
    assert refused(call(idp.mint(sub=sub), **via_proxy(svc_a))) == ANOTHER_CALLER


def test_environ_source_ignores_the_victims_certificate_sent_as_a_header(
    idp: LocalIssuer, bind: Callable[..., None], svc_a: WorkloadCertificate
) -> None:
    # The victim's certificate is public (it was sent in every handshake): holding it proves nothing
    # unless the proxy that verified the handshake reports it.
    bind("workload", {"source": "environ"})
    meta = {"HTTP_SSL_CLIENT_CERT": svc_a.pem, "HTTP_X_FORWARDED_CLIENT_CERT": svc_a.xfcc()}
    refused(call(idp.mint(sub=SVC_A), **meta))


# -- a client that writes its own X-Forwarded-Client-Cert ---------------------------------------


def _hash_of_another(svc_a: WorkloadCertificate, svc_b: WorkloadCertificate) -> str:
    # svc-b's certificate (the attacker's), with the Hash and URI of svc-a.
    return f"Hash={svc_a.sha256_hex};Cert=\"{svc_b.escaped_pem()}\";URI={SVC_A}"


def _uri_of_another(svc_a: WorkloadCertificate, svc_b: WorkloadCertificate) -> str:
    return f"Cert=\"{svc_b.escaped_pem()}\";URI={SVC_A}"


def _two_certs(svc_a: WorkloadCertificate, svc_b: WorkloadCertificate) -> str:
    return f"Cert=\"{svc_b.escaped_pem()}\";cert=\"{svc_a.escaped_pem()}\""


FORGED_ELEMENTS: dict[str, Callable[[WorkloadCertificate, WorkloadCertificate], str]] = {
    # The proxy's words without the certificate: URI, DNS, Subject and By count for nothing.
    "uri-only": lambda a, b: f"URI={SVC_A}",
    "by-uri-dns": lambda a, b: f"By={ENVOY};URI={SVC_A};DNS=svc-a.example.test",
    "subject-uri": lambda a, b: f'Subject="CN=svc-a,O=example";URI={SVC_A}',
    "hash-uri": lambda a, b: f"Hash={a.sha256_hex};URI={SVC_A}",
    # A certificate the attacker holds, dressed as svc-a's.
    "hash-of-another": _hash_of_another,
    "uri-of-another": _uri_of_another,
    "two-certs": _two_certs,
    # svc-a's certificate slipped in as the Chain: only the Cert is read.
    "chain": lambda a, b: f"Cert=\"{b.escaped_pem()}\";Chain=\"{a.escaped_pem()}\";URI={SVC_A}",
}


@pytest.mark.parametrize("forged", FORGED_ELEMENTS.values(), ids=FORGED_ELEMENTS.keys())
def test_forged_xfcc_element_does_not_name_the_victim(
    idp: LocalIssuer,
    bind: Callable[..., None],
    svc_a: WorkloadCertificate,
    svc_b: WorkloadCertificate,
    forged: Callable[[WorkloadCertificate, WorkloadCertificate], str],
) -> None:
    bind("workload")
    # As the last element: what a proxy that forwards the client's header unchanged would pass on.
    refused(call(idp.mint(sub=SVC_A), HTTP_X_FORWARDED_CLIENT_CERT=forged(svc_a, svc_b)))


@pytest.mark.parametrize("forged", ["hash-of-another", "uri-of-another", "two-certs"])
def test_forged_xfcc_element_does_not_even_name_the_certificate_it_carries(
    idp: LocalIssuer, bind: Callable[..., None], svc_a: WorkloadCertificate, svc_b: WorkloadCertificate, forged: str
) -> None:
    bind("workload")
    # An element whose Hash, URI or second Cert disagrees with its Cert is void as a whole.
    header = FORGED_ELEMENTS[forged](svc_a, svc_b)
    refused(call(idp.mint(sub=SVC_B), HTTP_X_FORWARDED_CLIENT_CERT=header))


@pytest.mark.parametrize(
    "prefix",
    [
        # An open quote, a dangling ';' or ',', a trailing backslash: each tries to make the
        # proxy's appended element part of the client's.
        '{a};URI="',
        '{a};URI="\\',
        "{a};",
        "{a},",
        "{a};By=",
        "{a}\\",
    ],
)
def test_client_xfcc_cannot_swallow_the_element_the_proxy_appends(
    idp: LocalIssuer, bind: Callable[..., None], svc_a: WorkloadCertificate, svc_b: WorkloadCertificate, prefix: str
) -> None:
    bind("workload")
    # Envoy's APPEND_FORWARD: the client's value, a comma, the element of the real caller (svc-b).
    header = xfcc_header(prefix.format(a=svc_a.xfcc()), svc_b.xfcc(by=ENVOY))
    refused(call(idp.mint(sub=SVC_A), HTTP_X_FORWARDED_CLIENT_CERT=header))


def test_second_xfcc_header_sent_by_the_client_cannot_name_the_victim(
    idp: LocalIssuer, bind: Callable[..., None], svc_a: WorkloadCertificate, svc_b: WorkloadCertificate
) -> None:
    bind("workload")
    # A WSGI server joins repeated header lines with ','; the client's line came before the proxy's.
    header = xfcc_header(svc_a.xfcc(), svc_b.xfcc(by=ENVOY))
    refused(call(idp.mint(sub=SVC_A), HTTP_X_FORWARDED_CLIENT_CERT=header))


def test_client_xfcc_line_after_the_proxys_is_believed_so_the_proxy_must_strip_it(
    idp: LocalIssuer, bind: Callable[..., None], svc_a: WorkloadCertificate, svc_b: WorkloadCertificate
) -> None:
    """The limit of a proxy source: the library believes the last element of what the proxy passes on.

    A proxy that adds its own header line and forwards the client's after it lets the client
    choose the last element, and with it the identity. The proxy must remove or overwrite the
    client's header (docs/workload-identity.rst, "The proxy strips what clients send").
    """
    bind("workload")
    header = xfcc_header(svc_b.xfcc(by=ENVOY), svc_a.xfcc())
    assert call(idp.mint(sub=SVC_A), HTTP_X_FORWARDED_CLIENT_CERT=header).status_code == 200


def test_second_xfcc_header_line_through_a_real_server_cannot_name_the_victim(
    idp: LocalIssuer, bind: Callable[..., None], svc_a: WorkloadCertificate, svc_b: WorkloadCertificate,
    runserver: Address,
) -> None:
    bind("workload")
    token = idp.mint(sub=SVC_A)
    # The client's header line, then the proxy's; and the underscore spelling some servers map to the same name.
    lines = [("X-Forwarded-Client-Cert", svc_a.xfcc()), ("X-Forwarded-Client-Cert", svc_b.xfcc(by=ENVOY)),
             ("X_Forwarded_Client_Cert", svc_a.xfcc())]
    host = f"{runserver[0]}:{runserver[1]}"
    answer = send(runserver, "/bound/", [("Authorization", f"Bearer {token}"), *lines], host=host)
    assert (answer.status, answer.body["error"]) == (401, "invalid_token")


def test_client_padding_cannot_push_the_proxys_element_out_of_the_header(
    idp: LocalIssuer, bind: Callable[..., None], svc_a: WorkloadCertificate, svc_b: WorkloadCertificate
) -> None:
    bind("workload")
    injected = xfcc_header(*[svc_a.xfcc()] * 40)
    header = xfcc_header(injected, svc_b.xfcc(by=ENVOY))
    assert 16 * 1024 < len(header) < 64 * 1024
    refused(call(idp.mint(sub=SVC_A), HTTP_X_FORWARDED_CLIENT_CERT=header))
    assert call(idp.mint(sub=SVC_B), HTTP_X_FORWARDED_CLIENT_CERT=header).status_code == 200


@pytest.mark.parametrize("size", [64 * 1024 + 1, 1024 * 1024, 8 * 1024 * 1024])
def test_huge_xfcc_header_is_refused_quickly(
    idp: LocalIssuer, bind: Callable[..., None], svc_a: WorkloadCertificate, size: int
) -> None:
    bind("workload")
    # Client padding past the limit fails closed: the proxy's element at its end is not read.
    element = svc_a.xfcc(by=ENVOY)
    header = "By=x," * ((size - len(element)) // 5 + 1) + element
    started = time.perf_counter()
    refused(call(idp.mint(sub=SVC_A), HTTP_X_FORWARDED_CLIENT_CERT=header))
    assert time.perf_counter() - started < 1.0


GARBAGE = [
    "",
    " ",
    ",",
    ";",
    "=",
    "Cert",
    "Cert=",
    'Cert=""',
    'Cert="',
    "Cert=%ZZ",
    "Cert=-----BEGIN",
    "Cert=\x00",
    "Cert=\u202e",
    "Cert=\u00e9\u65e5",
    'Cert="\\q"',
    "Hash=abc;Cert=x",
    "Unknown=1",
    "By=" + "\\" * 5000,
    '"' * 10000,
    "Cert=" + "%" * 20000,
    "\r\nX-Evil: 1",
]


@pytest.mark.parametrize("peer", ["127.0.0.1", "203.0.113.9"], ids=["trusted", "untrusted"])
@pytest.mark.parametrize("value", GARBAGE)
def test_garbage_xfcc_header_is_a_401_never_a_500(
    idp: LocalIssuer, bind: Callable[..., None], value: str, peer: str
) -> None:
    bind("workload")
    refused(call(idp.mint(sub=SVC_A), HTTP_X_FORWARDED_CLIENT_CERT=value, REMOTE_ADDR=peer))


@pytest.mark.parametrize(
    "pem",
    [
        # The victim's PEM with literal newlines: control characters are outside Envoy's grammar.
        lambda a, b: f'Cert="{a.pem}"',
        # Two certificates in one Cert, the victim's first.
        lambda a, b: f'Cert="{a.escaped_pem()}{b.escaped_pem()}"',
        # Text around the victim's certificate.
        lambda a, b: f'Cert="svc-a{a.escaped_pem()}"',
        # The victim's certificate without its PEM armour (DER, base64).
        lambda a, b: f"Cert={base64.b64encode(a.der).decode()}",
    ],
    ids=["raw-pem", "two-pems", "text-around", "bare-base64"],
)
def test_malformed_cert_in_the_xfcc_element_names_no_one(
    idp: LocalIssuer,
    bind: Callable[..., None],
    svc_a: WorkloadCertificate,
    svc_b: WorkloadCertificate,
    pem: Callable[[WorkloadCertificate, WorkloadCertificate], str],
) -> None:
    bind("workload")
    refused(call(idp.mint(sub=SVC_A), HTTP_X_FORWARDED_CLIENT_CERT=pem(svc_a, svc_b)))


# -- peers outside the trusted networks ---------------------------------------------------------


@pytest.mark.parametrize(
    "peer",
    [
        "203.0.113.9",
        "::2",
        "2001:db8::1",
        # IPv4-mapped, -compatible, NAT64 and 6to4 forms of addresses: only ::ffff:127.x is 127.x.
        "::ffff:203.0.113.9",
        "::ffff:10.0.0.1",
        "::127.0.0.1",
        "64:ff9b::7f00:1",
        "2002:7f00:1::",
        "fe80::1%eth0",
        # Not an address: never trusted, however close to one.
        "127.1",
        "0177.0.0.1",
        "0x7f.0.0.1",
        "2130706433",
        " 127.0.0.1",
        "127.0.0.1 ",
        "127.0.0.1%lo",
        "[::1]",
        "127.0.0.1, 10.0.0.1",
        "localhost",
        "",
    ],
)
def test_xfcc_from_a_peer_outside_the_trusted_networks_is_ignored(
    idp: LocalIssuer, bind: Callable[..., None], svc_a: WorkloadCertificate, peer: str
) -> None:
    bind("workload")
    refused(call(idp.mint(sub=SVC_A), **via_proxy(svc_a, REMOTE_ADDR=peer)))


FORWARDED_FOR = {
    "HTTP_X_FORWARDED_FOR": "127.0.0.1",
    "HTTP_X_REAL_IP": "127.0.0.1",
    "HTTP_FORWARDED": "for=127.0.0.1;proto=https",
    "HTTP_CLIENT_IP": "127.0.0.1",
    "HTTP_TRUE_CLIENT_IP": "127.0.0.1",
    "HTTP_X_CLUSTER_CLIENT_IP": "127.0.0.1",
}


def test_x_forwarded_for_cannot_make_an_untrusted_peer_a_trusted_proxy(
    idp: LocalIssuer, bind: Callable[..., None], svc_a: WorkloadCertificate
) -> None:
    bind("workload")
    # Only REMOTE_ADDR, the socket's peer, decides; headers that name another address are the client's words.
    refused(call(idp.mint(sub=SVC_A), **via_proxy(svc_a, REMOTE_ADDR="203.0.113.9", **FORWARDED_FOR)))


def test_x_forwarded_for_naming_an_outsider_does_not_distrust_the_proxy(
    idp: LocalIssuer, bind: Callable[..., None], svc_a: WorkloadCertificate
) -> None:
    bind("workload")
    outsider = dict.fromkeys(FORWARDED_FOR, "203.0.113.9")
    assert call(idp.mint(sub=SVC_A), **via_proxy(svc_a, **outsider)).status_code == 200


@pytest.mark.parametrize("header", ["HTTP_X_SSL_CLIENT_CERT", "HTTP_SSL_CLIENT_CERT"])
def test_pem_header_from_an_untrusted_peer_is_ignored(
    idp: LocalIssuer, bind: Callable[..., None], svc_a: WorkloadCertificate, header: str
) -> None:
    bind("workload", {"source": "pem_header", "header": "X-SSL-Client-Cert", "trusted_proxies": ["10.0.0.0/8"]})
    refused(call(idp.mint(sub=SVC_A), **{header: svc_a.escaped_pem(), **FORWARDED_FOR}))


# -- RFC 8705: certificate-bound tokens ---------------------------------------------------------


def test_cnf_token_replayed_by_a_replica_with_the_same_spiffe_id_is_refused(
    idp: LocalIssuer, bind: Callable[..., None], ca: WorkloadCA, svc_a: WorkloadCertificate
) -> None:
    bind("cnf")
    # Another replica of svc-a, or a certificate obtained under its name: same SPIFFE ID, other key.
    replica = ca.issue(SVC_A)
    token = idp.mint(sub=SVC_A, cnf={"x5t#S256": svc_a.thumbprint})
    assert call(token, **via_proxy(svc_a)).status_code == 200
    assert refused(call(token, **via_proxy(replica))) == ANOTHER_CALLER


def _thumbprint_forms(cert: WorkloadCertificate) -> dict[str, str]:
    digest = hashlib.sha256(cert.der).digest()
    spki = cert.certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {
        "hex": digest.hex(),
        "upper-hex": digest.hex().upper(),
        "padded": cert.thumbprint + "=",
        "standard-base64": base64.b64encode(digest).decode(),
        "upper-case": cert.thumbprint.upper(),
        "spaces": f" {cert.thumbprint} ",
        # The SHA-1 x5t of RFC 7515, not x5t#S256.
        "sha1": b64url(hashlib.sha1(cert.der).digest()),
        "spki": b64url(hashlib.sha256(spki).digest()),
        "pem-text": b64url(hashlib.sha256(cert.pem.encode()).digest()),
        "truncated": cert.thumbprint[:-1],
    }


@pytest.mark.parametrize(
    "form", ["hex", "upper-hex", "padded", "standard-base64", "upper-case", "spaces", "sha1", "spki", "pem-text",
             "truncated"],
)
def test_cnf_thumbprint_in_another_form_does_not_match_the_right_certificate(
    idp: LocalIssuer, bind: Callable[..., None], svc_a: WorkloadCertificate, form: str
) -> None:
    bind("cnf")
    # Only the exact RFC 8705 form binds: any other spelling is another value, never normalised.
    token = idp.mint(cnf={"x5t#S256": _thumbprint_forms(svc_a)[form]})
    assert refused(call(token, **via_proxy(svc_a))) == ANOTHER_CALLER


@pytest.mark.parametrize("member", ["jwk", "jwe", "jku", "kid", "x5t", "X5T#S256", "x5t#s256", "osc", ""])
def test_cnf_with_an_extra_unknown_member_is_refused(
    idp: LocalIssuer, bind: Callable[..., None], svc_a: WorkloadCertificate, member: str
) -> None:
    bind("cnf")
    # RFC 7800 §3: a confirmation method that is not checked here must not be ignored.
    token = idp.mint(cnf={"x5t#S256": svc_a.thumbprint, member: svc_a.thumbprint})
    assert refused(call(token, **via_proxy(svc_a))) == UNVERIFIABLE


@pytest.mark.parametrize("binding", [None, "cnf", "workload"])
def test_cnf_jwk_token_is_refused_whatever_the_issuers_binding(
    idp: LocalIssuer, bind: Callable[..., None], svc_a: WorkloadCertificate, binding: str | None
) -> None:
    bind(binding)
    # A token bound to a raw key (RFC 7800 cnf.jwk) would otherwise pass as a bare Bearer token.
    jwk = DPoPKey().public_jwk
    refused(call(idp.mint(sub=SVC_A, cnf={"jwk": jwk}), **via_proxy(svc_a)))
    refused(call(idp.mint(sub=SVC_A, cnf={"jwk": jwk}), scheme="DPoP", **via_proxy(svc_a)))


@pytest.mark.parametrize("cnf", [{"x5t#S256": None}, {"jkt": None}, {"x5t#S256": None, "jkt": None}])
def test_cnf_naming_a_method_with_a_null_value_is_not_a_bare_bearer_token(
    idp: LocalIssuer, bind: Callable[..., None], cnf: dict[str, Any]
) -> None:
    bind(None)
    # The same as the refused cnf {} and {"x5t#S256": ""}: a cnf that confirms nothing.
    assert refused(call(idp.mint(cnf=cnf))) == "The access token has an invalid claim."


def test_cnf_token_is_not_downgraded_when_transport_identity_has_no_source(
    idp: LocalIssuer, guard: Callable[..., None], svc_a: WorkloadCertificate
) -> None:
    # TRANSPORT_IDENTITY source None: neither the environ nor any header is read.
    guard()
    token = idp.mint(cnf={"x5t#S256": svc_a.thumbprint})
    meta = {"SSL_CLIENT_CERT": svc_a.pem, "HTTP_X_SSL_CLIENT_CERT": svc_a.escaped_pem(), **via_proxy(svc_a)}
    assert refused(call(token, **meta)) == UNVERIFIABLE


@pytest.mark.parametrize("binding", ["workload", "cnf"])
def test_certificate_binding_without_a_source_refuses_even_the_right_caller(
    idp: LocalIssuer, guard: Callable[..., None], svc_a: WorkloadCertificate, binding: str
) -> None:
    # bearer_guard.E014: the issuer fails closed instead of accepting its tokens unbound.
    guard(issuers=[idp.issuer_settings(binding=binding)])
    token = idp.mint(sub=SVC_A, cnf={"x5t#S256": svc_a.thumbprint})
    refused(call(token, SSL_CLIENT_CERT=svc_a.pem, **via_proxy(svc_a)))


def test_cnf_token_cannot_use_a_certificate_header_when_the_source_is_the_environ(
    idp: LocalIssuer, bind: Callable[..., None], svc_a: WorkloadCertificate
) -> None:
    bind("cnf", {"source": "environ"})
    token = idp.mint(cnf={"x5t#S256": svc_a.thumbprint})
    # A client cannot set SSL_CLIENT_CERT: its header of that name arrives as HTTP_SSL_CLIENT_CERT.
    refused(call(token, HTTP_SSL_CLIENT_CERT=svc_a.pem, **via_proxy(svc_a)))
    assert call(token, SSL_CLIENT_CERT=svc_a.pem).status_code == 200


def test_cnf_token_with_the_right_certificate_is_still_refused_when_it_expired(
    idp: LocalIssuer, bind: Callable[..., None], ca: WorkloadCA
) -> None:
    bind("cnf")
    # The certificate of a decommissioned workload (and its leaked key) must not revive its tokens.
    now = datetime.now(timezone.utc)
    old = ca.issue(SVC_A, not_before=now - timedelta(days=30), not_after=now - timedelta(days=1))
    assert refused(call(idp.mint(cnf={"x5t#S256": old.thumbprint}), **via_proxy(old))) == ANOTHER_CALLER
