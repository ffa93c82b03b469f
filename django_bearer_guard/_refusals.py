"""How every face answers a refusal: the status, the RFC 6750 body and the challenge headers.

:func:`answer` turns a library error into an :class:`Answer`; the DRF adapter
(:mod:`django_bearer_guard._drf`) raises it as an ``APIException``, ``@bearer_required`` and the
django-ninja guard send it as a response, so the three faces answer alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django_bearer_guard.challenges import bearer_challenge, dpop_challenge
from django_bearer_guard.conf import get_settings
from django_bearer_guard.exceptions import BearerGuardError, InsufficientScope, UseDPoPNonce
from django_bearer_guard.identity.binding import proof_algorithms
from django_bearer_guard.runtime import get_runtime

__all__ = [
    "MISSING_DESCRIPTION",
    "MISSING_TOKEN",
    "AccessRefused",
    "Answer",
    "answer",
    "metadata_params",
    "missing_answer",
    "missing_challenge",
    "realm",
    "token_dpop_algs",
]

MISSING_TOKEN = "missing_token"  # noqa: S105 - an error code, not a secret
"""The ``error`` of the body for a request without credentials; its challenge has no error code."""

MISSING_DESCRIPTION = "Authentication credentials were not provided."
"""The ``error_description`` of that body: DRF's own sentence, so every face says the same."""


class AccessRefused(Exception):
    """403 ``access_denied``, without a challenge: refused where no token could do better.

    Raised for an issuer outside ``allowed_issuers`` and for a resource that declares no valid
    scopes; ``description`` is safe to show.
    """

    status_code = 403
    error = "access_denied"

    def __init__(self, description: str) -> None:
        self.description = description
        super().__init__(description)


@dataclass(frozen=True)
class Answer:
    """A refusal as plain values: ``status``, the JSON ``body`` and the response ``headers``."""

    status: int
    body: dict[str, str]
    headers: dict[str, str] = field(default_factory=dict)


def realm() -> str:
    """The configured realm; ``"api"`` when the settings cannot be read."""
    try:
        return get_settings().realm
    except Exception:  # the realm must never turn a 401 into a 500
        return "api"


def metadata_params() -> dict[str, str]:
    """``resource_metadata`` for a 401 challenge when ``RESOURCE_METADATA`` is set (RFC 9728 §5.1)."""
    try:
        metadata = get_settings().resource_metadata
    except Exception:  # the challenge must never turn a 401 into a 500
        return {}
    return {} if metadata is None else {"resource_metadata": metadata.url}


def missing_challenge() -> str:
    """The challenge for a request without credentials (RFC 6750 §3.1: no error code)."""
    return bearer_challenge(realm(), **metadata_params())


def missing_answer() -> Answer:
    """401 ``missing_token`` with :func:`missing_challenge`, as DRF answers with the library's handler."""
    body = {"error": MISSING_TOKEN, "error_description": MISSING_DESCRIPTION}
    return Answer(401, body, {"WWW-Authenticate": missing_challenge()})


def answer(error: BearerGuardError | AccessRefused, *, dpop_algs: tuple[str, ...] | None = None) -> Answer:
    """The answer to ``error``: its status, RFC 6750 body and Bearer challenge.

    With ``dpop_algs`` (a request that used the DPoP scheme), the challenge is a ``DPoP`` one
    naming those proof algorithms, and a :class:`~django_bearer_guard.exceptions.UseDPoPNonce`
    carries its nonce in ``DPoP-Nonce`` (RFC 9449 §7.1, §8). An :class:`AccessRefused` has no
    challenge.
    """
    body = {"error": error.error, "error_description": error.description}
    if isinstance(error, AccessRefused):
        return Answer(error.status_code, body)
    # RFC 6750 §3.1: a 403 insufficient_scope names the scope the resource needs.
    scope = " ".join(error.scopes) if isinstance(error, InsufficientScope) else None
    extra = error.challenge_params()
    if error.status_code == 401:
        extra.update(metadata_params())
    if dpop_algs is None:
        challenge = bearer_challenge(realm(), error.error, error.description, scope, **extra)
        return Answer(error.status_code, body, {"WWW-Authenticate": challenge})
    challenge = dpop_challenge(realm(), dpop_algs, error.error, error.description, scope, **extra)
    headers = {"WWW-Authenticate": challenge}
    if isinstance(error, UseDPoPNonce):
        headers["DPoP-Nonce"] = error.nonce
    return Answer(error.status_code, body, headers)


def token_dpop_algs(token: Any) -> tuple[str, ...] | None:
    """The proof algorithms of a DPoP challenge for a request authenticated with ``token``, or
    ``None`` when it did not prove a DPoP key (its refusals keep the Bearer challenge)."""
    binding = getattr(token, "binding", None)
    if binding is None or "jkt" not in binding.methods:
        return None
    try:
        issuer = get_runtime().issuers.get(token.issuer)
    except Exception:  # the issuer left the trusted set since: offer every proof algorithm
        issuer = None
    return proof_algorithms(issuer)
