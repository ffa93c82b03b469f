"""DPoP proofs (RFC 9449): the caller holds the private key a DPoP-bound access token names.

:func:`verify_proof` applies the checks of RFC 9449 §4.3 to the ``DPoP`` header of one
request, cheapest first: the signature is verified once, and the replay store (the shared
Django cache) is consulted last, so that only proofs that passed every other check take a
slot in it. Server nonces (§8) are stateless: every worker and host sharing ``SECRET_KEY``
accepts the nonces any of them hands out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import math
import re
import string
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, cast

from django.core.cache import caches
from django.core.cache.backends.dummy import DummyCache
from django.utils.crypto import salted_hmac

from django_bearer_guard import _shared
from django_bearer_guard.conf import GuardSettings
from django_bearer_guard.exceptions import InvalidDPoPProof, InvalidToken, KeySetError, UseDPoPNonce
from django_bearer_guard.jose.algorithms import ASYMMETRIC_ALGORITHMS
from django_bearer_guard.jose.compact import decode_json, parse_compact, verify_signature
from django_bearer_guard.jose.keyset import JsonWebKey, KeySet

__all__ = ["DPoPProof", "access_token_hash", "current_nonce", "nonce_age", "normalize_htu", "verify_proof"]

logger = logging.getLogger("django_bearer_guard")

MAX_JTI_LENGTH = 256
_TYPES = frozenset({"dpop+jwt", "application/dpop+jwt"})
_SEPARATOR = re.compile(r"[\s,]")
_REPLAY_PREFIX = "bearer_guard:dpop-jti:v1:"
_NONCE_SALT = "django_bearer_guard.dpop-nonce"
_NONCE = re.compile(r"[A-Za-z0-9_-]{32}")
# Parsed proof keys, so a client's key is parsed once per process. Bounded and cleared when
# full: keys sent by an attacker can only churn it; long JWKs are parsed every time.
_KEY_MEMO_SIZE = 1024
_KEY_MEMO_MAX_LENGTH = 2048
_proof_keys: dict[str, tuple[JsonWebKey, str]] = {}

# RFC 3986: the characters a URI may hold (anything else is not a URI: refused, not repaired).
_URI_CHARACTERS = re.compile(r"[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-]*")
_URI = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<authority>[^/?#]*)(?P<path>[^?#]*)")
_HOST_PORT = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~-]+)(?::(?P<port>[0-9]{0,5}))?")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class DPoPProof:
    """A verified DPoP proof: the thumbprint of its key, its ``jti`` and ``iat``.

    ``nonce_is_stale`` is true when the proof's server nonce is valid but from the previous
    period: the response should then carry a fresh ``DPoP-Nonce``.
    """

    jkt: str
    jti: str
    iat: float
    nonce_is_stale: bool


def access_token_hash(access_token: str) -> str:
    """The ``ath`` of ``access_token``: base64url, unpadded, of the SHA-256 of its ASCII bytes.

    Raises ``UnicodeEncodeError`` (a ``ValueError``) for a token that is not ASCII.
    """
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _nonce_mac(period: int) -> bytes:
    return salted_hmac(_NONCE_SALT, str(period), algorithm="sha256").digest()[:16]


def current_nonce(now: float, lifetime: int) -> str:
    """The server nonce of the period holding ``now`` (periods are ``lifetime`` seconds long).

    A nonce is the period number and a MAC of it under ``SECRET_KEY``, so it needs no storage.
    """
    period = math.floor(now / lifetime)
    return base64.urlsafe_b64encode(period.to_bytes(8, "big") + _nonce_mac(period)).decode("ascii")


def nonce_age(nonce: object, now: float, lifetime: int) -> int | None:
    """0 for the nonce of the current period, 1 for the previous one, ``None`` for anything else.

    Anything else is a value that is not a nonce of this server: not a string, the wrong
    length, a bad MAC (forged, or made with another ``SECRET_KEY``), too old or from the future.
    """
    if not isinstance(nonce, str) or not _NONCE.fullmatch(nonce):
        return None
    raw = base64.urlsafe_b64decode(nonce)
    period = int.from_bytes(raw[:8], "big")
    age = math.floor(now / lifetime) - period
    if age not in (0, 1) or not hmac.compare_digest(raw[8:], _nonce_mac(period)):
        return None
    return age


def _percent(match: re.Match[str]) -> str:
    # RFC 3986 §6.2.2.1-2: unreserved characters decoded, other octets in upper-case hex.
    char = chr(int(match[1], 16))
    return char if char in _UNRESERVED else "%" + match[1].upper()


def _remove_dot_segments(path: str) -> str:
    # RFC 3986 §5.2.4, segment by segment: ``path`` starts with "/".
    output: list[str] = []
    segments = path.split("/")[1:]
    last = len(segments) - 1
    for index, segment in enumerate(segments):
        if segment in (".", ".."):
            if segment == ".." and output:
                output.pop()
            if index == last:
                output.append("")
        else:
            output.append(segment)
    return "/" + "/".join(output)


def normalize_htu(url: str) -> str:
    """``url`` in the normal form its ``htu`` is compared in (RFC 9449 §4.3, RFC 3986 §6.2.2-6.2.3).

    The scheme (``http`` or ``https`` only) and host are put in lower case, an IPv6 host in
    its compressed form, the scheme's default port is dropped, an empty path becomes ``/``,
    percent-encoding is normalised (unreserved characters decoded, hex digits in upper case)
    and dot segments are removed; the query and fragment are dropped. Raises ``ValueError``
    (and nothing else) for a URL that is not such a URI or carries user information.
    """
    if not _URI_CHARACTERS.fullmatch(url):
        raise ValueError("the URL holds characters a URI cannot hold")
    match = _URI.match(url)
    if match is None:
        raise ValueError("not an absolute URI with an authority")
    scheme = match["scheme"].lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError("the scheme is neither http nor https")
    authority = match["authority"]
    if "@" in authority:
        # A user name in the authority could make two spellings of one URL look different.
        raise ValueError("the URL carries user information")
    host_port = _HOST_PORT.fullmatch(authority)
    if host_port is None:
        raise ValueError("the authority is not host[:port]")
    host = host_port["host"].lower()
    if host.startswith("["):
        host = f"[{ipaddress.IPv6Address(host[1:-1]).compressed}]"
    default = _DEFAULT_PORTS[scheme]
    port = int(host_port["port"]) if host_port["port"] else default
    if not 0 < port < 65536:
        raise ValueError("the port is out of range")
    path = match["path"]
    if _BAD_PERCENT.search(path):
        raise ValueError("the path has a malformed percent-encoding")
    path = _remove_dot_segments(_PERCENT.sub(_percent, path)) if path else "/"
    return f"{scheme}://{host}{'' if port == default else f':{port}'}{path}"


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))


def _proof_key(jwk: Mapping[str, Any]) -> tuple[JsonWebKey, str]:
    """The parsed key of a proof's ``jwk`` header and its RFC 7638 thumbprint."""
    canonical = json.dumps(jwk, sort_keys=True, separators=(",", ":"))
    memo = _proof_keys.get(canonical)
    if memo is not None:
        return memo
    try:
        # RFC 9449 §4.3 (7): a public asymmetric key; private members, secrets and weak keys refused.
        keys = KeySet.from_jwks(jwk, allow_symmetric=False).keys
    except KeySetError as exc:
        raise InvalidDPoPProof(f"the proof's jwk is refused: {exc.reason}") from None
    if "keys" in jwk or len(keys) != 1:
        raise InvalidDPoPProof("the proof's jwk is a key set, not one key")
    # A public asymmetric key always has a thumbprint.
    entry = (keys[0], cast(str, keys[0].thumbprint()))
    if len(canonical) <= _KEY_MEMO_MAX_LENGTH:
        if len(_proof_keys) >= _KEY_MEMO_SIZE:
            _proof_keys.clear()
        _proof_keys[canonical] = entry
    return entry


