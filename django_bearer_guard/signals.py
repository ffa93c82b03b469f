"""Signals sent by the authentication class.

``token_validated(sender, token, request)`` after a token passed every check;
``token_rejected(sender, error, reason, request)`` with the library error and its
detailed reason when a credential is refused.
"""

from __future__ import annotations

from django.dispatch import Signal

__all__ = ["token_validated", "token_rejected"]

token_validated = Signal()
token_rejected = Signal()
