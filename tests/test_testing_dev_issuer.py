"""django_bearer_guard.testing.dev_issuer: a signing key kept in a file, its documents, mint()."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa, x25519

from django_bearer_guard.jose.keyset import KeySet
from django_bearer_guard.testing import Clock, use_clock
from django_bearer_guard.testing.dev_issuer import (
    KeyFileError,
    algorithm_of,
    discovery_document,
    jwks_document,
    load_key,
    mint,
    write_once,
)
from tests.support.keys import pooled_key

_PKCS8 = (serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8)


def _pem(private_key: Any, encryption: Any = None) -> bytes:
    data: bytes = private_key.private_bytes(*_PKCS8, encryption or serialization.NoEncryption())
    return data


@pytest.mark.parametrize("alg", ["RS256", "ES256", "ES384", "ES512", "EdDSA"])
def test_load_key_makes_a_key_for_alg_and_reads_the_same_key_next_time(tmp_path: Path, alg: str) -> None:
    path = tmp_path / "key.pem"
    first = load_key(path, alg)
    written = path.read_bytes()
    second = load_key(path, "RS256")
    assert (first.alg, second.alg) == (alg, alg)
    assert first.kid == second.kid
    assert path.read_bytes() == written
    assert path.stat().st_mode & 0o777 == 0o600
    # The kid is the RFC 7638 thumbprint of the published key.
    [published] = KeySet.from_jwks(first.public_jwk()).keys
    assert published.thumbprint() == first.kid


def test_load_key_takes_the_algorithm_from_an_existing_key_file(tmp_path: Path) -> None:
    path = tmp_path / "rsa.pem"
    path.write_bytes(_pem(pooled_key("RS256").private_key))
    assert load_key(path, "ES256").alg == "RS256"


def _dsa() -> bytes:
    return _pem(dsa.generate_private_key(2048))


def _weak_rsa() -> bytes:
    return _pem(rsa.generate_private_key(public_exponent=65537, key_size=1024))


def _public() -> bytes:
    public = pooled_key("ES256").private_key.public_key()
    data: bytes = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return data


def _encrypted() -> bytes:
    return _pem(pooled_key("ES256").private_key, serialization.BestAvailableEncryption(b"secret"))


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (lambda: b"", "holds no PEM private key"),
        (lambda: b"not a key at all\n", "holds no PEM private key"),
        (lambda: b"\xff\xfe\x00garbage", "holds no PEM private key"),
        (_public, "holds no PEM private key"),
        (_encrypted, "holds an encrypted private key"),
        (_dsa, "the key is of an unsupported type"),
        (lambda: _pem(x25519.X25519PrivateKey.generate()), "the key is of an unsupported type"),
        (lambda: _pem(ec.generate_private_key(ec.SECP256K1())), "the key is of an unsupported type"),
        (_weak_rsa, "is a 1024-bit RSA key, under 2048"),
    ],
    ids=["empty", "text", "binary", "public-key", "encrypted", "dsa", "x25519", "secp256k1", "rsa-1024"],
)
def test_load_key_refuses_a_file_without_a_supported_private_key(
    tmp_path: Path, content: Callable[[], bytes], says: str
) -> None:
    path = tmp_path / "key.pem"
    written = content()
    path.write_bytes(written)
    with pytest.raises(KeyFileError, match=says) as caught:
        load_key(path)
    assert str(path) in str(caught.value)
    # A refused file is left as it was, never replaced by a new key.
    assert path.read_bytes() == written


def test_load_key_reports_a_file_it_cannot_write(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="No such file or directory"):
        load_key(tmp_path / "missing" / "key.pem")


def test_load_key_reports_a_directory_given_as_the_file(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="Is a directory"):
        load_key(tmp_path)


def test_algorithm_of_names_no_algorithm_for_a_key_agreement_key() -> None:
    with pytest.raises(KeyFileError, match="unsupported type"):
        algorithm_of(x25519.X25519PrivateKey.generate())


def test_write_once_keeps_the_file_another_process_wrote_first(tmp_path: Path) -> None:
    path = tmp_path / "secret"

    def make() -> bytes:
        # Another process links its file while this one is still writing.
        path.write_bytes(b"first")
        return b"second"

    assert write_once(path, make) == b"first"
    assert write_once(path, lambda: b"third") == b"first"
    assert [p.name for p in tmp_path.iterdir()] == ["secret"]


def test_write_once_creates_the_file_for_its_owner_only_whatever_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        write_once(tmp_path / "secret", lambda: b"x")
    finally:
        os.umask(previous)
    assert (tmp_path / "secret").stat().st_mode & 0o777 == 0o600


def test_mint_signs_an_rfc_9068_access_token_with_the_key(tmp_path: Path) -> None:
    key = load_key(tmp_path / "key.pem")
    clock = Clock(1_800_000_000.0)
    with use_clock(clock):
        token = mint(key, issuer="http://127.0.0.1:9", audience="api", subject="me", scopes=["a", "b"], lifetime=60)
    header = jwt.get_unverified_header(token)
    assert (header["alg"], header["kid"], header["typ"]) == ("ES256", key.kid, "at+jwt")
    claims = jwt.decode(token, key.private_key.public_key(), algorithms=["ES256"], audience="api",
                        options={"verify_exp": False, "verify_iat": False})
    assert {name: claims[name] for name in ("iss", "aud", "sub", "client_id", "iat", "exp", "scope")} == {
        "iss": "http://127.0.0.1:9",
        "aud": "api",
        "sub": "me",
        "client_id": "me",
        "iat": 1_800_000_000,
        "exp": 1_800_000_060,
        "scope": "a b",
    }
    assert len(claims["jti"]) == 32


def test_mint_leaves_out_an_empty_scope_and_claims_set_to_none(tmp_path: Path) -> None:
    key = load_key(tmp_path / "key.pem")
    token = mint(key, issuer="i", audience="a", subject="s", issued_at=100, claims={"client_id": None, "acr": "1"})
    claims = jwt.decode(token, options={"verify_signature": False})
    assert "scope" not in claims
    assert "client_id" not in claims
    assert (claims["acr"], claims["iat"], claims["exp"]) == ("1", 100, 3700)


def test_documents_publish_the_public_keys_and_where_they_are(tmp_path: Path) -> None:
    keys = [load_key(tmp_path / "es.pem"), load_key(tmp_path / "rs.pem", "RS256")]
    document = jwks_document(keys)
    assert KeySet.from_jwks(document).kids == (keys[0].kid, keys[1].kid)
    assert not {"d", "p", "q"} & {name for jwk in document["keys"] for name in jwk}
    assert discovery_document("http://127.0.0.1:9", "http://127.0.0.1:9/jwks", ("ES256", "RS256")) == {
        "issuer": "http://127.0.0.1:9",
        "jwks_uri": "http://127.0.0.1:9/jwks",
        "id_token_signing_alg_values_supported": ["ES256", "RS256"],
    }
