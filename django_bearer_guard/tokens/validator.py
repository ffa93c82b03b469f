"""The whole validation of a raw token: parse, issuer, key, signature, claims.

Accepted tokens are kept in the runtime's verified-token cache (``TOKEN_CACHE_SIZE``), keyed by
the SHA-256 of the whole raw token. A hit skips parsing and the signature only: the issuer must
still be trusted with the same configuration, the signing key still in its current key set, the
time claims hold at this moment, and the binding is checked against this request.
:data:`cache_observer`, when set, hears of every lookup in that cache (the metrics of
:mod:`django_bearer_guard.contrib.prometheus`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
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
from django_bearer_guard.jose.keyset import JsonWebKey
from django_bearer_guard.runtime import Runtime, get_runtime
from django_bearer_guard.tokens.claims import check_claims, check_times, check_token_type, time_claims
from django_bearer_guard.tokens.scopes import extract_scopes
from django_bearer_guard.tokens.trace import Trace
from django_bearer_guard.tokens.verified import Binding, VerifiedToken
from django_bearer_guard.tokens.workloads import workload_from

__all__ = ["Binder", "TokenValidator", "cache_observer"]

cache_observer: Callable[[bool], None] | None = None
"""Called at every lookup in the verified-token cache: ``True`` when it found the token, else ``False``."""


class Binder(Protocol):
    """Checks a verified token against its request (:class:`~django_bearer_guard.identity.binding.RequestBinder`)."""

    def __call__(
        self, claims: Mapping[str, Any], issuer: IssuerConfig, raw: str, workload: str | None
    ) -> Binding | None:
        """The :class:`Binding` the request proves, ``None`` for a plain Bearer token, or raise."""


@dataclass(frozen=True, slots=True)
class _Verified:
    """What a full validation established about one raw token (an entry of the token cache)."""

    issuer: IssuerConfig
    kid: str | None
    alg: str
    key: JsonWebKey
    header: Mapping[str, Any]
    claims: dict[str, Any]
    scopes: frozenset[str]
    workload: str | None
    times: tuple[float, float | None, float | None]
    """``exp``, ``nbf`` and ``iat``, checked against the clock at every hit."""


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
        cache = runtime.verified if trace is None else None
        digest: bytes | None = None
        if cache is not None and len(raw) <= settings.max_token_bytes:
            # The whole token, never a prefix: two tokens differing anywhere are two entries.
            digest = hashlib.sha256(raw.encode("utf-8", "surrogatepass")).digest()
            entry = cache.get(digest, _clock.now())
            observer = cache_observer
            if observer is not None:
                observer(entry is not None)
            if entry is not None:
                token = self._revalidate(runtime, entry, raw, binder)
                if token is not None:
                    return token
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
            if trace is None:  # the token checker is a one-off: nothing to prefetch for
                runtime.start_prefetch()
            else:
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
        check_token_type(jws.header, issuer, trace)
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
        # The entry keeps a copy of the claims: the caller may change its own.
        verified = _Verified(issuer, jws.kid, jws.alg, key, jws.header, dict(claims) if digest else claims, scopes,
                             workload, time_claims(claims))
        if cache is not None and digest is not None:
            # Out of the cache at exp (+ leeway), when the token could not pass anyway.
            cache.put(digest, verified, expires_at + leeway)
        return _bound(verified, claims, expires_at, raw=raw, binder=binder, trace=trace)

    def _revalidate(
        self, runtime: Runtime, entry: _Verified, raw: str, binder: Binder | None
    ) -> VerifiedToken | None:
        """The token of a cache hit after what can change is checked again; ``None``: validate it whole."""
        try:
            issuer = runtime.issuers.get(entry.claims["iss"])
            if issuer is not entry.issuer and issuer != entry.issuer:
                return None  # the issuer's configuration changed: everything is checked again
            # A key removed at the issuer (or from an inline set) refuses its tokens at once.
            key = runtime.keys.get_key(issuer, entry.kid, entry.alg)
        except InvalidToken as error:
            error.description = InvalidToken.default_description
            raise
        if key is not entry.key and key != entry.key:
            return None
        leeway = runtime.settings.leeway if issuer.leeway is None else issuer.leeway
        expires_at = check_times(entry.times, now=_clock.now(), leeway=leeway)
        # A copy, so that a view changing request.auth.claims changes nothing for the next request
        # (the header is read-only already).
        return _bound(entry, dict(entry.claims), expires_at, raw=raw, binder=binder, trace=None)


def _bound(
    verified: _Verified, claims: dict[str, Any], expires_at: float, *, raw: str, binder: Binder | None,
    trace: Trace | None,
) -> VerifiedToken:
    """The :class:`VerifiedToken`, once the request proved what a sender-constrained token requires."""
    issuer, workload = verified.issuer, verified.workload
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
    # The token's own iss: a template's tenant, or the exact issuer it equals.
    iss: str = claims["iss"]
    return VerifiedToken(
        claims=claims,
        header=verified.header,
        issuer=iss,
        scopes=verified.scopes,
        workload=workload,
        token_id=jti if isinstance(jti, str) else None,
        expires_at=expires_at,
        binding=binding,
    )
