"""Parse one trusted issuer (an ``ISSUERS`` entry or a ``TrustedIssuer`` row)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any

from django_bearer_guard._urls import key_url_problem
from django_bearer_guard.issuers.profiles import PROFILE_ALGORITHMS, PROFILE_DEFAULTS, PROFILES, profile_problems
from django_bearer_guard.issuers.tenants import TENANT_PLACEHOLDER, template_pattern, template_problems
from django_bearer_guard.jose.algorithms import ASYMMETRIC_ALGORITHMS, HMAC_ALGORITHMS, MIN_SHARED_SECRET_BYTES

__all__ = [
    "BINDINGS",
    "ISSUER_KEYS",
    "PROFILES",
    "PROFILE_ALGORITHMS",
    "PROFILE_DEFAULTS",
    "TENANT_PLACEHOLDER",
    "TRUST_DOMAIN",
    "IssuerConfig",
    "Problem",
    "covers",
    "parse_issuer",
]

BINDINGS = (None, "workload", "cnf", "dpop")

ISSUER_KEYS = frozenset(
    {
        "name",
        "issuer",
        "audiences",
        "algorithms",
        "jwks_uri",
        "discovery",
        "jwks",
        "shared_secret",
        "scope_claim",
        "scope_prefixes",
        "workload_claim",
        "required_typ",
        "required_claims",
        "leeway",
        "binding",
        "enabled",
        "allowed_scopes",
        "workload_trust_domains",
        "jwks_hosts",
        "profile",
        "tenants",
    }
)


@dataclass(frozen=True)
class Problem:
    """A configuration problem; ``checks`` turns it into a system check message.

    ``field`` is the issuer key the problem is about (``"jwks_uri"``, ``"algorithms"``…), or
    ``None`` for an entry as a whole and for the global settings.
    """

    id: str
    msg: str
    hint: str = ""
    warning: bool = False
    field: str | None = None


@dataclass(frozen=True, eq=False)
class IssuerConfig:
    """A trusted issuer, validated. ``problems`` non-empty means its tokens are refused."""

    issuer: str
    name: str = ""
    audiences: tuple[str, ...] = ()
    algorithms: tuple[str, ...] = ()
    jwks_uri: str | None = None
    discovery: bool = False
    jwks: Mapping[str, Any] | None = None
    shared_secret: bytes | None = field(default=None, repr=False)
    scope_claim: str = "scope"
    """The (first) claim holding the scopes."""
    scope_claims: tuple[str, ...] = ()
    """Every claim whose scopes are united (Entra ID ``scp`` and ``roles``); empty: ``scope_claim`` alone."""
    scope_prefixes: tuple[tuple[str, str], ...] = ()
    workload_claim: str = "sub"
    required_typ: str | None = None
    required_claims: tuple[str, ...] = ()
    leeway: int | None = None
    binding: str | None = None
    enabled: bool = True
    allowed_scopes: frozenset[str] | None = None
    workload_trust_domains: frozenset[str] | None = None
    jwks_hosts: frozenset[str] | None = None
    profile: str | None = None
    template: bool = False
    """``issuer`` holds ``{tenantid}``: it stands for one issuer per tenant, sharing one key set."""
    tenants: frozenset[str] | None = None
    """The tenants a template admits; ``None``: any tenant (or not a template)."""
    problems: tuple[Problem, ...] = ()

    @property
    def usable(self) -> bool:
        """True when the issuer is enabled and correctly configured."""
        return self.enabled and not self.problems

    @property
    def problem_summary(self) -> str:
        """The problems' messages in one line, for logs and errors."""
        return "; ".join(problem.msg for problem in self.problems)

    @cached_property
    def audience_set(self) -> frozenset[str]:
        """``audiences`` as a set, for the per-request audience check."""
        return frozenset(self.audiences)

    @cached_property
    def _template_pattern(self) -> re.Pattern[str] | None:
        return template_pattern(self.issuer) if self.template else None

    def tenant_of(self, iss: str) -> str | None:
        """The tenant ``iss`` names when this template admits it; ``None`` otherwise (and for plain issuers)."""
        pattern = self._template_pattern
        match = pattern.fullmatch(iss) if pattern is not None else None
        if match is None:
            return None
        tenant = match.group(1)
        # An allowlist of tenants: another customer of the same provider is another issuer.
        if self.tenants is not None and tenant not in self.tenants:
            return None
        return tenant

    @cached_property
    def source_id(self) -> str:
        """Identifies the issuer and its key source, for shared cache keys."""
        if self.jwks_uri:
            source = "uri:" + self.jwks_uri
        elif self.discovery:
            source = "discovery"
        elif self.jwks is not None:
            source = "inline:" + json.dumps(dict(self.jwks), sort_keys=True, default=str)
        elif self.shared_secret is not None:
            source = "secret:" + hashlib.sha256(self.shared_secret).hexdigest()
        else:
            source = "none"
        digest = hashlib.sha256(f"{self.issuer}\n{source}".encode()).hexdigest()
        return digest[:32]


