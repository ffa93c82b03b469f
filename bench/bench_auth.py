"""Benchmark: BearerTokenAuthentication against raw PyJWT and simplejwt, interleaved, medians.

    python bench/bench_auth.py [--rounds 15] [--calls 300]

Prints µs per authenticate() for RS256, ES256 and EdDSA, the same token decoded by
``jwt.decode`` with a preloaded key and (RS256, ES256) authenticated by simplejwt's
stateless authentication, then requests/s through a DRF view with and without
authentication. Then the sender-constrained tokens, beside plain Bearer in the same rounds:
``binding: "workload"`` and ``"cnf"`` with an ``X-Forwarded-Client-Cert`` from a trusted
proxy (a certificate already seen, and a new certificate each call), and ``binding: "dpop"``
with a fresh ES256 or EdDSA proof per request (minted before the rounds), against one
signature verification of each kind. The machine is shared: read the ratios, not the
absolute numbers.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import django
from django.conf import settings

AUDIENCE = "https://api.bench"
BINDING_MODES = ("workload", "cnf", "dpop")
PROXY = "10.1.2.3"
WORKLOAD = "spiffe://bench.test/ns/bench/sa/client"
BOUND_PATH = "/bench/"
# More than the 256 entries of each certificate memo: cycling through them misses every time.
NEW_CERTIFICATES = 1024
BINDING_SETTINGS: dict[str, object] = {
    "TRANSPORT_IDENTITY": {"source": "xfcc", "trusted_proxies": ["10.0.0.0/8"]},
    # The proofs are minted before the rounds: an hour keeps the last one fresh on a slow machine.
    "DPOP_PROOF_MAX_AGE": 3600,
}


def configure(issuer_entries: list[dict[str, object]], simple_jwt: dict[str, object], cache_entries: int) -> None:
    settings.configure(
        SECRET_KEY="bench",
        DEBUG=False,
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "rest_framework",
                        "django_bearer_guard"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        MIDDLEWARE=[],
        REST_FRAMEWORK={"UNAUTHENTICATED_USER": None},
        # The DPoP replay store: room for every proof of the run, so no add() pays for a cull.
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                            "OPTIONS": {"MAX_ENTRIES": cache_entries}}},
        BEARER_GUARD={"ISSUERS": issuer_entries, **BINDING_SETTINGS},
        SIMPLE_JWT=simple_jwt,
    )
    django.setup()


def per_call_us(fn: Callable[[], object], calls: int) -> float:
    start = time.perf_counter_ns()
    for _ in range(calls):
        fn()
    return (time.perf_counter_ns() - start) / calls / 1000


def interleave(variants: dict[str, Callable[[], object]], rounds: int, calls: int) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for fn in variants.values():
        fn()  # warm up: keys parsed, caches filled
    for _ in range(rounds):
        for name, fn in variants.items():
            samples[name].append(per_call_us(fn, calls))
    return {name: statistics.median(values) for name, values in samples.items()}


def each(authenticate: Callable[[Any], object], requests: Iterable[object]) -> Callable[[], object]:
    """A call that authenticates the next of ``requests``, so that each timed call may get its own."""
    upcoming = iter(requests)
    return lambda: authenticate(next(upcoming))


def bound_issuers(idp: Any) -> list[dict[str, object]]:
    """The plain issuer's keys and algorithms under another ``iss`` per binding mode."""
    return [idp.issuer_settings(jwks=idp.jwks(), issuer=f"{idp.issuer}{mode}", binding=mode) for mode in BINDING_MODES]


def certificate_parses(call: Callable[[], object], calls: int) -> float:
    """Certificates parsed per call of ``call`` (misses of the library's certificate memo)."""
    from django_bearer_guard.identity import transport

    call()  # the first request of a case was already authenticated by its check
    before = transport._parse_pem.cache_info().misses
    for _ in range(calls):
        call()
    return (transport._parse_pem.cache_info().misses - before) / calls


