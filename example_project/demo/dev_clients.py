"""The demo's clients: two workloads' client certificates, as a proxy reports them, and a DPoP key.

Example project only. Like the issuer's keys, they are made on first use in
``settings.DEMO_KEYS_DIR``. A workload certificate is kept as the header line an Envoy proxy
would add after verifying it (``X-Forwarded-Client-Cert: Hash=…;Cert="…";URI=spiffe://…``), ready
for ``curl -H @file``; the demo's curls play that proxy by connecting from
``settings.DEMO_PROXY_ADDR``. The DPoP key is a P-256 key whose proofs :func:`dpop_proof` signs the
way a DPoP client does (RFC 9449 §4.2), with :class:`~django_bearer_guard.testing.DPoPKey`.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from django_bearer_guard.testing.certificates import WorkloadCA, xfcc_header
from django_bearer_guard.testing.dev_issuer import write_once
from django_bearer_guard.testing.dpop import DPoPKey
from example_project.demo.dev_issuer import WORKLOAD_TRUST_DOMAIN, secrets_dir

__all__ = ["SVC_A", "SVC_B", "dpop_jkt", "dpop_proof", "xfcc_file"]

SVC_A = f"spiffe://{WORKLOAD_TRUST_DOMAIN}/ns/default/sa/svc-a"
"""The workload the demo's workload-bound token names."""
SVC_B = f"spiffe://{WORKLOAD_TRUST_DOMAIN}/ns/default/sa/svc-b"
"""Another workload of the same trust domain, whose certificate the token must not pass with."""

_DPOP_KEY_FILE = "dpop-es256.pem"


@functools.cache
def _ca() -> WorkloadCA:
    return WorkloadCA("Demo workload CA")


def _header_line(spiffe_id: str) -> bytes:
    # Kept for years like the issuer's keys; SPIRE would rotate a real X.509-SVID within hours.
    certificate = _ca().issue(spiffe_id, not_after=datetime.now(timezone.utc) + timedelta(days=3650))
    return f"X-Forwarded-Client-Cert: {xfcc_header(certificate.xfcc())}\n".encode("ascii")


def xfcc_file(spiffe_id: str) -> Path:
    """The file holding the ``X-Forwarded-Client-Cert`` header line of ``spiffe_id``'s certificate."""
    path = secrets_dir() / f"{spiffe_id.rpartition('/')[2]}.xfcc"
    write_once(path, lambda: _header_line(spiffe_id))
    return path


def _dpop_key() -> ec.EllipticCurvePrivateKey:
    def pem() -> bytes:
        return ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    key = serialization.load_pem_private_key(write_once(secrets_dir() / _DPOP_KEY_FILE, pem), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def _client() -> DPoPKey:
    return DPoPKey("ES256", private_key=_dpop_key())


def dpop_jkt() -> str:
    """The RFC 7638 thumbprint of the demo's DPoP key: the ``cnf.jkt`` of a token bound to it."""
    return _client().jkt


def dpop_proof(method: str, url: str, access_token: str) -> str:
    """A fresh DPoP proof of the demo's key for one ``method`` request to ``url`` with ``access_token``.

    Good once (its ``jti`` is random) and only within the API's ``DPOP_PROOF_MAX_AGE`` of now.
    """
    return _client().proof(method, url, access_token=access_token)
