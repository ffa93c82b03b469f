"""Signals sent by the authentication class.

``token_validated(sender, token, request)`` after a token passed every check;
``token_rejected(sender, error, reason, request)`` with the library error and its
detailed reason when a credential is refused; ``keys_fetched(sender, issuer, outcome, kids,
error)`` after every fetch of an issuer's keys (``outcome`` ``"fetched"`` or ``"failed"``).
"""

from __future__ import annotations

from django.dispatch import Signal

__all__ = ["keys_fetched", "token_rejected", "token_validated"]

# Cached per sender, so sending on every request costs nothing when nobody listens.
token_validated = Signal(use_caching=True)
token_rejected = Signal(use_caching=True)
keys_fetched = Signal()