def binding_cases(
    idp: Any, authenticate: Callable[[Any], Any], proofs: int
) -> tuple[dict[str, Callable[[], object]], dict[str, Callable[[], object]]]:
    """The bound requests beside plain Bearer (all RS256 tokens), and one signature verification of each kind.

    Each DPoP case has ``proofs`` requests to time, each with its own proof (a new ``jti``).
    """
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from django_bearer_guard.jose.compact import parse_compact, verify_signature
    from django_bearer_guard.jose.keyset import KeySet
    from django_bearer_guard.testing import DPoPKey, WorkloadCA, WorkloadCertificate, xfcc_header

    factory = APIRequestFactory()

    def request(scheme: str, token: str, **meta: Any) -> Request:
        return Request(factory.get(BOUND_PATH, HTTP_AUTHORIZATION=f"{scheme} {token}", REMOTE_ADDR=PROXY, **meta))

    def xfcc(certificate: WorkloadCertificate) -> dict[str, Any]:
        return {"HTTP_X_FORWARDED_CLIENT_CERT": xfcc_header(certificate.xfcc())}

    def checked(requests: list[Request], methods: set[str]) -> list[Request]:
        # A case is timed only once its first request passes with the binding it is named for.
        binding = authenticate(requests[0])[1].binding
        assert (binding.methods if binding else set()) == methods, (binding, methods)
        return requests

    ca = WorkloadCA()
    seen = ca.issue(WORKLOAD)
    plain_token = idp.mint(alg="RS256")
    workload_token = idp.mint(alg="RS256", iss=f"{idp.issuer}workload", sub=WORKLOAD)
    cnf_token = idp.mint(alg="RS256", iss=f"{idp.issuer}cnf", cnf={"x5t#S256": seen.thumbprint})
    cases = {
        "plain Bearer": checked([request("Bearer", plain_token)], set()),
        "workload, XFCC, seen certificate": checked([request("Bearer", workload_token, **xfcc(seen))], {"workload"}),
        "workload, XFCC, new certificate": checked(
            [request("Bearer", workload_token, **xfcc(ca.issue(WORKLOAD))) for _ in range(NEW_CERTIFICATES)],
            {"workload"},
        ),
        "cnf x5t#S256, XFCC": checked([request("Bearer", cnf_token, **xfcc(seen))], {"x5t#S256"}),
    }
    variants = {name: each(authenticate, itertools.cycle(requests)) for name, requests in cases.items()}

    token_jws = parse_compact(plain_token)
    token_key = KeySet.from_jwks(idp.jwks()).find(token_jws.kid, "RS256")
    assert token_key is not None
    references: dict[str, Callable[[], object]] = {
        "RS256 access token": functools.partial(verify_signature, token_jws, token_key)
    }
    for alg in ("ES256", "EdDSA"):
        key = DPoPKey(alg)
        token = idp.mint(alg="RS256", iss=f"{idp.issuer}dpop", cnf={"jkt": key.jkt})
        url = f"http://testserver{BOUND_PATH}"
        # Minted before the rounds, so minting is not timed; one more for the check.
        requests = [request("DPoP", token, HTTP_DPOP=key.proof("GET", url, access_token=token))
                    for _ in range(proofs + 1)]
        variants[f"DPoP, {alg} proof"] = each(authenticate, checked(requests, {"jkt"})[1:])
        proof = parse_compact(requests[0].META["HTTP_DPOP"], embedded_key=True)
        proof_key = KeySet.from_jwks(proof.header["jwk"], allow_symmetric=False).keys[0]
        references[f"{alg} DPoP proof"] = functools.partial(verify_signature, proof, proof_key)
    return variants, references


def proofs_per_case(rounds: int, calls: int) -> int:
    """The requests (each with its own proof) a DPoP case needs: one per timed call, and the warm-up."""
    return rounds * calls + 1


def measure_binding(
    idp: Any, authenticate: Callable[[Any], Any], rounds: int, calls: int
) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """Median µs of the binding cases and of the signature verifications, in the same rounds; parses per call."""
    variants, references = binding_cases(idp, authenticate, proofs_per_case(rounds, calls))
    parses = {name: certificate_parses(variants[f"workload, XFCC, {name} certificate"], 50) for name in ("seen", "new")}
    medians = interleave({**variants, **references}, rounds, calls)
    return {name: medians[name] for name in variants}, {name: medians[name] for name in references}, parses


def print_binding(row: dict[str, float], references: dict[str, float], parses: dict[str, float]) -> None:
    """The binding table: µs per call, µs added over plain Bearer, and what they are set against."""
    plain = row["plain Bearer"]
    print("\nsender-constrained tokens, RS256 access token, µs per authenticate()")
    for name, value in row.items():
        print(f"  {name:32s} {value:8.1f} µs   added = {value - plain:+7.1f} µs   this/plain = {value / plain:5.2f}x")
    print("one signature verification (verify_signature, key parsed)")
    for name, value in references.items():
        print(f"  {name:32s} {value:8.1f} µs")
    print("certificates parsed per authenticate(): "
          + ", ".join(f"{name} {count:.2f}" for name, count in parses.items()))
    seen = row["workload, XFCC, seen certificate"]
    print(f"XFCC on a memo hit adds {seen - plain:.1f} µs; a new certificate costs "
          f"{row['workload, XFCC, new certificate'] - seen:.1f} µs more (parse)")
    for alg in ("ES256", "EdDSA"):
        added = row[f"DPoP, {alg} proof"] - plain
        print(f"DPoP, {alg}: adds {added:.1f} µs = {added / references[f'{alg} DPoP proof']:.2f}x "
              f"one {alg} proof verification")


