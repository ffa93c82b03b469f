"""The only reader of ``settings.BEARER_GUARD``.

The dict is parsed on first use into frozen dataclasses, with problems collected for the
system checks instead of raised. ``setting_changed`` drops the parsed value and every
derived cache registered with :func:`on_reload`, so ``override_settings`` works in tests.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured

from django_bearer_guard._resource import ResourceMetadata, parse_resource_metadata
from django_bearer_guard.challenges import TOKEN
from django_bearer_guard.issuers.config import IssuerConfig, Problem, parse_issuer

__all__ = ["DEFAULTS", "GuardSettings", "TransportIdentity", "UserLookup", "get_settings", "on_reload", "reload"]

DEFAULTS: dict[str, Any] = {
    "ISSUERS": [],
    "LEEWAY": 30,
    "REALM": "api",
    "MAX_TOKEN_BYTES": 8192,
    "CACHE_ALIAS": "default",
    "ALLOW_HTTP_LOOPBACK": False,
    "JWKS_TIMEOUT": 2.0,
    "JWKS_MAX_BYTES": 262144,
    "JWKS_MIN_TTL": 300,
    "JWKS_MAX_TTL": 86400,
    "JWKS_REFETCH_COOLDOWN": 30,
    "JWKS_STALE_WINDOW": 86400,
    "USER_LOOKUP": None,
    "SCOPE_PERMISSIONS": {},
    "TRANSPORT_IDENTITY": {
        "source": None,
        "header": "X-Forwarded-Client-Cert",
        "trusted_proxies": [],
    },
    "DPOP_PROOF_MAX_AGE": 60,
    "DPOP_NONCE": False,
    "DPOP_NONCE_LIFETIME": 300,
    "TOKEN_CACHE_SIZE": 4096,
    "PREFETCH_KEYS": True,
    "JWKS_REFRESH_AHEAD": 30,
    "CACHE_TIMEOUT": 0.5,
    "RESOURCE_METADATA": None,
}

_YEAR = 366 * 86400
# name → (accepted types, minimum, maximum); NaN and infinity never pass.
_NUMBERS: dict[str, tuple[tuple[type, ...], float, float]] = {
    "LEEWAY": ((int,), 0, 86400),
    "MAX_TOKEN_BYTES": ((int,), 256, 1024 * 1024),
    "JWKS_TIMEOUT": ((int, float), 0.1, 60),
    "JWKS_MAX_BYTES": ((int,), 1024, 16 * 1024 * 1024),
    "JWKS_MIN_TTL": ((int,), 0, _YEAR),
    "JWKS_MAX_TTL": ((int,), 0, _YEAR),
    "JWKS_REFETCH_COOLDOWN": ((int, float), 0, _YEAR),
    "JWKS_STALE_WINDOW": ((int,), 0, _YEAR),
    "DPOP_PROOF_MAX_AGE": ((int,), 1, 3600),
    "DPOP_NONCE_LIFETIME": ((int,), 10, 86400),
    "TOKEN_CACHE_SIZE": ((int,), 0, 1_000_000),
    "JWKS_REFRESH_AHEAD": ((int, float), 0, 3600),
    "CACHE_TIMEOUT": ((int, float), 0.01, 10),
}
_TRANSPORT_SOURCES = (None, "environ", "xfcc", "pem_header")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class UserLookup:
    """``USER_LOOKUP``: find the Django user whose ``field`` equals the token's ``claim``."""

    claim: str = "sub"
    field: str = "username"
    create: bool = False
    issuers: frozenset[str] | None = None
    """The exact ``iss`` values whose tokens map to users; ``None``: the settings issuers."""


@dataclass(frozen=True)
class TransportIdentity:
    """``TRANSPORT_IDENTITY``: where the caller's client certificate comes from.

    ``source`` is ``None``, ``"environ"`` (``SSL_CLIENT_CERT``), ``"xfcc"`` or ``"pem_header"``;
    a proxy source's ``header`` is believed only from peers inside ``trusted_proxies``.
    """

    source: str | None = None
    header: str = "X-Forwarded-Client-Cert"
    trusted_proxies: tuple[Network, ...] = ()

    @property
    def meta_key(self) -> str:
        """The ``request.META`` key of ``header`` (``HTTP_X_FORWARDED_CLIENT_CERT``)."""
        return "HTTP_" + self.header.upper().replace("-", "_")


