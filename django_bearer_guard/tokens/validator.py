"""The whole validation of a raw token: parse, issuer, key, signature, claims."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from django_bearer_guard import _clock
from django_bearer_guard.exceptions import (
    InvalidToken,
    KeysUnavailable,
    MissingClaim,
    TokenTooLarge,
    UnverifiedBinding,
)
from django_bearer_guard.issuers.config import IssuerConfig
from django_bearer_guard.jose.compact import check_algorithm, decode_json, parse_compact, verify_signature
from django_bearer_guard.runtime import Runtime, get_runtime
from django_bearer_guard.tokens.claims import check_claims, check_type
from django_bearer_guard.tokens.scopes import extract_scopes
from django_bearer_guard.tokens.trace import Trace
from django_bearer_guard.tokens.verified import Binding, VerifiedToken
from django_bearer_guard.tokens.workloads import workload_from

__all__ = ["Binder", "TokenValidator"]


class Binder(Protocol):
    """Checks a verified token against its request (:class:`~django_bearer_guard.identity.binding.RequestBinder`)."""

    def __call__(
        self, claims: Mapping[str, Any], issuer: IssuerConfig, raw: str, workload: str | None
    ) -> Binding | None:
        """The :class:`Binding` the request proves, ``None`` for a plain Bearer token, or raise."""


class TokenValidator:
    """Validates raw compact tokens against the trusted issuers of ``runtime``.

    Without ``runtime``, each :meth:`validate` uses the current one
    (:func:`~django_bearer_guard.runtime.get_runtime`), so a validator kept for the life of the
    process follows changed settings; with one, it validates against that runtime only.
    """

    def __init__(self, runtime: Runtime | None = None) -> None:
        if runtime is not None and not isinstance(runtime, Runtime):
            raise TypeError("TokenValidator takes a Runtime (django_bearer_guard.runtime.get_runtime()), not settings")
        self._runtime = runtime

    @property
    def runtime(self) -> Runtime:
        """The runtime the next :meth:`validate` uses."""
        return self._runtime or get_runtime()

    def validate(  # noqa: C901, PLR0912, PLR0915 - the checks in their order, each reporting to a trace
        self, raw: str, *, binder: Binder | None = None, trace: Trace | None = None
    ) -> VerifiedToken:
        """Return the :class:`VerifiedToken` for ``raw`` or raise an ``InvalidToken`` subclass.

        ``binder`` checks a sender-constrained token against the request that carried it; without
        one, a token with ``cnf`` or of an issuer with a ``binding`` is refused
        (:class:`~django_bearer_guard.exceptions.UnverifiedBinding`). With ``trace``, every check
        reports itself to it as it passes, and the claims are judged at ``trace.now`` when set (the
        token checker, :mod:`django_bearer_guard.checker`).
        """
        runtime = self.runtime
        settings = runtime.settings
        try:
            if len(raw) > settings.max_token_bytes:
                raise TokenTooLarge(f"token of {len(raw)} characters, over {settings.max_token_bytes}")
            jws = parse_compact(raw)
            claims = decode_json(jws.payload, "payload")
            if trace is not None:
                trace.header, trace.claims = jws.header, claims
                trace.passed("compact form and header", f"a signed compact JWS, alg {jws.alg}, kid {jws.kid!r}")

            iss = claims.get("iss")
            if not isinstance(iss, str) or not iss:
                raise MissingClaim("'iss' is required")
            issuer = runtime.issuers.get(iss)
            if issuer.problems:
                # A misconfigured issuer fails closed; the check framework reports why.
                raise KeysUnavailable(f"issuer {iss!r} is misconfigured: {issuer.problems[0].msg}")
            if trace is not None:
                trace.issuer = issuer
                trace.passed("issuer trusted", f"{iss!r}, named {issuer.name!r}" if issuer.name != iss else repr(iss))
            check_algorithm(jws.alg, issuer.algorithms)
            if trace is not None:
                trace.passed("algorithm allowed", f"{jws.alg}, one of {list(issuer.algorithms)}")
            key = runtime.keys.get_key(issuer, jws.kid, jws.alg)
            if trace is not None:
                thumbprint = key.thumbprint()
                shown = f"thumbprint {thumbprint}" if thumbprint else "the shared secret"
                trace.passed("key found", f"kid {key.kid!r}, {key.kty} key, {shown}")
            verify_signature(jws, key)
            if trace is not None:
                trace.passed("signature", f"verified with {jws.alg}")
        except InvalidToken as error:
            # Issuer and key enumeration: nothing unverified earns more than the generic description.
            error.description = InvalidToken.default_description
            raise

        # Only now, with the signature verified, are the claims worth reading.
        if issuer.required_typ is not None:
            check_type(jws.header, issuer.required_typ)
        if trace is not None:
            required = issuer.required_typ
            trace.passed("typ", f"{jws.header.get('typ')!r}, as required" if required else "not required")
        leeway = settings.leeway if issuer.leeway is None else issuer.leeway
        now = _clock.now()
        if trace is not None:
            # The token checker may judge a token at another moment.
            now = now if trace.now is None else trace.now
            trace.now, trace.leeway = now, leeway
        expires_at = check_claims(claims, issuer, now=now, leeway=leeway, trace=trace)
        scopes = extract_scopes(claims, issuer)
        if trace is not None:
            trace.passed("scopes", " ".join(sorted(scopes)) or "none")
        workload = workload_from(claims, issuer)
        if trace is not None:
            trace.passed("workload", repr(workload) if workload is not None else "none")
        binding: Binding | None = None
        if binder is not None:
            binding = binder(claims, issuer, raw, workload)
        elif "cnf" in claims or issuer.binding is not None:
            # RFC 8705 §3, RFC 9449 §7: a sender-constrained token is never accepted as a bare Bearer token.
            raise UnverifiedBinding(
                "the token is sender-constrained and is verified only against the request that carries it"
            )
        if trace is not None:
            proved = "plain Bearer token" if binding is None else "proved by " + ", ".join(sorted(binding.methods))
            trace.passed("binding", proved)
        jti = claims.get("jti")
        return VerifiedToken(
            claims=claims,
            header=jws.header,
            issuer=issuer.issuer,
            scopes=scopes,
            workload=workload,
            token_id=jti if isinstance(jti, str) else None,
            expires_at=expires_at,
            binding=binding,
        )
