"""Fuzz the key-set parser: strict JSON, then ``KeySet.from_jwks`` (``jose/keyset.py``).

Input: one byte (bit 0: ``allow_symmetric``), then the JWKS document as fetched. Refusals:
``JSONError`` for a document that is not a strict JSON object, and the ``KeySetError`` tree.
Properties: every key kept may verify at least one supported algorithm and nothing else; no two
keys share a ``kid``; symmetric and asymmetric keys never mix (and no symmetric key without
``allow_symmetric``); a public key carries no private member and has an RFC 7638 thumbprint, a
secret never has one; ``find`` returns a key only for an algorithm it may verify.
"""

from __future__ import annotations

from fuzz._driver import configure_django, fuzz, library_imports

configure_django()
with library_imports(__name__):
    from django_bearer_guard._json import JSONError, loads_object
    from django_bearer_guard.exceptions import KeySetError
    from django_bearer_guard.jose.algorithms import ALGORITHMS
    from django_bearer_guard.jose.keyset import MAX_KEYS, KeySet

# RFC 7518 §6.2.2, §6.3.2: the private members of EC, OKP and RSA keys.
_PRIVATE = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth"})


def test_one_input(data: bytes) -> None:
    """Parse one JWKS document and check the key set's contract."""
    if not data:
        return
    allow_symmetric = bool(data[0] & 1)
    try:
        document = loads_object(data[1:])
        keyset = KeySet.from_jwks(document, allow_symmetric=allow_symmetric)
    except (JSONError, KeySetError):
        return
    keys = keyset.keys
    assert 0 < len(keys) == len(keyset) <= MAX_KEYS
    kids = [key.kid for key in keys if key.kid is not None]
    assert len(kids) == len(set(kids)), kids
    symmetric = {key.kty == "oct" for key in keys}
    assert len(symmetric) == 1
    assert allow_symmetric or symmetric == {False}
    for key in keys:
        assert key.algorithms and key.algorithms <= ALGORITHMS.keys(), key.algorithms
        assert all(ALGORITHMS[alg].kty == key.kty for alg in key.algorithms)
        thumbprint = key.thumbprint()
        if key.kty == "oct":
            assert thumbprint is None
            assert set(key.public_jwk) <= {"kty", "kid"}
        else:
            assert isinstance(thumbprint, str) and len(thumbprint) == 43
            assert not _PRIVATE.intersection(key.public_jwk), sorted(key.public_jwk)
        for alg in ALGORITHMS:
            found = keyset.find(key.kid, alg)
            assert found is None or alg in found.algorithms
            if key.kid is not None:
                assert (found is key) == (alg in key.algorithms)


if __name__ == "__main__":
    fuzz(test_one_input)