@dataclass(frozen=True)
class GuardSettings:
    """``BEARER_GUARD``, parsed.

    ``problems`` holds the global problems; each issuer carries its own, so one bad issuer
    fails closed alone.
    """

    issuers: tuple[IssuerConfig, ...] = ()
    leeway: int = 30
    realm: str = "api"
    max_token_bytes: int = 8192
    cache_alias: str = "default"
    allow_http_loopback: bool = False
    jwks_timeout: float = 2.0
    jwks_max_bytes: int = 262144
    jwks_min_ttl: int = 300
    jwks_max_ttl: int = 86400
    jwks_refetch_cooldown: float = 30
    jwks_stale_window: int = 86400
    user_lookup: UserLookup | None = None
    scope_permissions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    transport_identity: TransportIdentity = field(default_factory=TransportIdentity)
    dpop_proof_max_age: int = 60
    dpop_nonce: bool = False
    dpop_nonce_lifetime: int = 300
    token_cache_size: int = 4096
    prefetch_keys: bool = True
    jwks_refresh_ahead: float = 30
    cache_timeout: float = 0.5
    resource_metadata: ResourceMetadata | None = None
    """``RESOURCE_METADATA`` (RFC 9728); ``None`` when off, or while the settings have an error."""
    problems: tuple[Problem, ...] = ()


