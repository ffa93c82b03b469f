"""Hostile Authorization headers through real servers: never a 5xx, every 401 carries the challenge.

A fixed-seed corpus (hand-written attacks plus generated mutations of a valid token) is sent
with ``http.client`` to gunicorn (a subprocess with the test settings) and to Django's
development server (in process), both on 127.0.0.1, against a real ``LocalIssuer``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import time
from collections import Counter
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from django_bearer_guard.testing import LocalIssuer
from tests.support.live import Address, send

SEED = 20_240_601
CHALLENGE = b'Bearer realm="api"'
# A request that used the DPoP scheme is answered with a DPoP challenge (RFC 9449 §7.1).
DPOP_CHALLENGE = b'DPoP realm="api"'
TIME_BUDGET = 20.0


# -- the corpus -----------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _raw_jws(header: bytes, payload: bytes, signature: bytes = b"\x01" * 256) -> str:
    return f"{_b64(header)}.{_b64(payload)}.{_b64(signature)}"


def _signed(idp: LocalIssuer, header: dict[str, Any], payload: bytes) -> str:
    key = idp.signing_key()
    return jwt.api_jws.encode(payload, key.private_key, algorithm=key.alg, headers={"kid": key.kid, **header})


def _key_confusion(public_pem: bytes, kid: str, payload: bytes) -> str:
    # HS256 "signed" with the issuer's public key as the secret (CVE-2015-9235 style).
    signing_input = f"{_b64(json.dumps({'alg': 'HS256', 'kid': kid}).encode())}.{_b64(payload)}"
    return f"{signing_input}.{_b64(hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest())}"


def _claims(idp: LocalIssuer, **extra: Any) -> bytes:
    now = int(time.time())
    claims = {"iss": idp.issuer, "aud": idp.audience, "sub": "fuzz", "iat": now, "exp": now + 300, **extra}
    return json.dumps({k: v for k, v in claims.items() if v is not None}).encode()


def _hostile_tokens(idp: LocalIssuer) -> list[str]:
    valid = idp.mint()
    head, body, sig = valid.split(".")
    public_pem = idp.signing_key().private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = _claims(idp)
    kid = idp.signing_key().kid
    deep = b'{"alg":"RS256","x":' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    return [
        f"{head}.{body}.",  # unsecured shape
        f"{head}..{sig}",
        f"{head}.{body}.{sig}.{sig}.{sig}",  # JWE shape
        f"{head}.{body}",
        f"{head}={body}.{sig}",
        f"{head}.{body}.{sig}==",
        valid[:-1],
        valid[:-2] + ("A" if valid[-2] != "A" else "B") + valid[-1],
        f"{_b64(b'{}')}.{body}.{sig}",
        _raw_jws(b'{"alg":"none"}', claims, b""),
        _raw_jws(b'{"alg":"none"}', claims),
        _raw_jws(b'{"alg":"None","kid":"%s"}' % kid.encode(), claims),
        _key_confusion(public_pem, kid, claims),
        _raw_jws(b'{"alg":"RS256","alg":"none"}', claims),
        _raw_jws(b'{"alg":["RS256"]}', claims),
        _raw_jws(b'{"alg":null}', claims),
        _raw_jws(b'{"alg":"RS256","kid":42}', claims),
        _raw_jws(b'{"alg":"RS256","kid":"' + b"k" * 5000 + b'"}', claims),
        _raw_jws(b'{"alg":"RS256","kid":"../../etc/passwd"}', claims),
        _raw_jws(b'{"alg":"RS256","jku":"http://127.0.0.1:1/jwks"}', claims),
        _raw_jws(b'{"alg":"RS256","x5u":"http://127.0.0.1:1/x5u"}', claims),
        _raw_jws(deep, claims),
        _raw_jws(b"\xff\xfe{}", claims),
        _raw_jws(b"[1,2]", claims),
        _raw_jws(b'{"alg":"RS256"}', b"\xc3\x28"),
        _raw_jws(b'{"alg":"RS256"}', b'{"exp":NaN}'),
        _signed(idp, {"jwk": idp.signing_key().public_jwk()}, claims),
        _signed(idp, {"crit": ["exp"], "exp": 1}, claims),
        _signed(idp, {"b64": False, "crit": ["b64"]}, claims),
        _signed(idp, {"cty": "JWT"}, claims),
        _signed(idp, {}, b"not json"),
        _signed(idp, {}, b"[]"),
        _signed(idp, {}, b'{"iss":"a","iss":"b"}'),
        _signed(idp, {}, _claims(idp, exp="9999999999")),
        _signed(idp, {}, _claims(idp, exp=10**400)),
        _signed(idp, {}, claims.replace(b'"exp": ', b'"exp": 1e400, "x": ')),
        _signed(idp, {}, _claims(idp, exp=None)),
        _signed(idp, {}, _claims(idp, aud={"a": 1})),
        _signed(idp, {}, _claims(idp, aud=[1, 2])),
        _signed(idp, {}, _claims(idp, aud=[])),
        _signed(idp, {}, _claims(idp, iss=[idp.issuer])),
        _signed(idp, {}, _claims(idp, scope={"a": "b"})),
        _signed(idp, {}, _claims(idp, scope="a\u0000b c\nd")),
        _signed(idp, {}, _claims(idp, scope=" ".join(f"s{i}" for i in range(5000)))),
        _signed(idp, {}, _claims(idp, sub={"id": 1})),
        _signed(idp, {}, _claims(idp, sub="\u202e\u0000\ud800")),
        _signed(idp, {}, _claims(idp, nbf=True, iat=None)),
        _signed(idp, {"kid": "unknown-kid"}, claims),
    ]


def _mutate(rng: random.Random, token: str) -> str:
    chars = list(token)
    for _ in range(rng.randint(1, 4)):
        position = rng.randrange(len(chars))
        action = rng.choice(("flip", "delete", "insert", "dot", "truncate"))
        if action == "flip":
            chars[position] = rng.choice("ABCxyz019-_+/=.~ ")
        elif action == "delete":
            del chars[position]
        elif action == "insert":
            chars.insert(position, rng.choice("A.=/+%\x00\t\x7f\xff\u00e9"))
        elif action == "dot":
            chars.insert(position, ".")
        else:
            del chars[position:]
        if not chars:
            chars = ["A"]
    return "".join(chars)


def _random_value(rng: random.Random) -> str:
    alphabet = "AZaz09-._~+/= ,;\"'\\\t\x00\x01\x7f\x80\xff\u00e9\u2028"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 64)))


def corpus(idp: LocalIssuer) -> list[tuple[str, list[bytes]]]:
    """(path, Authorization header values) pairs, the same on every run."""
    rng = random.Random(SEED)
    valid = idp.mint(scope="reports:read")
    values: list[str] = [
        "", " ", "Bearer", "Bearer ", "Bearer  ", "Bearer\t" + valid, "Bearer\x00" + valid,
        "Bearer " + valid + "\x00", "Bearer ...", "Bearer ..", "Bearer =", "Bearer ====",
        "Bearer " + "A" * 8192, "Bearer " + "A" * 8193, "Bearer " + "A" * 8000 + " B",
        "Bearer " + valid + ", Bearer " + valid, "Bearer " + valid + "," + valid, "Basic " + valid,
        "Digest username=x", "DPoP " + valid, "dpop " + valid, "DPoP " + valid + ", DPoP " + valid,
        "Bearer " + valid.replace(".", ".."), "Bearer " + valid + " ",
        "Bearer " + valid[::-1], "Bearer " + valid.upper(), "bearer " + valid, "BeArEr " + valid,
        "Bearer " + valid + "\u00e9", "Bearer \u00e9", "Bearer \u2028", "Bearer " + "\ufeff" + valid,
        "Bearer" + "\u00a0" + valid, "Token " + valid, "Bearer " + valid + "#", "Bearer " + "%2e" * 10,
    ]
    values += ["Bearer " + token for token in _hostile_tokens(idp)]
    values += ["Bearer " + _mutate(rng, valid) for _ in range(160)]
    values += [rng.choice(("Bearer ", "bearer ", "Bearer", "")) + _random_value(rng) for _ in range(80)]
    cases: list[tuple[str, list[bytes]]] = []
    for value in values:
        # http.client refuses bare CR/LF (header injection): those never reach a server anyway.
        encoded = value.encode("latin-1") if all(ord(ch) < 256 for ch in value) else value.encode()
        cases.append((rng.choice(("/whoami/", "/scoped/reports/")), [encoded]))
    cases.append(("/whoami/", [b"Bearer " + valid.encode(), b"Bearer " + valid.encode()]))
    cases.append(("/whoami/", [b"Bearer " + valid.encode(), b"Basic dXNlcjpwYXNz"]))
    return cases


def _fuzz(address: Address, idp: LocalIssuer) -> Counter[int]:
    started = time.monotonic()
    valid = idp.mint(scope="reports:read")
    assert send(address, "/whoami/", [b"Bearer " + valid.encode()])[0] == 200
    assert send(address, "/scoped/reports/", [b"Bearer " + idp.mint().encode()])[0] == 403
    statuses: Counter[int] = Counter()
    for path, authorization in corpus(idp):
        status, headers = send(address, path, authorization)
        statuses[status] += 1
        assert status < 500, (path, authorization[0][:200], status)
        if status == 401:
            expected = DPOP_CHALLENGE if authorization[0][:5].lower() == b"dpop " else CHALLENGE
            assert headers.get("WWW-Authenticate", "").encode().startswith(expected), authorization[0][:200]
        if status in (400, 403) and path == "/whoami/" and headers.get("WWW-Authenticate"):
            assert headers["WWW-Authenticate"].encode().startswith(CHALLENGE)
    assert time.monotonic() - started < TIME_BUDGET
    return statuses


def test_hostile_authorization_headers_never_cause_5xx_under_gunicorn(
    idp: LocalIssuer, gunicorn_server: Address
) -> None:
    statuses = _fuzz(gunicorn_server, idp)
    assert statuses[400] > 0 and statuses[401] > 0  # the corpus reaches both refusal paths


def test_hostile_authorization_headers_never_cause_5xx_under_runserver(
    idp: LocalIssuer, runserver: Address
) -> None:
    statuses = _fuzz(runserver, idp)
    assert statuses[400] > 0 and statuses[401] > 0


@pytest.mark.parametrize("server", ["gunicorn_server", "runserver"])
def test_two_authorization_headers_are_a_400_through_a_real_server(
    idp: LocalIssuer, request: pytest.FixtureRequest, server: str
) -> None:
    address: Address = request.getfixturevalue(server)
    token = idp.mint().encode()
    status, headers = send(address, "/whoami/", [b"Bearer " + token, b"Bearer " + token])
    assert status == 400
    assert headers["WWW-Authenticate"].startswith('Bearer realm="api", error="invalid_request"')



@pytest.mark.parametrize("server", ["gunicorn_server", "runserver"])
def test_oversized_credential_is_a_401_through_a_real_server(
    idp: LocalIssuer, request: pytest.FixtureRequest, server: str
) -> None:
    address: Address = request.getfixturevalue(server)
    status, headers = send(address, "/whoami/", [b"Bearer " + b"A" * 8193])
    assert status == 401
    assert headers["WWW-Authenticate"].startswith('Bearer realm="api", error="invalid_token"')
