"""Is the caller the one the token is bound to? Workload identity, RFC 8705 and RFC 9449.

A :class:`RequestBinder` is handed to ``TokenValidator.validate(raw, binder=...)`` with what the
request presented (:class:`Presentation`); once the signature and the claims hold, the validator
calls it, and it either returns the :class:`~django_bearer_guard.tokens.verified.Binding` that
was proved or raises. The issuer's ``binding`` decides what is required; a ``cnf`` claim is
checked whatever the issuer's ``binding`` says, so a bound token never passes as a bare one.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django_bearer_guard import _clock
from django_bearer_guard.conf import GuardSettings
from django_bearer_guard.exceptions import BindingMismatch, InvalidClaim, UnverifiedBinding
from django_bearer_guard.identity.dpop import current_nonce, verify_proof
from django_bearer_guard.identity.transport import ClientCertificate, read_certificate
from django_bearer_guard.issuers.config import IssuerConfig
from django_bearer_guard.jose.algorithms import ASYMMETRIC_ALGORITHMS
from django_bearer_guard.tokens.verified import Binding

__all__ = ["CONFIRMATION_METHODS", "Presentation", "RequestBinder", "proof_algorithms"]

logger = logging.getLogger("django_bearer_guard")

CONFIRMATION_METHODS = frozenset({"x5t#S256", "jkt"})
"""The ``cnf`` members this library verifies (RFC 8705 §3.1, RFC 9449 §6.1)."""


def proof_algorithms(issuer: IssuerConfig | None) -> tuple[str, ...]:
    """The algorithms a DPoP proof may use (a challenge's ``algs``): the issuer's asymmetric ones.

    Without an issuer (a refusal before the token's issuer is known), every asymmetric algorithm
    the library supports, so the challenge tells nothing about which issuers are trusted.
    """
    allowed = ASYMMETRIC_ALGORITHMS if issuer is None else ASYMMETRIC_ALGORITHMS & set(issuer.algorithms)
    return tuple(sorted(allowed))


@dataclass(frozen=True)
class Presentation:
    """How a token reached the resource, as plain values.

    ``scheme`` is the Authorization scheme in lower case (``"bearer"`` or ``"dpop"``), ``meta``
    the request's WSGI environ (``request.META``: the ``DPoP`` header, ``REMOTE_ADDR`` and the
    certificate headers), and ``url()`` the absolute request URL a DPoP proof's ``htu`` must name;
    it is only called for a DPoP proof.
    """

    scheme: str
    method: str
    url: Callable[[], str]
    meta: Mapping[str, Any]


class RequestBinder:
    """Checks one request's token against what the request proves about its sender.

    After a call, :attr:`issuer` is the issuer whose token was checked (for the ``algs`` of a
    DPoP challenge) and :attr:`fresh_nonce` a DPoP nonce the response should carry, if any.
    """

    def __init__(self, presentation: Presentation, settings: GuardSettings) -> None:
        self.presentation = presentation
        self.settings = settings
        self.issuer: IssuerConfig | None = None
        self.fresh_nonce: str | None = None

    def proof_algorithms(self) -> tuple[str, ...]:
        """The algorithms a DPoP proof may use: the checked issuer's, else every asymmetric one."""
        return proof_algorithms(self.issuer)

    def __call__(  # noqa: PLR0912 - one rule per confirmation method and binding mode
        self, claims: Mapping[str, Any], issuer: IssuerConfig, raw: str, workload: str | None
    ) -> Binding | None:
        """The binding ``raw`` (with ``claims``, of ``issuer``) proves, or raise an ``InvalidToken``."""
        self.issuer = issuer
        presentation, mode = self.presentation, issuer.binding
        x5t, jkt = _confirmation(claims)
        if mode == "cnf" and x5t is None:
            raise UnverifiedBinding(
                "the issuer's binding is 'cnf', and the token has no cnf x5t#S256",
                description="The access token must be bound to the client certificate.",
            )
        if mode == "dpop" and jkt is None:
            raise UnverifiedBinding(
                "the issuer's binding is 'dpop', and the token has no cnf jkt",
                description="The access token must be DPoP-bound.",
            )
        if presentation.scheme == "dpop" and jkt is None:
            # RFC 9449 §7.1: the DPoP scheme is for DPoP-bound tokens only.
            raise UnverifiedBinding(
                "a token without cnf jkt sent with the DPoP scheme", description="The access token is not DPoP-bound."
            )
        if presentation.scheme != "dpop" and jkt is not None:
            # RFC 9449 §7.1: a stolen DPoP-bound token must not work as a plain Bearer token.
            raise BindingMismatch(
                "a DPoP-bound token sent with the Bearer scheme",
                description="The access token is DPoP-bound: send it with the DPoP scheme and a proof.",
            )
        if x5t is None and jkt is None and mode is None:
            return None
        now = _clock.now()

        methods: set[str] = set()
        certificate: ClientCertificate | None = None
        if x5t is not None or mode == "workload":
            certificate = self._certificate(now)
            if x5t is not None:
                # RFC 8705 §3: the certificate of this connection is the one the token was issued to.
                if not hmac.compare_digest(x5t.encode(), certificate.thumbprint.encode()):
                    raise BindingMismatch("the client certificate is not the one in cnf x5t#S256")
                methods.add("x5t#S256")
            if mode == "workload":
                # A token replayed by another workload: its certificate names another SPIFFE ID.
                if certificate.spiffe_id is None:
                    raise BindingMismatch("the client certificate has no SPIFFE ID (exactly one URI SAN)")
                if workload != certificate.spiffe_id:
                    raise BindingMismatch(
                        f"the token names workload {workload!r:.200}, the client certificate {certificate.spiffe_id!r}"
                    )
                methods.add("workload")
        if jkt is not None:
            proof = verify_proof(
                presentation.meta.get("HTTP_DPOP"),
                access_token=raw,
                method=presentation.method,
                url=presentation.url(),
                jkt=jkt,
                algorithms=issuer.algorithms,
                settings=self.settings,
                now=now,
            )
            if proof.nonce_is_stale:
                self.fresh_nonce = current_nonce(now, self.settings.dpop_nonce_lifetime)
            methods.add("jkt")
        return Binding(
            methods=frozenset(methods),
            certificate_thumbprint=certificate.thumbprint if certificate else None,
            spiffe_id=certificate.spiffe_id if certificate else None,
            jkt=jkt,
        )

    def _certificate(self, now: float) -> ClientCertificate:
        transport = self.settings.transport_identity
        if transport.source is None:
            # No silent downgrade: a certificate-bound token needs a certificate to compare.
            raise UnverifiedBinding(
                "the token is bound to a client certificate, and TRANSPORT_IDENTITY['source'] is None"
            )
        certificate, why = read_certificate(
            self.presentation.meta, transport, now=now, leeway=self.settings.leeway
        )
        if certificate is None:
            raise BindingMismatch(f"no client certificate identifies the caller: {why}")
        return certificate


def _confirmation(claims: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """``cnf``'s ``x5t#S256`` and ``jkt``; a ``cnf`` with anything else is refused."""
    if "cnf" not in claims:
        return None, None
    cnf = claims["cnf"]
    if not isinstance(cnf, Mapping) or not cnf:
        raise InvalidClaim("'cnf' must be a non-empty JSON object")
    unknown = set(cnf) - CONFIRMATION_METHODS
    if unknown:
        # RFC 7800 §3: a confirmation method the resource cannot check must not be ignored.
        raise UnverifiedBinding(f"'cnf' uses confirmation methods {sorted(unknown)!r:.200} that are not verified here")
    values = []
    for name in ("x5t#S256", "jkt"):
        value = cnf.get(name)
        # A member that is present but null must not read as absent: that would be a plain Bearer token.
        if name in cnf and (not isinstance(value, str) or not value or len(value) > 128):
            raise InvalidClaim(f"cnf {name} must be a non-empty base64url string")
        values.append(value)
    return values[0], values[1]
