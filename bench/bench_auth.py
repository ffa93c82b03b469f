"""Benchmark: BearerTokenAuthentication against raw PyJWT and simplejwt, interleaved, medians.

    python bench/bench_auth.py [--rounds 15] [--calls 300]

Prints µs per authenticate() for RS256, ES256 and EdDSA, the same token decoded by
``jwt.decode`` with a preloaded key and (RS256, ES256) authenticated by simplejwt's
stateless authentication, then requests/s through a DRF view with and without
authentication. The machine is shared: read the ratios, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import django
from django.conf import settings

AUDIENCE = "https://api.bench"


def configure(issuer_entries: list[dict[str, object]], simple_jwt: dict[str, object]) -> None:
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
        BEARER_GUARD={"ISSUERS": issuer_entries},
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


urlpatterns: list[object] = []


def main() -> None:
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
    configure([idp.issuer_settings(jwks=idp.jwks())], {
        "ALGORITHM": "RS256", "SIGNING_KEY": pem["RS256"][0], "VERIFYING_KEY": pem["RS256"][1],
        "AUDIENCE": AUDIENCE, "ISSUER": idp.issuer, "USER_ID_CLAIM": "sub", "LEEWAY": 30,
    })

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
    print("\ntargets: RS256 authenticate() <= 0.6x jwt.decode; >= 1.5x faster than simplejwt")


if __name__ == "__main__":
    main()
