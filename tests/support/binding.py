"""Helpers for the binding attack tests: requests to the binding views, the checks of their refusals,
odd client certificates, and API processes that share one cache (for replays across processes).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from importlib.metadata import version
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.test import Client

from django_bearer_guard.testing.certificates import WorkloadCA, WorkloadCertificate
from tests.support.live import ROOT, Address, free_port

SVC_A = "spiffe://example.test/ns/default/sa/svc-a"
SVC_B = "spiffe://example.test/ns/default/sa/svc-b"
ENVOY = "spiffe://example.test/ns/edge/sa/envoy"
URL = "http://testserver/bound/"
# The test client's REMOTE_ADDR (127.0.0.1) is a trusted proxy.
XFCC = {"source": "xfcc", "trusted_proxies": ["127.0.0.0/8", "::1/128"]}
# What the issuer of the binding tests lists: its tokens' RS256 and the proofs' ES256.
PROOF_ALGS = "ES256 RS256"
_CHALLENGE_PARAM = '{name}="{value}"'


def call(token: str, *, scheme: str = "Bearer", path: str = "/bound/", method: str = "get", **meta: Any) -> Any:
    """A request to the binding views with ``Authorization: <scheme> <token>`` and the ``meta`` given."""
    return getattr(Client(), method)(path, HTTP_AUTHORIZATION=f"{scheme} {token}", **meta)


def via_proxy(certificate: WorkloadCertificate, **meta: Any) -> dict[str, Any]:
    """The ``X-Forwarded-Client-Cert`` Envoy writes for ``certificate``, and ``meta``."""
    return {"HTTP_X_FORWARDED_CLIENT_CERT": certificate.xfcc(by=ENVOY), **meta}


def refused(response: Any, error: str = "invalid_token") -> str:
    """Assert a 401 with ``error`` in the body and in the challenge; the description."""
    assert response.status_code == 401, response.content[:300]
    body = response.json()
    assert set(body) == {"error", "error_description"} and body["error"] == error, body
    assert _CHALLENGE_PARAM.format(name="error", value=error) in response["WWW-Authenticate"]
    description: str = body["error_description"]
    return description


def dpop_refused(response: Any, error: str = "invalid_dpop_proof", algs: str = PROOF_ALGS) -> str:
    """:func:`refused`, with the RFC 9449 §7.1 ``DPoP`` challenge naming ``algs``; the description."""
    description = refused(response, error)
    challenge = response["WWW-Authenticate"]
    assert challenge.startswith(f'DPoP realm="api", error="{error}", error_description="'), challenge
    assert challenge.endswith(f', algs="{algs}"'), challenge
    return description


def certificate_named(
    ca: WorkloadCA, common_name: str, *, uris: Sequence[str] = (), dns: Sequence[str] = ()
) -> WorkloadCertificate:
    """A client certificate of ``ca`` whose subject's common name is ``common_name`` (an ID in the wrong place)."""
    now = datetime.now(timezone.utc)
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(u) for u in uris]
    names += [x509.DNSName(d) for d in dns]
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return WorkloadCertificate(builder.sign(ca.private_key, hashes.SHA256()), key)


# -- API processes sharing a cache ------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """A live server's answer: status, headers and the JSON body."""

    status: int
    headers: http.client.HTTPMessage
    body: Any


def send(
    address: Address, path: str, headers: Mapping[str, str] | Sequence[tuple[str, str]], *, host: str
) -> Answer:
    """GET ``path`` from ``address`` with ``Host: host`` and ``headers``, exactly as given.

    ``headers`` may be a list of ``(name, value)`` lines, to send one header name several times.
    """
    conn = http.client.HTTPConnection(*address, timeout=10)
    try:
        conn.putrequest("GET", path, skip_host=True)
        conn.putheader("Host", host)
        for name, value in headers.items() if isinstance(headers, Mapping) else headers:
            conn.putheader(name, value)
        conn.putheader("Connection", "close")
        conn.endheaders()
        response = conn.getresponse()
        raw = response.read()
        return Answer(response.status, response.headers, json.loads(raw) if raw else None)
    finally:
        conn.close()


def _start(address: Address, env: Mapping[str, str], log: Path, workers: int = 1) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "gunicorn", "--bind", f"{address[0]}:{address[1]}", "--workers", str(workers),
               "--log-level", "warning", "django.core.wsgi:get_wsgi_application()"]
    with log.open("ab") as out:
        return subprocess.Popen(command, env=dict(env), cwd=ROOT, stdout=out, stderr=out)


def _ready(address: Address, process: subprocess.Popen[bytes], deadline: float) -> bool:
    """True once ``address`` answers (an unauthenticated request: 401); False if the process died."""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            if send(address, "/whoami/", {}, host="localhost").status == 401:
                return True
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"gunicorn on port {address[1]} did not answer in time")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextlib.contextmanager
def api_processes(
    count: int,
    guard: Mapping[str, Any],
    caches: Mapping[str, Any],
    logs: Path,
    *,
    workers: int = 1,
    threads: int | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[list[Address]]:
    """``count`` gunicorn servers of ``tests.urls`` with ``BEARER_GUARD = guard`` and
    ``CACHES = caches``; their addresses. Every server is stopped on the way out, and no
    traceback may reach their logs (``logs / "gunicorn.log"``).

    Each server has ``workers`` worker processes (several: the application is loaded once, then
    forked, as ``--preload`` does); ``threads`` runs them as gunicorn's threaded workers
    (keep-alive connections, that many requests at once) instead of synchronous ones; ``env``
    adds environment variables.
    """
    environ = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.support.process_settings", "PYTHONPATH": str(ROOT),
               "BG_GUARD": json.dumps(guard), "BG_CACHES": json.dumps(caches), **(env or {})}
    environ.pop("PYTHONDEVMODE", None)
    options = ["--preload"] if workers > 1 else []
    if tuple(int(part) for part in version("gunicorn").split(".")[:2]) >= (25, 1):
        # Not the control socket every gunicorn of the user shares (~/.gunicorn/gunicorn.ctl).
        options.append("--no-control-socket")
    if threads is not None:
        options += ["--worker-class", "gthread", "--threads", str(threads)]
    if options:
        environ["GUNICORN_CMD_ARGS"] = " ".join(options)
    log = logs / "gunicorn.log"
    running: list[tuple[Address, subprocess.Popen[bytes]]] = []
    try:
        # Started together, then awaited: the servers boot side by side.
        for _ in range(count):
            address = ("127.0.0.1", free_port())
            running.append((address, _start(address, environ, log, workers)))
        deadline = time.monotonic() + 20
        for index, (address, process) in enumerate(running):
            # A port taken between free_port() and gunicorn's bind: try another once.
            if not _ready(address, process, deadline):
                _stop(process)
                retry = ("127.0.0.1", free_port())
                running[index] = (retry, _start(retry, environ, log, workers))
                if not _ready(retry, running[index][1], deadline):
                    raise RuntimeError(f"gunicorn exited: {log.read_text(errors='replace')[-2000:]}")
        yield [address for address, _ in running]
    finally:
        # Told to stop together, then awaited: each takes a second or two to wind down.
        for _, process in running:
            if process.poll() is None:
                process.terminate()
        for _, process in running:
            _stop(process)
    text = log.read_bytes() if log.exists() else b""
    assert b"Traceback" not in text, text.decode(errors="replace")[-2000:]
