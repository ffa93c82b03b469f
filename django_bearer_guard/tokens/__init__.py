"""From a request's credential to a :class:`VerifiedToken`."""

from django_bearer_guard.jose.compact import verify_compact

__all__ = ["verify_compact"]
