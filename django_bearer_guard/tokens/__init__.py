"""From a request's credential to a :class:`VerifiedToken`."""

from django_bearer_guard.tokens.jose import verify_compact

__all__ = ["verify_compact"]