urlpatterns: list[object] = []


def main() -> None:  # noqa: PLR0915 - every comparison, measured first, then printed in order
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()

    from cryptography.hazmat.primitives import serialization

    from django_bearer_guard.testing import LocalIssuer

    idp = LocalIssuer(algorithms=("RS256", "ES256", "EdDSA"), audience=AUDIENCE)
    pem = {
        key.alg: (
            key.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()).decode(),
            key.private_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo).decode(),
        )
        for key in idp.keys
    }
    configure([idp.issuer_settings(jwks=idp.jwks()), *bound_issuers(idp)], {
        "ALGORITHM": "RS256", "SIGNING_KEY": pem["RS256"][0], "VERIFYING_KEY": pem["RS256"][1],
        "AUDIENCE": AUDIENCE, "ISSUER": idp.issuer, "USER_ID_CLAIM": "sub", "LEEWAY": 30,
    }, cache_entries=2 * proofs_per_case(args.rounds, args.calls) + 1000)

    import jwt
    from django.test import Client
    from django.urls import path
    from rest_framework.permissions import AllowAny, IsAuthenticated
    from rest_framework.request import Request
    from rest_framework.response import Response
    from rest_framework.test import APIRequestFactory
    from rest_framework.views import APIView
    from rest_framework_simplejwt.authentication import JWTStatelessUserAuthentication

    from django_bearer_guard.authentication import BearerTokenAuthentication

    factory = APIRequestFactory()
    ours = BearerTokenAuthentication()
    theirs = JWTStatelessUserAuthentication()
    public_keys = {alg: jwt.PyJWK(key.public_jwk()).key for alg in ("RS256", "ES256", "EdDSA")
                   for key in [idp.signing_key(alg)]}

    results: dict[str, dict[str, float]] = {}
    for alg in ("RS256", "ES256", "EdDSA"):
        token = idp.mint(alg=alg, scope="read write", token_type="access", user_id="test-user")
        request = Request(factory.get("/", HTTP_AUTHORIZATION=f"Bearer {token}"))
        variants: dict[str, Callable[[], object]] = {
            "bearer_guard authenticate()": lambda r=request: ours.authenticate(r),
            "jwt.decode (preloaded key)": lambda t=token, a=alg: jwt.decode(
                t, public_keys[a], algorithms=[a], audience=AUDIENCE, issuer=idp.issuer),
        }
        if alg in ("RS256", "ES256"):
            from rest_framework_simplejwt.backends import TokenBackend
            from rest_framework_simplejwt.tokens import Token

            Token._token_backend = TokenBackend(alg, pem[alg][0], pem[alg][1], AUDIENCE, idp.issuer, None, 30)
            assert theirs.authenticate(request) is not None
            variants["simplejwt stateless"] = lambda r=request: theirs.authenticate(r)
        assert ours.authenticate(request) is not None
        results[alg] = interleave(variants, args.rounds, args.calls)

    class Protected(APIView):
        authentication_classes = [BearerTokenAuthentication]
        permission_classes = [IsAuthenticated]

        def get(self, request: Request) -> Response:
            return Response({"ok": True})

    class Open(APIView):
        authentication_classes: list[type] = []
        permission_classes = [AllowAny]

        def get(self, request: Request) -> Response:
            return Response({"ok": True})

    urlpatterns[:] = [path("protected/", Protected.as_view()), path("open/", Open.as_view())]
    client = Client()
    token = idp.mint(alg="RS256")
    assert client.get("/protected/", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    view_us = interleave({
        "DRF view, no authentication": lambda: client.get("/open/"),
        "DRF view, RS256 bearer_guard": lambda: client.get("/protected/", HTTP_AUTHORIZATION=f"Bearer {token}"),
    }, args.rounds, max(50, args.calls // 5))
    binding = measure_binding(idp, ours.authenticate, args.rounds, args.calls)

    print(f"medians of {args.rounds} interleaved rounds of {args.calls} calls, µs per call\n")
    for alg, row in results.items():
        ours_us = row["bearer_guard authenticate()"]
        print(f"{alg}")
        for name, value in row.items():
            print(f"  {name:32s} {value:8.1f} µs   ours/this = {ours_us / value:5.2f}x")
    print("\nthrough Django's test client (requests/s)")
    base = view_us["DRF view, no authentication"]
    for name, value in view_us.items():
        print(f"  {name:32s} {1e6 / value:8.0f} req/s   relative = {base / value:5.2f}x")
    print_binding(*binding)
    print("\ntargets: RS256 authenticate() <= 0.6x jwt.decode; >= 1.5x faster than simplejwt;\n"
          "         XFCC on a memo hit adds <= 50 µs; DPoP adds <= 2.5x one proof verification")


if __name__ == "__main__":
    main()