def _parse(raw: Any) -> GuardSettings:  # noqa: C901, PLR0912 - one flat list of setting rules
    problems: list[Problem] = []

    def bad(id_: str, msg: str, hint: str) -> None:
        problems.append(Problem(id_, msg, hint))

    if not isinstance(raw, Mapping):
        bad("bearer_guard.E001", "BEARER_GUARD must be a dict.", "See the settings reference.")
        raw = {}
    unknown = sorted(set(raw) - set(DEFAULTS))
    if unknown:
        bad("bearer_guard.E001", f"BEARER_GUARD has unknown keys {unknown}.", "Remove them or fix their spelling.")
    values: dict[str, Any] = {**DEFAULTS, **{k: v for k, v in raw.items() if k in DEFAULTS}}

    for name, (types, minimum, maximum) in _NUMBERS.items():
        value = values[name]
        if (
            isinstance(value, bool)
            or not isinstance(value, types)
            or not minimum <= cast(float, value) <= maximum  # also false for NaN
        ):
            bad(
                "bearer_guard.E002",
                f"BEARER_GUARD['{name}'] must be a number from {minimum:g} to {maximum:g}.",
                f"Fix {name}.",
            )
            values[name] = DEFAULTS[name]
    if values["JWKS_MIN_TTL"] > values["JWKS_MAX_TTL"]:
        bad("bearer_guard.E015", "JWKS_MIN_TTL is larger than JWKS_MAX_TTL.", "Make JWKS_MIN_TTL <= JWKS_MAX_TTL.")
    for name in ("REALM", "CACHE_ALIAS"):
        if not isinstance(values[name], str) or not values[name]:
            bad("bearer_guard.E002", f"BEARER_GUARD['{name}'] must be a non-empty string.", f"Fix {name}.")
            values[name] = DEFAULTS[name]
    if '"' in values["REALM"] or "\\" in values["REALM"] or not values["REALM"].isprintable():
        bad("bearer_guard.E002", "REALM must be printable and hold no quote or backslash.", "Fix REALM.")
        values["REALM"] = DEFAULTS["REALM"]
    for name in ("ALLOW_HTTP_LOOPBACK", "PREFETCH_KEYS"):
        if not isinstance(values[name], bool):
            bad("bearer_guard.E002", f"{name} must be True or False.", f"Fix {name}.")
            values[name] = DEFAULTS[name]

    transport = _transport_identity(values["TRANSPORT_IDENTITY"], problems)
    if not isinstance(values["DPOP_NONCE"], bool):
        bad("bearer_guard.E002", "DPOP_NONCE must be True or False.", "Fix DPOP_NONCE.")
        values["DPOP_NONCE"] = False

    issuers: list[IssuerConfig] = []
    raw_issuers = values["ISSUERS"]
    if not isinstance(raw_issuers, (list, tuple)):
        bad("bearer_guard.E016", "ISSUERS must be a list of dicts.", "See the ISSUERS reference.")
        raw_issuers = []
    seen: set[str] = set()
    for index, entry in enumerate(raw_issuers):
        config = parse_issuer(
            entry,
            allow_http_loopback=values["ALLOW_HTTP_LOOPBACK"],
            where=f"ISSUERS[{index}]",
            transport_source=transport.source,
        )
        if config.issuer in seen:
            bad("bearer_guard.E008", f"ISSUERS[{index}] repeats issuer {config.issuer!r}.", "List each issuer once.")
        seen.add(config.issuer)
        issuers.append(config)

    user_lookup = _user_lookup(values["USER_LOOKUP"], bad)
    resource_metadata = parse_resource_metadata(
        values["RESOURCE_METADATA"], allow_http_loopback=values["ALLOW_HTTP_LOOPBACK"], problems=problems
    )

    scope_permissions: dict[str, tuple[str, ...]] = {}
    mapping = values["SCOPE_PERMISSIONS"]
    if isinstance(mapping, Mapping) and all(
        isinstance(k, str) and isinstance(v, (list, tuple)) and all(isinstance(p, str) and "." in p for p in v)
        for k, v in mapping.items()
    ):
        scope_permissions = {k: tuple(v) for k, v in mapping.items()}
    else:
        bad(
            "bearer_guard.E010",
            "SCOPE_PERMISSIONS must map scopes to lists of 'app_label.codename' permissions.",
            "Fix SCOPE_PERMISSIONS.",
        )

    return GuardSettings(
        issuers=tuple(issuers),
        leeway=values["LEEWAY"],
        realm=values["REALM"],
        max_token_bytes=values["MAX_TOKEN_BYTES"],
        cache_alias=values["CACHE_ALIAS"],
        allow_http_loopback=values["ALLOW_HTTP_LOOPBACK"],
        jwks_timeout=float(values["JWKS_TIMEOUT"]),
        jwks_max_bytes=values["JWKS_MAX_BYTES"],
        jwks_min_ttl=values["JWKS_MIN_TTL"],
        jwks_max_ttl=values["JWKS_MAX_TTL"],
        jwks_refetch_cooldown=values["JWKS_REFETCH_COOLDOWN"],
        jwks_stale_window=values["JWKS_STALE_WINDOW"],
        user_lookup=user_lookup,
        scope_permissions=scope_permissions,
        transport_identity=transport,
        dpop_proof_max_age=values["DPOP_PROOF_MAX_AGE"],
        dpop_nonce=values["DPOP_NONCE"],
        dpop_nonce_lifetime=values["DPOP_NONCE_LIFETIME"],
        token_cache_size=values["TOKEN_CACHE_SIZE"],
        prefetch_keys=values["PREFETCH_KEYS"],
        jwks_refresh_ahead=float(values["JWKS_REFRESH_AHEAD"]),
        cache_timeout=float(values["CACHE_TIMEOUT"]),
        # Every token is refused while the settings have an error: no document invites clients to try.
        resource_metadata=None if any(not p.warning for p in problems) else resource_metadata,
        problems=tuple(problems),
    )


def _network(entry: Any) -> Network | None:
    if not isinstance(entry, str):
        return None
    try:
        # strict: "10.0.0.1/8" is a typo for a network or a host, refused rather than guessed.
        return ipaddress.ip_network(entry, strict=True)
    except ValueError:
        return None