def _check_claims(claims: Mapping[str, Any], *, access_token: str, method: str, url: str,
                  settings: GuardSettings, now: float) -> tuple[str, float]:
    """The ``jti`` and ``iat`` of a proof whose claims fit this request (RFC 9449 §4.2, §4.3 (8, 9, 11, 12))."""
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
        raise InvalidDPoPProof(f"'jti' must be a string of 1 to {MAX_JTI_LENGTH} characters")
    htm = claims.get("htm")
    # §4.3 (8): a proof captured on a GET must not authorise a DELETE.
    if not isinstance(htm, str) or htm != method:
        raise InvalidDPoPProof(f"'htm' {htm!r:.40} is not the request method {method!r:.40}",
                               description="The DPoP proof was made for another request.")
    iat = claims.get("iat")
    if isinstance(iat, bool) or not isinstance(iat, (int, float)):
        raise InvalidDPoPProof("'iat' must be a number")
    # §4.3 (11), §11.1: a proof is usable for a short while only, and never before it was made.
    if iat < now - settings.dpop_proof_max_age - settings.leeway:
        raise InvalidDPoPProof(f"'iat' {iat!r:.40} is more than DPOP_PROOF_MAX_AGE ago",
                               description="The DPoP proof is too old.")
    if iat > now + settings.leeway:
        raise InvalidDPoPProof(f"'iat' {iat!r:.40} is in the future",
                               description="The DPoP proof was made in the future.")
    htu = claims.get("htu")
    # §4.3 (9): a proof captured at another resource (or server) must not work here.
    if not isinstance(htu, str) or "?" in htu or "#" in htu:
        raise InvalidDPoPProof("'htu' must be a URL without query and fragment")
    request_uri = _URI.match(url)
    if request_uri is not None and {".", ".."} & set(request_uri["path"].split("/")):
        # The request's path is taken as routed: a proof for /b must not pass at /a/../b.
        raise InvalidDPoPProof(
            "the request path has dot segments", description="The DPoP proof was made for another request."
        )
    try:
        matches = normalize_htu(htu) == normalize_htu(url)
    except ValueError as exc:
        raise InvalidDPoPProof(f"'htu' or the request URL is unusable: {exc}") from None
    if not matches:
        raise InvalidDPoPProof(f"'htu' {htu!r:.200} is not the request URL {url!r:.200}",
                               description="The DPoP proof was made for another request.")
    ath = claims.get("ath")
    # §4.3 (12): a proof made for another access token must not pass with this one.
    if not isinstance(ath, str) or not access_token.isascii() or not _same(ath, access_token_hash(access_token)):
        raise InvalidDPoPProof("'ath' is missing or is not the hash of the access token",
                               description="The DPoP proof was made for another access token.")
    return jti, float(iat)


