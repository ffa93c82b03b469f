"""A session-wide pool of signing keys, and every algorithm the suite signs with."""

from __future__ import annotations

from django_bearer_guard.testing import SigningKey, generate_key

ALL_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA")
_KEY_POOL: dict[str, list[SigningKey]] = {}


def pooled_key(alg: str, index: int = 0) -> SigningKey:
    """A key generated once per test session (RSA key generation is slow)."""
    pool = _KEY_POOL.setdefault(alg, [])
    while len(pool) <= index:
        pool.append(generate_key(alg, kid=f"{alg.lower()}-pool-{len(pool)}"))
    return pool[index]