def _transport_identity(raw: Any, problems: list[Problem]) -> TransportIdentity:
    merged = {**DEFAULTS["TRANSPORT_IDENTITY"], **raw} if isinstance(raw, Mapping) else None
    if (
        merged is not None
        and set(merged) == set(DEFAULTS["TRANSPORT_IDENTITY"])
        and merged["source"] in _TRANSPORT_SOURCES
        and isinstance(merged["header"], str)
        and TOKEN.fullmatch(merged["header"])  # a header field name is a token
        and isinstance(merged["trusted_proxies"], (list, tuple))
    ):
        networks = [_network(entry) for entry in merged["trusted_proxies"]]
        if all(network is not None for network in networks):
            transport = TransportIdentity(merged["source"], merged["header"], tuple(n for n in networks if n))
            _check_proxies(transport, problems)
            return transport
    problems.append(
        Problem(
            "bearer_guard.E011",
            f"TRANSPORT_IDENTITY must be a dict with 'source' in {list(_TRANSPORT_SOURCES)}, 'header' (an HTTP "
            "header name) and 'trusted_proxies' (a list of networks such as '10.0.0.0/8' or 'fd00::/8').",
            "Fix TRANSPORT_IDENTITY.",
        )
    )
    return TransportIdentity()


def _check_proxies(transport: TransportIdentity, problems: list[Problem]) -> None:
    if transport.source not in ("xfcc", "pem_header"):
        return
    if not transport.trusted_proxies:
        problems.append(
            Problem(
                "bearer_guard.W005",
                f"TRANSPORT_IDENTITY['source'] is {transport.source!r} with no 'trusted_proxies': the "
                f"{transport.header} header is never believed, so every bound token is refused.",
                "List the networks of the proxies that terminate TLS in 'trusted_proxies'.",
                warning=True,
            )
        )
    elif any(network.prefixlen == 0 for network in transport.trusted_proxies):
        # Anyone who can reach the app could then claim any client certificate.
        problems.append(
            Problem(
                "bearer_guard.W009",
                f"TRANSPORT_IDENTITY['trusted_proxies'] holds a network of every address: the "
                f"{transport.header} header is believed from any peer.",
                "List only the proxies' own networks.",
                warning=True,
            )
        )


def _user_lookup(lookup: Any, bad: Callable[[str, str, str], None]) -> UserLookup | None:
    if lookup is None:
        return None
    if isinstance(lookup, Mapping) and set(lookup) <= {"claim", "field", "create", "issuers"}:
        claim, field_name = lookup.get("claim", "sub"), lookup.get("field", "username")
        create, issuers = lookup.get("create", False), lookup.get("issuers")
        issuers_ok = issuers is None or (
            isinstance(issuers, (list, tuple)) and all(isinstance(i, str) and i for i in issuers)
        )
        if isinstance(claim, str) and isinstance(field_name, str) and isinstance(create, bool) and issuers_ok:
            return UserLookup(claim, field_name, create, None if issuers is None else frozenset(issuers))
    bad(
        "bearer_guard.E009",
        "USER_LOOKUP must be None or {'claim': str, 'field': str, 'create': bool, 'issuers': [exact iss, ...]}.",
        "Fix USER_LOOKUP.",
    )
    return None


_current: GuardSettings | None = None
_reload_callbacks: list[Callable[[], None]] = []


def get_settings() -> GuardSettings:
    """The parsed ``BEARER_GUARD`` setting (parsed once, until the setting changes)."""
    global _current
    if _current is None:
        _current = _parse(getattr(django_settings, "BEARER_GUARD", {}))
    return _current


def on_reload(callback: Callable[[], None]) -> Callable[[], None]:
    """Register ``callback`` to run whenever the settings are re-read; usable as a decorator."""
    _reload_callbacks.append(callback)
    return callback


def reload() -> None:
    """Drop the parsed settings and every derived cache."""
    global _current
    _current = None
    for callback in _reload_callbacks:
        callback()


def setting_changed_receiver(*, setting: str, **kwargs: Any) -> None:
    """``setting_changed`` receiver: re-read when a setting the library depends on changes."""
    if setting in {"BEARER_GUARD", "CACHES", "DEBUG"}:
        reload()


def require_valid(settings: GuardSettings) -> None:
    """Raise ``ImproperlyConfigured`` when the global settings have an error."""
    errors = [p for p in settings.problems if not p.warning]
    if errors:
        raise ImproperlyConfigured("; ".join(p.msg for p in errors))