def verify_proof(
    value: str | None,
    *,
    access_token: str,
    method: str,
    url: str,
    jkt: str,
    algorithms: Collection[str],
    settings: GuardSettings,
    now: float,
) -> DPoPProof:
    """Verify the ``DPoP`` header ``value`` of a request made with ``access_token``.

    ``method`` and ``url`` are the request's method and URL as the server sees it (its query
    is ignored), ``jkt`` the access token's ``cnf.jkt`` and ``algorithms`` the issuer's
    allowlist (only its asymmetric members count). Follows RFC 9449 §4.3: exactly one proof,
    ``typ`` ``dpop+jwt``, an allowed asymmetric ``alg``, a public ``jwk`` whose thumbprint is
    ``jkt``, a valid signature, ``jti``, ``htm``, ``htu``, ``iat`` (within
    ``DPOP_PROOF_MAX_AGE`` and ``LEEWAY``) and ``ath`` for this request, the server nonce when
    ``DPOP_NONCE`` is on, and a ``jti`` not seen before by any process sharing the cache.

    Raises :class:`~django_bearer_guard.exceptions.InvalidDPoPProof`, or
    :class:`~django_bearer_guard.exceptions.UseDPoPNonce` carrying the nonce to use.
    """
    if not value:
        raise InvalidDPoPProof("the request has no DPoP proof", description="A DPoP proof is required.")
    if len(value) > settings.max_token_bytes:
        raise InvalidDPoPProof(f"the DPoP proof is longer than MAX_TOKEN_BYTES ({settings.max_token_bytes})")
    # §4.3 (1): a WSGI server joins two DPoP headers with a comma.
    if _SEPARATOR.search(value):
        raise InvalidDPoPProof("the request has more than one DPoP header",
                               description="The request must carry exactly one DPoP proof.")
    try:
        jws = parse_compact(value, embedded_key=True)
    except InvalidToken as exc:
        raise InvalidDPoPProof(f"the DPoP proof is malformed: {exc.reason}") from None
    typ = jws.header.get("typ")
    # §4.3 (4), RFC 8725 §3.11: an access token or ID token must not pass for a proof.
    if not isinstance(typ, str) or typ.lower() not in _TYPES:
        raise InvalidDPoPProof(f"the proof's typ {typ!r:.40} is not dpop+jwt")
    alg = jws.alg
    # §4.3 (5): asymmetric and allowed by the issuer; never none, never a MAC anyone could make.
    if alg not in ASYMMETRIC_ALGORITHMS or alg not in algorithms:
        raise InvalidDPoPProof(f"the proof's alg {alg!r:.40} is not an allowed asymmetric algorithm")
    key, thumbprint = _proof_key(jws.header["jwk"])
    # §4.3 (12), §6.1: a proof by any other key must not use a token bound to this one.
    if not _same(thumbprint, jkt):
        raise InvalidDPoPProof("the proof's key is not the one in the token's cnf jkt")
    try:
        verify_signature(jws, key)
    except InvalidToken as exc:
        raise InvalidDPoPProof(f"the proof's signature: {exc.reason}") from None
    try:
        claims = decode_json(jws.payload, "proof payload")
    except InvalidToken as exc:
        raise InvalidDPoPProof(exc.reason) from None
    jti, iat = _check_claims(claims, access_token=access_token, method=method, url=url, settings=settings, now=now)
    stale = False
    if settings.dpop_nonce:
        age = nonce_age(claims.get("nonce"), now, settings.dpop_nonce_lifetime)
        # §4.3 (10), §8: a nonce bounds how long a proof made in advance (by a compromised client) stays usable.
        if age is None:
            reason = "the proof's nonce is not a current server nonce" if "nonce" in claims else "no nonce in the proof"
            raise UseDPoPNonce(reason, nonce=current_nonce(now, settings.dpop_nonce_lifetime))
        stale = age == 1
    _remember(thumbprint, jti, settings)
    return DPoPProof(jkt=thumbprint, jti=jti, iat=iat, nonce_is_stale=stale)


