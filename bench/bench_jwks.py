"""Benchmark: the CPU a JWKS fetch costs, and the request that crosses a key expiry.

    python bench/bench_jwks.py [--quick] [--rounds 5] [--fetches 40] [--cycles 12] [--json FILE]

CPU per fetch (``time.process_time``) of ``django_bearer_guard.jwks.fetch.fetch_keys`` and of
PyJWT's ``PyJWKClient.get_signing_keys(refresh=True)``, interleaved, for a JWK Set of three
RSA-2048 keys served by a LocalIssuer in a child process (so its CPU is not counted), over
http:// and over https:// (the LocalIssuer's socket in TLS with a certificate of a CA made
here, trusted through SSL_CERT_FILE beside the system's CAs). The library keeps one TLS
context per process; PyJWKClient builds one, loading every system CA, per fetch.

Then the latency of the first request after the keys expired, with JWKS_REFRESH_AHEAD 0 and
15 seconds, against a LocalIssuer that answers after 0.2 s: the library's clock (a manual
``Clock``) is moved to just inside the refresh-ahead window, one request is made, the
refresh is given time to land, and the clock is moved past the expiry for the request that
is timed. Prints "n/a" for refresh-ahead when the system checks refuse the setting or no
refresh happened before the expiry.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import ipaddress
import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    AUDIENCE,
    arguments,
    environment,
    interleave,
    make_issuer,
    parse,
    project_config,
    save,
    setting_accepted,
    setup_django,
)

JWKS_KEYS = 3
DELAY = 0.2
MAX_AGE = 60
AHEAD = 15


def make_certificates(directory: Path) -> tuple[Path, Path]:
    """A CA and an RSA-2048 server certificate for 127.0.0.1: (CA bundle with the system's CAs, cert+key PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.timezone.utc)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench CA")])

    def builder(subject: x509.Name, public: Any) -> x509.CertificateBuilder:
        return (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_name).public_key(public)
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                               critical=False))

    ca = (builder(ca_name, ca_key.public_key())
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    leaf = (builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]), key.public_key())
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    system = Path(ssl.get_default_verify_paths().cafile or ssl.get_default_verify_paths().openssl_cafile)
    bundle = directory / "bundle.pem"
    bundle.write_bytes((system.read_bytes() if system.is_file() else b"") + ca.public_bytes(serialization.Encoding.PEM))
    server = directory / "server.pem"
    server.write_bytes(leaf.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return bundle, server


def serve(server_pem: Path) -> None:
    """The child process: the same three keys over http:// and https://; prints both URLs, serves until stdin closes."""
    from django_bearer_guard.testing import LocalIssuer, generate_key

    keys = [generate_key("RS256") for _ in range(JWKS_KEYS)]
    plain, tls = LocalIssuer(keys=keys), LocalIssuer(keys=keys)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(server_pem)
    # The listening socket in TLS: each accepted connection completes its handshake, then HTTP as usual.
    tls._server.socket = context.wrap_socket(tls._server.socket, server_side=True)
    with plain, tls:
        port = tls._server.server_address[1]
        print(json.dumps({"http": plain.url + plain.jwks_path, "https": f"https://127.0.0.1:{port}{tls.jwks_path}"}),
              flush=True)
        sys.stdin.read()


def fetch_cpu(urls: dict[str, str], rounds: int, fetches: int) -> dict[str, float]:
    """CPU ms per fetch: the library's fetch_keys and PyJWKClient, over each scheme, interleaved."""
    from jwt import PyJWKClient

    from django_bearer_guard.conf import get_settings

    settings = get_settings()
    calls: dict[str, Callable[[], object]] = {}
    for scheme, url in urls.items():
        issuer = next(issuer for issuer in settings.issuers if issuer.jwks_uri == url)
        calls[f"bearer_guard {scheme}"] = functools.partial(_ours, issuer, settings)
        calls[f"PyJWKClient {scheme}"] = functools.partial(_theirs, PyJWKClient(url))
    medians = interleave(calls, rounds, fetches, timer=time.process_time_ns)
    return {name: us / 1000 for name, us in medians.items()}


def _ours(issuer: Any, settings: Any) -> None:
    from django_bearer_guard.jwks.fetch import fetch_keys

    _count(len(fetch_keys(issuer, settings).keyset))


def _theirs(client: Any) -> None:
    _count(len(client.get_signing_keys(refresh=True)))


def _count(keys: int) -> None:
    # Three keys parsed each time, or the fetch did not happen.
    if keys != JWKS_KEYS:
        raise RuntimeError(f"{keys} keys fetched, {JWKS_KEYS} served")


def crossing(ahead: float | None, cycles: int) -> dict[str, Any]:
    """Wall ms of the first request after the keys expired, per cycle, and the cycles refreshed ahead."""
    from django.conf import settings
    from django.test.utils import override_settings
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from django_bearer_guard.authentication import BearerTokenAuthentication
    from django_bearer_guard.conf import get_settings
    from django_bearer_guard.jwks.refresh import SHARED_CHECK_INTERVAL
    from django_bearer_guard.runtime import key_status
    from django_bearer_guard.testing import Clock, use_clock

    idp = make_issuer()
    idp.cache_control, idp.mode, idp.delay = f"max-age={MAX_AGE}", "slow", DELAY
    guard = {**settings.BEARER_GUARD, "ISSUERS": [idp.issuer_settings()], "JWKS_MIN_TTL": 5}
    if ahead is not None:
        guard["JWKS_REFRESH_AHEAD"] = ahead
    factory = APIRequestFactory()
    authentication = BearerTokenAuthentication()
    clock = Clock()

    def timed() -> float:
        # A new token each time: the token cache never answers for the keys.
        request = Request(factory.get("/", HTTP_AUTHORIZATION=f"Bearer {idp.mint(alg='RS256', lifetime=600)}"))
        started = time.perf_counter()
        if authentication.authenticate(request) is None:
            raise RuntimeError("not authenticated")
        return (time.perf_counter() - started) * 1000

    # A refresh lands within DELAY; background refreshes start at most every SHARED_CHECK_INTERVAL (real time).
    pause = DELAY + 0.2 if not ahead else max(DELAY + 0.2, SHARED_CHECK_INTERVAL + 0.1)
    latencies, early = [], 0
    with idp, override_settings(BEARER_GUARD=guard), use_clock(clock):
        timed()  # the first fetch
        issuer = get_settings().issuers[0]
        for _ in range(cycles):
            expires_at = key_status(issuer).expires_at
            assert expires_at is not None
            fetched = idp.fetches()
            clock.now = expires_at - AHEAD / 2
            timed()
            time.sleep(pause)  # a refresh started by that request lands meanwhile
            early += idp.fetches() > fetched
            clock.now = expires_at + 1
            latencies.append(timed())
    return {"median_ms": statistics.median(latencies), "p99_ms": percentile(latencies, 99),
            "refreshed_ahead": early, "cycles": cycles}


def percentile(values: list[float], pct: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = arguments(__doc__.splitlines()[0], rounds=(5, 2), fetches=(40, 10), cycles=(12, 3))
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parse(parser)
    if args.serve:
        serve(args.serve)
        return
    with tempfile.TemporaryDirectory() as tmp:
        bundle, server_pem = make_certificates(Path(tmp))
        # Before any TLS context exists: both clients then trust the bench CA beside the system's.
        os.environ["SSL_CERT_FILE"] = str(bundle)
        child = subprocess.Popen([sys.executable, __file__, "--serve", str(server_pem)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout is not None
            urls: dict[str, str] = json.loads(child.stdout.readline())
            idp = make_issuer(start=False)
            fetched = [{"issuer": f"https://{scheme}.fetch.bench/", "audiences": [AUDIENCE],
                        "algorithms": ["RS256"], "jwks_uri": url} for scheme, url in urls.items()]
            setup_django(project_config(idp, guard={"ISSUERS": fetched, "ALLOW_HTTP_LOOPBACK": True}))
            cpu = fetch_cpu(urls, args.rounds, args.fetches)
        finally:
            assert child.stdin is not None
            child.stdin.close()
            child.wait(timeout=20)
    accepted = setting_accepted("JWKS_REFRESH_AHEAD", AHEAD)
    without = crossing(0 if accepted else None, args.cycles)
    ahead = crossing(AHEAD, args.cycles) if accepted else None
    if ahead is not None and not ahead["refreshed_ahead"]:
        ahead = None
        note = "JWKS_REFRESH_AHEAD had no effect: no refresh before the expiry"
    else:
        note = "" if accepted else "JWKS_REFRESH_AHEAD is refused by the system checks"

    print(f"\nJWKS fetch, {JWKS_KEYS} RSA-2048 keys, CPU ms per fetch (medians of {args.rounds} interleaved "
          f"rounds of {args.fetches} fetches, {environment()['cores']} cores)")
    for name, ms in cpu.items():
        print(f"  {name:24s} {ms:7.2f} ms")
    print(f"\nfirst request after the keys expired (issuer answers after {DELAY} s; {args.cycles} expiries)")
    for name, result in (("JWKS_REFRESH_AHEAD 0", without), (f"JWKS_REFRESH_AHEAD {AHEAD}", ahead)):
        if result is None:
            print(f"  {name:24s} n/a ({note})")
        else:
            print(f"  {name:24s} p50 {result['median_ms']:7.1f} ms   p99 {result['p99_ms']:7.1f} ms   "
                  f"refreshed before expiry: {result['refreshed_ahead']}/{result['cycles']}")
    save(args.json, {"environment": environment(), "rounds": args.rounds, "fetches": args.fetches,
                     "cpu_ms": cpu, "crossing": {"off": without, "ahead": ahead, "note": note}})


if __name__ == "__main__":
    main()
