"""Issuer key sets: parsing, fetching, caching and rotation."""

from django_bearer_guard.jose.keyset import JsonWebKey, KeySet

__all__ = ["JsonWebKey", "KeySet"]
