"""Fuzz the DPoP proof verifier's parsing front (``identity/dpop.py``).

Input: one mode byte (bit 7: ``DPOP_NONCE`` on), then

* mode 0: a ``DPoP`` header value as text, verified as is (mutated, its signature no longer
  verifies, so it stops at or before the signature check);
* mode 1: ``header JSON 0xff claims JSON``, encoded and signed here with a fixed ES256 key: an
  ES256 header that carries that key (the seeds do) reaches the claim checks and, for a proof
  that passes them, the replay store (a local-memory cache); other headers, which fail before
  or at the signature whatever it is, get a dummy signature;
* mode 2: a URL normalised by ``normalize_htu``.

Refusals: ``InvalidDPoPProof`` (and its ``UseDPoPNonce``); ``ValueError`` from
``normalize_htu``. Properties: an accepted proof is by the token's key, for this method, URL and
access token, made within the allowed age; a nonce asked for is a current server nonce;
``normalize_htu`` is idempotent, and its result is http(s) with a path and no query.
"""

from __future__ import annotations

import base64
import hashlib
import json

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from fuzz._driver import configure_django, fuzz, library_imports, split

configure_django()
with library_imports(__name__):
    from django_bearer_guard.conf import GuardSettings
    from django_bearer_guard.exceptions import InvalidDPoPProof, UseDPoPNonce
    from django_bearer_guard.identity.dpop import nonce_age, normalize_htu, verify_proof

NOW = 1_800_000_000.0
METHOD = "POST"
URL = "https://api.example.test/files/a.txt?x=1"
ACCESS_TOKEN = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJmdXp6In0.c2lnbmF0dXJl"  # noqa: S105 - an example, signed by no one
ALGORITHMS = ("ES256", "EdDSA", "RS256", "HS256")
# A fixed key, derived from a public phrase: it protects nothing, it lets seeds carry its JWK.
_SCALAR = int.from_bytes(hashlib.sha256(b"django-bearer-guard fuzzing DPoP key").digest(), "big")
PRIVATE_KEY = ec.derive_private_key(_SCALAR, ec.SECP256R1())
_NUMBERS = PRIVATE_KEY.public_key().public_numbers()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


PUBLIC_JWK = {"kty": "EC", "crv": "P-256", "x": _b64(_NUMBERS.x.to_bytes(32, "big")),
              "y": _b64(_NUMBERS.y.to_bytes(32, "big"))}
JKT = _b64(hashlib.sha256(json.dumps(PUBLIC_JWK, sort_keys=True, separators=(",", ":")).encode()).digest())
ATH = _b64(hashlib.sha256(ACCESS_TOKEN.encode("ascii")).digest())
SETTINGS = {False: GuardSettings(), True: GuardSettings(dpop_nonce=True)}


def sign(header: bytes, claims: bytes) -> str:
    """The compact JWS of ``header`` and ``claims`` (JSON bytes), signed with :data:`PRIVATE_KEY`."""
    signing_input = f"{_b64(header)}.{_b64(claims)}"
    r, s = decode_dss_signature(PRIVATE_KEY.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def _signed_if_it_matters(header: bytes, claims: bytes) -> str:
    # Only an ES256 header carrying this key (its thumbprint members) gets as far as a signature
    # that could verify; any other proof fails the same way with a real or a dummy signature, so
    # signing is skipped for it (it is most of the time per input).
    try:
        parsed = json.loads(header)
    except ValueError:
        parsed = None
    jwk = parsed.get("jwk") if isinstance(parsed, dict) and parsed.get("alg") == "ES256" else None
    if isinstance(jwk, dict) and all(jwk.get(name) == value for name, value in PUBLIC_JWK.items()):
        return sign(header, claims)
    return f"{_b64(header)}.{_b64(claims)}.{_b64(bytes(64))}"


def _payload(proof: str) -> dict[str, object]:
    payload = proof.split(".")[1]
    claims: dict[str, object] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


def _check_proof(proof: str, *, nonce: bool) -> None:
    settings = SETTINGS[nonce]
    try:
        result = verify_proof(proof, access_token=ACCESS_TOKEN, method=METHOD, url=URL, jkt=JKT,
                              algorithms=ALGORITHMS, settings=settings, now=NOW)
    except UseDPoPNonce as exc:
        asked: str | None = exc.nonce
    except InvalidDPoPProof:
        return
    else:
        asked = None
    if asked is not None:
        # A nonce asked for is the current one, and only asked for when nonces are on.
        assert nonce and nonce_age(asked, NOW, settings.dpop_nonce_lifetime) == 0
        return
    claims = _payload(proof)
    assert result.jkt == JKT and result.jti == claims["jti"]
    assert claims["htm"] == METHOD and claims["ath"] == ATH
    assert normalize_htu(str(claims["htu"])) == normalize_htu(URL)
    assert NOW - settings.dpop_proof_max_age - settings.leeway <= result.iat <= NOW + settings.leeway
    assert not nonce or nonce_age(claims.get("nonce"), NOW, settings.dpop_nonce_lifetime) in (0, 1)


def _check_htu(url: str) -> None:
    try:
        normal = normalize_htu(url)
    except ValueError:
        return
    assert normalize_htu(normal) == normal, (url, normal)
    scheme, _, rest = normal.partition("://")
    assert scheme in ("http", "https") and "/" in rest and "?" not in normal and "#" not in normal


def test_one_input(data: bytes) -> None:
    """Verify one proof (or normalise one URL) and check the verifier's contract."""
    if not data:
        return
    mode, nonce, rest = data[0] % 3, bool(data[0] & 0x80), data[1:]
    if mode == 0:
        _check_proof(rest.decode("latin-1"), nonce=nonce)
    elif mode == 1:
        _check_proof(_signed_if_it_matters(*split(rest, 2)), nonce=nonce)
    else:
        _check_htu(rest.decode("latin-1"))


if __name__ == "__main__":
    fuzz(test_one_input)
