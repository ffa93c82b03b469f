"""Each JWS algorithm verifies its own signatures and nothing else (RFC 7518 §3)."""

from __future__ import annotations

import pytest
from jwt.algorithms import get_default_algorithms

from django_bearer_guard.jose.algorithms import ALGORITHMS, ASYMMETRIC_ALGORITHMS
from tests.support.keys import pooled_key

SIGNING_INPUT = b"eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9"
# Every curve and padding the table knows, not only the ones the suite mints with.
KEY_ALGORITHM = {"PS384": "PS256", "PS512": "PS256", "RS384": "RS256", "RS512": "RS256"}


def sign(alg: str, index: int = 0) -> tuple[object, bytes]:
    """The public key of a pooled key for ``alg`` and its signature over SIGNING_INPUT."""
    key = pooled_key(KEY_ALGORITHM.get(alg, alg), index)
    signature = get_default_algorithms()[alg].sign(SIGNING_INPUT, key.private_key)
    return key.private_key.public_key(), signature


@pytest.mark.parametrize("alg", sorted(ASYMMETRIC_ALGORITHMS))
def test_verify_accepts_the_signature_of_the_matching_key(alg: str) -> None:
    public, signature = sign(alg)
    assert ALGORITHMS[alg].verify(SIGNING_INPUT, public, signature)


@pytest.mark.parametrize("alg", sorted(ASYMMETRIC_ALGORITHMS))
def test_verify_with_altered_signing_input_is_false(alg: str) -> None:
    public, signature = sign(alg)
    assert not ALGORITHMS[alg].verify(SIGNING_INPUT + b"x", public, signature)


@pytest.mark.parametrize("alg", sorted(ASYMMETRIC_ALGORITHMS))
def test_verify_with_another_key_of_the_same_type_is_false(alg: str) -> None:
    _, signature = sign(alg)
    other, _ = sign(alg, index=1)
    assert not ALGORITHMS[alg].verify(SIGNING_INPUT, other, signature)


@pytest.mark.parametrize("alg", ["ES256", "ES384", "ES512"])
def test_verify_ecdsa_signature_of_the_wrong_length_is_false(alg: str) -> None:
    # RFC 7518 §3.4: R || S at exactly the curve's size; a DER signature or a truncated one is refused.
    public, signature = sign(alg)
    assert not ALGORITHMS[alg].verify(SIGNING_INPUT, public, signature[:-1])
    assert not ALGORITHMS[alg].verify(SIGNING_INPUT, public, signature + b"\0")
