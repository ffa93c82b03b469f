"""Binding through real DRF views: each mode accepts its caller and refuses a token replayed by another."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from django_bearer_guard.testing import Clock, LocalIssuer, use_clock
from django_bearer_guard.testing.certificates import WorkloadCA, WorkloadCertificate, xfcc_header
from django_bearer_guard.testing.dpop import DPoPKey
from tests.support.binding import SVC_A, SVC_B, URL, XFCC, refused, via_proxy
from tests.support.binding import call as request

pytestmark = pytest.mark.urls("tests.testapp.binding_urls")




@pytest.fixture
def bind(idp: LocalIssuer, guard: Callable[..., None]) -> Callable[..., None]:
    """Trust ``idp`` with ``binding`` (and ES256 for proofs) under ``TRANSPORT_IDENTITY``."""

    def apply(binding: str | None, transport: dict[str, Any] | None = None, **settings: Any) -> None:
        issuer = idp.issuer_settings(binding=binding, algorithms=["RS256", "ES256"])
        guard(issuers=[issuer], TRANSPORT_IDENTITY=transport or XFCC, **settings)

    return apply


# "workload": the token's workload is the caller's SPIFFE ID


def test_workload_binding_accepts_the_workload_the_trusted_proxy_names(
    idp: LocalIssuer, bind: Callable[..., None], svc_a: WorkloadCertificate
) -> None:
    bind("workload")
    response = request(idp.mint(sub=SVC_A), **via_proxy(svc_a))
    assert response.status_code == 200, response.content
    assert response.json() == {
        "workload": SVC_A, "methods": ["workload"], "spiffe_id": SVC_A, "thumbprint": svc_a.thumbprint, "jkt": None,
    }


def test_workload_binding_refuses_the_token_replayed_by_another_workload(
    idp: LocalIssuer, bind: Callable[..., None], svc_b: WorkloadCertificate
) -> None:
    bind("workload")
    assert refused(request(idp.mint(sub=SVC_A), **via_proxy(svc_b))) == "The access token is bound to another caller."


def test_workload_binding_ignores_the_header_from_an_untrusted_peer(
    idp: LocalIssuer, bind: Callable[..., None], svc_a: WorkloadCertificate, caplog: pytest.LogCaptureFixture
) -> None:
    bind("workload")
    with caplog.at_level(logging.WARNING, "django_bearer_guard"):
        response = request(idp.mint(sub=SVC_A), **via_proxy(svc_a, REMOTE_ADDR="203.0.113.9"))
    refused(response)
    assert "203.0.113.9" in caplog.text and svc_a.thumbprint not in caplog.text


@pytest.mark.parametrize("peer", ["::1", "::ffff:127.0.0.1"])
def test_workload_binding_believes_trusted_ipv6_and_mapped_peers(
    idp: LocalIssuer, bind: Callable[..., None], svc_a: WorkloadCertificate, peer: str
) -> None:
    bind("workload")
    assert request(idp.mint(sub=SVC_A), **via_proxy(svc_a, REMOTE_ADDR=peer)).status_code == 200


def test_workload_binding_refuses_a_request_without_a_certificate(idp: LocalIssuer, bind: Callable[..., None]) -> None:
    bind("workload")
    refused(request(idp.mint(sub=SVC_A)))


def test_workload_binding_refuses_a_certificate_without_a_spiffe_id(
    idp: LocalIssuer, bind: Callable[..., None], ca: WorkloadCA
) -> None:
    bind("workload")
    two = ca.issue(uris=[SVC_A, SVC_B])
    refused(request(idp.mint(sub=SVC_A), HTTP_X_FORWARDED_CLIENT_CERT=two.xfcc(uri=False)))


def test_workload_binding_refuses_an_element_injected_before_the_proxys(
    idp: LocalIssuer, bind: Callable[..., None], svc_a: WorkloadCertificate, svc_b: WorkloadCertificate
) -> None:
    bind("workload")
    # The client sent svc-a's element; the proxy appended the element of the real caller, svc-b.
    header = xfcc_header(svc_a.xfcc(), svc_b.xfcc())
    refused(request(idp.mint(sub=SVC_A), HTTP_X_FORWARDED_CLIENT_CERT=header))
    assert request(idp.mint(sub=SVC_B), HTTP_X_FORWARDED_CLIENT_CERT=header).status_code == 200


def test_allowed_workloads_sees_the_bound_workload(
    idp: LocalIssuer, bind: Callable[..., None], svc_a: WorkloadCertificate, svc_b: WorkloadCertificate
) -> None:
    bind("workload")
    assert request(idp.mint(sub=SVC_A), path="/only-svc-a/", **via_proxy(svc_a)).status_code == 200
    assert request(idp.mint(sub=SVC_B), path="/only-svc-a/", **via_proxy(svc_b)).status_code == 403


@pytest.mark.parametrize(
    ("transport", "meta"),
    [
        ({"source": "environ"}, lambda cert: {"SSL_CLIENT_CERT": cert.pem}),
        (
            {"source": "pem_header", "header": "X-SSL-Client-Cert", "trusted_proxies": ["127.0.0.1/32"]},
            lambda cert: {"HTTP_X_SSL_CLIENT_CERT": cert.escaped_pem()},
        ),
    ],
)
def test_workload_binding_reads_each_certificate_source(  # noqa: PLR0917 - fixtures and parameters
    idp: LocalIssuer,
    bind: Callable[..., None],
    svc_a: WorkloadCertificate,
    svc_b: WorkloadCertificate,
    transport: dict[str, Any],
    meta: Callable[[WorkloadCertificate], dict[str, str]],
) -> None:
    bind("workload", transport)
    assert request(idp.mint(sub=SVC_A), **meta(svc_a)).status_code == 200
    refused(request(idp.mint(sub=SVC_A), **meta(svc_b)))


# "cnf": RFC 8705 certificate-bound tokens


def test_cnf_binding_accepts_the_certificate_the_token_was_issued_to(
    idp: LocalIssuer, bind: Callable[..., None], svc_a: WorkloadCertificate
) -> None:
    bind("cnf")
    response = request(idp.mint(sub="client-1", cnf={"x5t#S256": svc_a.thumbprint}), **via_proxy(svc_a))
    assert response.status_code == 200, response.content
    assert response.json()["methods"] == ["x5t#S256"]


def test_cnf_binding_refuses_the_token_presented_with_another_certificate(
    idp: LocalIssuer, bind: Callable[..., None], svc_a: WorkloadCertificate, svc_b: WorkloadCertificate
) -> None:
    bind("cnf")
    refused(request(idp.mint(cnf={"x5t#S256": svc_a.thumbprint}), **via_proxy(svc_b)))


def test_cnf_binding_refuses_a_token_that_is_not_certificate_bound(
    idp: LocalIssuer, bind: Callable[..., None], svc_a: WorkloadCertificate
) -> None:
    bind("cnf")
    description = refused(request(idp.mint(), **via_proxy(svc_a)))
    assert description == "The access token must be bound to the client certificate."


def test_cnf_of_an_unbound_issuer_is_still_checked_when_a_source_is_configured(
    idp: LocalIssuer, bind: Callable[..., None], svc_a: WorkloadCertificate, svc_b: WorkloadCertificate
) -> None:
    bind(None)
    token = idp.mint(cnf={"x5t#S256": svc_a.thumbprint})
    assert request(token, **via_proxy(svc_a)).json()["methods"] == ["x5t#S256"]
    refused(request(token, **via_proxy(svc_b)))
    # A plain token of the same issuer is not asked for a certificate.
    assert request(idp.mint()).json()["methods"] is None


def test_cnf_without_a_transport_source_is_refused_not_downgraded(
    idp: LocalIssuer, guard: Callable[..., None], svc_a: WorkloadCertificate
) -> None:
    guard()
    refused(request(idp.mint(cnf={"x5t#S256": svc_a.thumbprint}), **via_proxy(svc_a)))


@pytest.mark.parametrize("cnf", [{"x5t#S256": ""}, {"x5t#S256": 5}, {"jkt": ["a"]}, {"x5t#S256": "a" * 129}, "x", {}])
def test_malformed_cnf_is_refused(idp: LocalIssuer, bind: Callable[..., None], cnf: Any) -> None:
    bind(None)
    assert refused(request(idp.mint(cnf=cnf))) == "The access token has an invalid claim."


def test_cnf_with_a_confirmation_method_that_is_not_verified_is_refused(
    idp: LocalIssuer, bind: Callable[..., None], svc_a: WorkloadCertificate
) -> None:
    bind(None)
    token = idp.mint(cnf={"x5t#S256": svc_a.thumbprint, "kid": "key-1"})
    refused(request(token, **via_proxy(svc_a)))


# "dpop": RFC 9449 proof of possession


@pytest.fixture(scope="module")
def dpop_key() -> DPoPKey:
    return DPoPKey("ES256")


def test_dpop_binding_accepts_a_fresh_proof_then_refuses_its_replay(
    idp: LocalIssuer, bind: Callable[..., None], dpop_key: DPoPKey
) -> None:
    bind("dpop")
    token = idp.mint(cnf={"jkt": dpop_key.jkt})
    proof = dpop_key.proof("GET", URL, access_token=token)
    response = request(token, scheme="DPoP", HTTP_DPOP=proof)
    assert response.status_code == 200, response.content
    assert response.json()["methods"] == ["jkt"] and response.json()["jkt"] == dpop_key.jkt
    replayed = request(token, scheme="DPoP", HTTP_DPOP=proof)
    refused(replayed, "invalid_dpop_proof")
    assert replayed["WWW-Authenticate"].startswith('DPoP realm="api", error="invalid_dpop_proof"')
    assert replayed["WWW-Authenticate"].endswith(', algs="ES256 RS256"')


def test_dpop_bound_token_sent_as_bearer_is_refused(
    idp: LocalIssuer, bind: Callable[..., None], dpop_key: DPoPKey
) -> None:
    bind(None)
    token = idp.mint(cnf={"jkt": dpop_key.jkt})
    response = request(token, HTTP_DPOP=dpop_key.proof("GET", URL, access_token=token))
    assert "DPoP scheme" in refused(response)
    assert response["WWW-Authenticate"].startswith('Bearer realm="api", error="invalid_token"')


def test_dpop_scheme_with_a_token_that_is_not_dpop_bound_is_refused(
    idp: LocalIssuer, bind: Callable[..., None], dpop_key: DPoPKey
) -> None:
    bind(None)
    token = idp.mint()
    response = request(token, scheme="DPoP", HTTP_DPOP=dpop_key.proof("GET", URL, access_token=token))
    assert refused(response) == "The access token is not DPoP-bound."
    assert response["WWW-Authenticate"].startswith("DPoP ")


def test_dpop_proof_of_another_key_is_refused(idp: LocalIssuer, bind: Callable[..., None], dpop_key: DPoPKey) -> None:
    bind("dpop")
    token = idp.mint(cnf={"jkt": dpop_key.jkt})
    thief = DPoPKey("ES256")
    refused(request(token, scheme="DPoP", HTTP_DPOP=thief.proof("GET", URL, access_token=token)), "invalid_dpop_proof")


def test_dpop_refusal_before_the_issuer_is_known_offers_every_asymmetric_algorithm(
    bind: Callable[..., None],
) -> None:
    bind("dpop")
    response = request("not-a-jwt", scheme="DPoP")
    refused(response)
    algs = response["WWW-Authenticate"].rpartition('algs="')[2].rstrip('"').split()
    assert "ES256" in algs and "EdDSA" in algs and not [alg for alg in algs if alg.startswith("HS")]


def test_dpop_nonce_is_required_handed_out_and_renewed(
    idp: LocalIssuer, bind: Callable[..., None], dpop_key: DPoPKey
) -> None:
    bind("dpop", DPOP_NONCE=True, DPOP_NONCE_LIFETIME=60)
    clock = Clock()
    with use_clock(clock):
        token = idp.mint(cnf={"jkt": dpop_key.jkt})
        first = request(token, scheme="DPoP", HTTP_DPOP=dpop_key.proof("GET", URL, access_token=token, iat=clock.now))
        refused(first, "use_dpop_nonce")
        nonce = first["DPoP-Nonce"]
        assert first["WWW-Authenticate"].startswith('DPoP realm="api", error="use_dpop_nonce"')
        proof = dpop_key.proof("GET", URL, access_token=token, nonce=nonce, iat=clock.now)
        accepted = request(token, scheme="DPoP", HTTP_DPOP=proof)
        assert accepted.status_code == 200 and not accepted.has_header("DPoP-Nonce")
        # One period later the nonce is stale but still good, and the response hands out the next one.
        clock.advance(60)
        proof = dpop_key.proof("GET", URL, access_token=token, nonce=nonce, iat=clock.now)
        renewed = request(token, scheme="DPoP", HTTP_DPOP=proof)
        assert renewed.status_code == 200 and renewed["DPoP-Nonce"] not in ("", nonce)


def test_token_bound_both_ways_needs_the_certificate_and_the_proof(
    idp: LocalIssuer, bind: Callable[..., None], dpop_key: DPoPKey, svc_a: WorkloadCertificate,
    svc_b: WorkloadCertificate,
) -> None:
    bind("dpop")
    token = idp.mint(cnf={"jkt": dpop_key.jkt, "x5t#S256": svc_a.thumbprint})
    proof = dpop_key.proof("GET", URL, access_token=token)
    response = request(token, scheme="DPoP", HTTP_DPOP=proof, **via_proxy(svc_a))
    assert response.json()["methods"] == ["jkt", "x5t#S256"]
    proof = dpop_key.proof("GET", URL, access_token=token)
    refused(request(token, scheme="DPoP", HTTP_DPOP=proof, **via_proxy(svc_b)))


# The workload a token names


@pytest.mark.parametrize(
    "workload", ["spiffe://Example.test/a", "SPIFFE://example.test/a", "spiffe://example.test/a/../b",
                 "spiffe://example.test/a%2Fb", "spiffe://example.test/a/"],
)
def test_malformed_spiffe_workload_is_refused(idp: LocalIssuer, guard: Callable[..., None], workload: str) -> None:
    guard()
    assert refused(request(idp.mint(sub=workload))) == "The access token has an invalid claim."