def _remember(jkt: str, jti: str, settings: GuardSettings) -> None:
    """Record the proof in the shared cache, or refuse it as a replay (§11.1)."""
    key = _REPLAY_PREFIX + hashlib.sha256(f"{jkt}\n{jti}".encode("utf-8", "surrogatepass")).hexdigest()
    # Long enough to outlive the proof: iat may be LEEWAY ahead, and is accepted MAX_AGE + LEEWAY after.
    timeout = math.ceil(settings.dpop_proof_max_age + 2 * settings.leeway) + 1
    try:
        if isinstance(caches[settings.cache_alias], DummyCache):
            # A cache that stores nothing would accept every replay.
            raise TypeError("a DummyCache remembers nothing")
        added = _shared.call(settings.cache_alias, settings.cache_timeout, lambda cache: cache.add(key, 1, timeout))
    except _shared.SharedCacheUnavailable:
        # Fail closed: without the replay store a captured proof could be replayed. The outage
        # itself is logged once, when it starts; the refusal's reason says why.
        raise InvalidDPoPProof("the DPoP replay store is unusable") from None
    except Exception as exc:
        logger.error("bearer_guard: DPoP proof refused, the replay store (cache %r) is unusable: %s: %s",
                     settings.cache_alias, type(exc).__name__, exc)
        raise InvalidDPoPProof("the DPoP replay store is unusable") from None
    if not added:
        raise InvalidDPoPProof("the DPoP proof's jti was already used", description="The DPoP proof was already used.")