def _str_tuple(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    return None


# RFC 6749 §3.3 scope-token; the SPIFFE ID spec's trust-domain charset; a DNS name or IP, optional port.
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,256}")
TRUST_DOMAIN = re.compile(r"[a-z0-9._-]{1,255}")
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST = re.compile(rf"{_LABEL}(?:\.{_LABEL})*(?::[0-9]{{1,5}})?")


def covers(configs: Iterable[IssuerConfig], iss: str) -> bool:
    """True when one of ``configs`` is the issuer ``iss``: the same ``issuer``, or a template admitting it."""
    return any(
        (config.issuer == iss and not config.template) or config.tenant_of(iss) is not None for config in configs
    )


MAX_SCOPE_CLAIMS = 8
"""The most claims one issuer's scopes may be read from."""


def _scope_claims(raw: Any) -> tuple[str, ...] | None:
    """``scope_claim`` as a tuple of claim names (``None``: the default); ``None`` when malformed."""
    if raw is None:
        return ("scope",)
    names = _str_tuple(raw)
    if names is None or not 0 < len(names) <= MAX_SCOPE_CLAIMS or "" in names:
        return None
    return tuple(dict.fromkeys(names))


def parse_issuer(  # noqa: C901, PLR0912, PLR0915 - one flat list of field rules
    entry: Mapping[str, Any],
    *,
    allow_http_loopback: bool,
    where: str,
    transport_source: str | None = None,
    templates: bool = True,
) -> IssuerConfig:
    """Validate ``entry`` and build an :class:`IssuerConfig`; problems are collected, not raised.

    ``transport_source`` is ``TRANSPORT_IDENTITY['source']``: the certificate bindings need one.
    ``templates=False`` (a ``TrustedIssuer`` row) refuses a multi-tenant ``issuer`` template.
    """
    problems: list[Problem] = []

    def bad(id_: str, key: str | None, msg: str, hint: str) -> None:
        problems.append(Problem(id_, f"{where}: {msg}", hint, field=key))

    if not isinstance(entry, Mapping):
        return IssuerConfig(
            issuer="",
            problems=(Problem("bearer_guard.E016", f"{where} must be a dict.", "See the ISSUERS reference."),),
        )
    unknown = sorted(set(entry) - ISSUER_KEYS)
    if unknown:
        # A misspelt key ("audience") would otherwise leave its rule at the default.
        bad("bearer_guard.E017", None, f"unknown keys {unknown}.", "Remove them or fix their spelling.")

    issuer = entry.get("issuer")
    if not isinstance(issuer, str) or not issuer:
        bad(
            "bearer_guard.E018",
            "issuer",
            "'issuer' must be a non-empty string (the exact 'iss').",
            "Set 'issuer' to the 'iss' value of the issuer's tokens.",
        )
        issuer = ""

    audiences = _str_tuple(entry.get("audiences"))
    if not audiences:
        # RFC 8725 §3.9: without an audience check a token minted for another API is accepted here.
        bad(
            "bearer_guard.E019",
            "audiences",
            "'audiences' must list at least one audience; without it any token of the issuer would do.",
            "Set 'audiences' to this API's identifiers.",
        )
        audiences = ()

    algorithms = _str_tuple(entry.get("algorithms"))
    if not algorithms:
        bad(
            "bearer_guard.E005",
            "algorithms",
            "'algorithms' must list the accepted algorithms.",
            "For example ['RS256'].",
        )
        algorithms = ()
    for alg in algorithms:
        if alg.lower() == "none":
            bad(
                "bearer_guard.E005",
                "algorithms",
                "'none' would accept unsigned tokens.",
                "Remove 'none' from 'algorithms'.",
            )
        elif alg not in ASYMMETRIC_ALGORITHMS | HMAC_ALGORITHMS:
            bad(
                "bearer_guard.E005",
                "algorithms",
                f"unsupported algorithm {alg!r}.",
                f"Use some of {sorted(ASYMMETRIC_ALGORITHMS)}.",
            )

    jwks_uri = entry.get("jwks_uri")
    discovery = entry.get("discovery", False)
    jwks = entry.get("jwks")
    secret = entry.get("shared_secret")
    sources = [n for n, v in (("jwks_uri", jwks_uri), ("discovery", discovery), ("jwks", jwks)) if v]
    if secret is not None:
        sources.append("shared_secret")
    if len(sources) != 1:
        bad(
            "bearer_guard.E004",
            None,
            f"exactly one key source is needed, found {sources or 'none'}.",
            "Set one of 'jwks_uri', 'discovery': True, 'jwks' or 'shared_secret'.",
        )
    if not isinstance(discovery, bool):
        bad("bearer_guard.E003", "discovery", "'discovery' must be True or False.", "Use a boolean.")
        discovery = False
    if jwks_uri is not None:
        problem = key_url_problem(jwks_uri, allow_http_loopback=allow_http_loopback)
        if problem:
            bad("bearer_guard.E007", "jwks_uri", f"'jwks_uri' {problem}.", "Use the issuer's https:// JWKS URL.")
            jwks_uri = None
    if discovery and issuer:
        problem = key_url_problem(issuer, allow_http_loopback=allow_http_loopback)
        if problem:
            bad("bearer_guard.E007", "issuer", f"discovery from 'issuer' that {problem}.", "Use an https:// issuer.")
    if jwks is not None and not isinstance(jwks, Mapping):
        bad("bearer_guard.E003", "jwks", "'jwks' must be a JWK Set dict ({'keys': [...]}).", "Paste the public JWKS.")
        jwks = None

    secret_bytes: bytes | None = None
    if secret is not None:
        secret_bytes = secret.encode() if isinstance(secret, str) else secret if isinstance(secret, bytes) else None
        if secret_bytes is None or len(secret_bytes) < MIN_SHARED_SECRET_BYTES:
            # RFC 7518 §3.2: an HMAC key shorter than the hash output can be guessed offline.
            bad(
                "bearer_guard.E022",
                "shared_secret",
                f"'shared_secret' must be at least {MIN_SHARED_SECRET_BYTES} bytes.",
                "Use a long random secret, or better, asymmetric keys.",
            )
    hmac = [a for a in algorithms if a in HMAC_ALGORITHMS]
    asym = [a for a in algorithms if a in ASYMMETRIC_ALGORITHMS]
    if hmac and secret is None:
        # RFC 8725 §2.1: HS* next to public keys invites key confusion.
        bad(
            "bearer_guard.E006",
            "algorithms",
            f"{hmac} need the issuer's own 'shared_secret'; they are never verified with JWKS keys.",
            "Remove the HS algorithms or configure 'shared_secret' instead of a JWKS.",
        )
    if secret is not None and asym:
        bad(
            "bearer_guard.E006",
            "algorithms",
            f"a shared-secret issuer cannot allow {asym}.",
            "Allow only HS algorithms.",
        )

    def opt_str(key: str, default: str | None) -> str | None:
        value = entry.get(key, default)
        if value is None or (isinstance(value, str) and value):
            return value
        bad("bearer_guard.E003", key, f"'{key}' must be a non-empty string.", f"Fix '{key}'.")
        return default

    profile = entry.get("profile")
    if profile not in PROFILES:
        # A misspelt profile must not leave its rules unapplied.
        bad("bearer_guard.E003", "profile", f"'profile' must be one of {list(PROFILES)}.", "Fix 'profile'.")
        profile = None
    # A key set to None (a blank row field) takes the profile's default; any other value overrides it.
    defaults = PROFILE_DEFAULTS.get(profile or "", {})
    scope_claims = _scope_claims(entry.get("scope_claim", "scope"))
    if scope_claims is None:
        bad(
            "bearer_guard.E003",
            "scope_claim",
            f"'scope_claim' must be a non-empty string (a claim name) or a list of at most {MAX_SCOPE_CLAIMS} "
            "claim names.",
            "Fix 'scope_claim'.",
        )
        scope_claims = ("scope",)
    workload_claim = opt_str("workload_claim", None) or defaults.get("workload_claim", "sub")
    required_typ = opt_str("required_typ", None) or defaults.get("required_typ")
    name = entry.get("name") or issuer
    if not isinstance(name, str):
        bad("bearer_guard.E003", "name", "'name' must be a string.", "Fix 'name'.")
        name = issuer

    claims_raw = entry.get("required_claims")
    required_claims = defaults.get("required_claims", ()) if claims_raw is None else _str_tuple(claims_raw)
    if required_claims is None:
        bad(
            "bearer_guard.E003",
            "required_claims",
            "'required_claims' must be a list of claim names.",
            "Fix 'required_claims'.",
        )
        required_claims = ()

    prefixes_raw = entry.get("scope_prefixes", {})
    prefixes: tuple[tuple[str, str], ...] = ()
    if isinstance(prefixes_raw, Mapping) and all(
        isinstance(k, str) and k and isinstance(v, str) for k, v in prefixes_raw.items()
    ):
        # Longest prefix first, so the most specific mapping wins.
        prefixes = tuple(sorted(prefixes_raw.items(), key=lambda kv: -len(kv[0])))
    else:
        bad(
            "bearer_guard.E003",
            "scope_prefixes",
            "'scope_prefixes' must map prefixes to replacements.",
            "Fix 'scope_prefixes'.",
        )

    leeway = entry.get("leeway")
    if leeway is not None and (isinstance(leeway, bool) or not isinstance(leeway, int) or leeway < 0):
        bad("bearer_guard.E003", "leeway", "'leeway' must be a whole number of seconds >= 0.", "Fix 'leeway'.")
        leeway = None

    binding = entry.get("binding")
    if binding not in BINDINGS:
        bad("bearer_guard.E003", "binding", f"'binding' must be one of {list(BINDINGS)}.", "Fix 'binding'.")
        binding = None

    enabled = entry.get("enabled", True)
    if not isinstance(enabled, bool):
        bad("bearer_guard.E003", "enabled", "'enabled' must be True or False.", "Fix 'enabled'.")
        enabled = False

    def token_set(key: str, pattern: re.Pattern[str], msg: str, hint: str) -> frozenset[str] | None:
        # Absent: no limit. Anything but a list of matching strings is a problem (and no limit
        # is kept: the problem already refuses the issuer's tokens).
        value = entry.get(key)
        if value is None:
            return None
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) and pattern.fullmatch(v) for v in value):
            return frozenset(value)
        bad("bearer_guard.E003", key, f"'{key}' must be {msg}.", hint)
        return None

    allowed_scopes = token_set(
        "allowed_scopes",
        _SCOPE_TOKEN,
        "a list of scopes (no spaces or control characters)",
        "List the scopes this issuer may grant, or leave it out to accept any.",
    )
    trust_domains = token_set(
        "workload_trust_domains",
        TRUST_DOMAIN,
        "a list of bare SPIFFE trust domains such as 'prod.example.com'",
        "Use lower-case letters, digits, '.', '-' and '_' only, without 'spiffe://'.",
    )
    jwks_hosts = token_set(
        "jwks_hosts",
        _HOST,
        "a list of host names, optionally with ':port'",
        "Use lower-case host names, for example ['www.googleapis.com'].",
    )
    if jwks_hosts is not None and discovery is not True:
        # A setting that is parsed but has nothing to limit must not look like a protection.
        bad(
            "bearer_guard.E023",
            "jwks_hosts",
            "'jwks_hosts' limits the hosts of a discovered jwks_uri, and this issuer does not use discovery.",
            "Remove 'jwks_hosts', or use 'discovery': True instead of a configured key source.",
        )
    if binding in ("workload", "cnf") and transport_source is None:
        # A certificate binding with no certificate to compare would refuse every token.
        bad(
            "bearer_guard.E014",
            "binding",
            f"'binding' is {binding!r}, which compares the caller's client certificate, and "
            "TRANSPORT_IDENTITY['source'] is None: the issuer's tokens are refused.",
            "Set TRANSPORT_IDENTITY['source'] to where the client certificate arrives, or remove 'binding'.",
        )
    if binding == "dpop" and not ASYMMETRIC_ALGORITHMS.intersection(algorithms):
        # RFC 9449 §4.2: proofs are signed with an asymmetric algorithm from the issuer's allowlist.
        bad(
            "bearer_guard.E014",
            "binding",
            "'binding' is 'dpop', and 'algorithms' holds no asymmetric algorithm a DPoP proof could use.",
            "Add an asymmetric algorithm such as 'ES256' to 'algorithms', or remove 'binding'.",
        )

    for id_, key, msg, hint in profile_problems(profile, algorithms, binding):
        bad(id_, key, msg, hint)

    template, tenants, found = template_problems(entry, issuer)
    if template and not templates:
        # A row would let whoever edits it claim every tenant of a provider.
        found = [("issuer", "a row names one exact issuer: multi-tenant templates are set in BEARER_GUARD['ISSUERS'].")]
    for about, msg in found:
        bad("bearer_guard.E034", about, msg, "See the 'tenants' issuer key in the settings reference.")

    return IssuerConfig(
        issuer=issuer,
        name=name,
        audiences=audiences,
        algorithms=algorithms,
        jwks_uri=jwks_uri,
        discovery=discovery,
        jwks=MappingProxyType(dict(jwks)) if jwks is not None else None,
        shared_secret=secret_bytes,
        scope_claim=scope_claims[0],
        scope_claims=scope_claims,
        scope_prefixes=prefixes,
        workload_claim=workload_claim,
        required_typ=required_typ,
        required_claims=required_claims,
        leeway=leeway,
        binding=binding,
        enabled=enabled,
        allowed_scopes=allowed_scopes,
        workload_trust_domains=trust_domains,
        jwks_hosts=jwks_hosts,
        profile=profile,
        template=template,
        tenants=tenants,
        problems=tuple(problems),
    )
