"""System checks (``bearer_guard.E0xx`` / ``W0xx``) over the parsed settings."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.core.exceptions import FieldDoesNotExist
from django.http.request import split_domain_port, validate_host

from django_bearer_guard._declarations import (
    DeclaredView,
    InvalidDeclaration,
    declared_workloads,
    declares_authentication_level,
    max_auth_age,
    required_acr_values,
    required_scope_sets,
    throttle_rates_by_scope,
)
from django_bearer_guard._routes import routed_views, view_methods
from django_bearer_guard.conf import GuardSettings, get_settings
from django_bearer_guard.exceptions import KeySetError
from django_bearer_guard.files.paths import root_fields
from django_bearer_guard.issuers import database
from django_bearer_guard.issuers.config import covers
from django_bearer_guard.runtime import get_runtime

__all__ = [
    "check_authentication_levels",
    "check_file_roots",
    "check_scope_declarations",
    "check_settings",
    "check_throttle_declarations",
    "check_views",
    "trusted_issuer_count",
]

_LOCMEM = "django.core.cache.backends.locmem.LocMemCache"


def trusted_issuer_count(databases: Collection[str] | None) -> int:
    """How many issuers are trusted: the settings' plus the enabled rows the checks may read."""
    settings_issuers = {issuer.issuer for issuer in get_settings().issuers}
    rows = {row.issuer for row in database.read_for_checks(databases) if row.enabled}
    return len(settings_issuers | rows)


def _user_lookup_messages(settings: GuardSettings) -> list[CheckMessage]:
    lookup = settings.user_lookup
    if lookup is None:
        return []
    if lookup.issuers is None and len(settings.issuers) > 1:
        return [
            Warning(
                f"BEARER_GUARD['USER_LOOKUP'] maps the tokens of all {len(settings.issuers)} settings issuers to "
                "Django users by a bare claim: one issuer's 'admin' is every issuer's 'admin'.",
                hint="Set USER_LOOKUP['issuers'] to the exact 'iss' values whose subjects are your users.",
                id="bearer_guard.W007",
            ),
            *_user_field_messages(lookup.field),
        ]
    return _user_field_messages(lookup.field)


def _tenant_messages(settings: GuardSettings) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for issuer in settings.issuers:
        if issuer.template and issuer.tenants is None and not issuer.problems:
            # One provider's key set signs for all its customers: any of them can call this API.
            messages.append(
                Warning(
                    f"Issuer {issuer.issuer!r} admits any tenant ('tenants': 'any'): every customer of the "
                    "identity provider can get a token this API accepts.",
                    hint="List the tenants you serve in 'tenants', or check request.auth.claims['tid'] in "
                    "every view (silence this check once you do).",
                    id="bearer_guard.W019",
                )
            )
    return messages


def _user_field_messages(field: str) -> list[CheckMessage]:
    model = get_user_model()
    try:
        model._meta.get_field(field)
    except FieldDoesNotExist:
        return [
            Error(
                f"BEARER_GUARD['USER_LOOKUP'] names the field {field!r}, which "
                f"{model._meta.label} does not have: every token would be refused.",
                hint="Name a unique field of the user model, e.g. 'username'.",
                id="bearer_guard.E024",
            )
        ]
    return []


@register(Tags.security)
def check_settings(
    app_configs: Any = None, databases: Collection[str] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Report every problem in ``BEARER_GUARD`` and in the trusted issuers.

    ``TrustedIssuer`` rows are read only when Django hands the check their database.
    """
    settings = get_settings()
    messages: list[CheckMessage] = []
    problems = list(settings.problems)
    rows = database.read_for_checks(databases)
    issuers = [*settings.issuers, *rows]
    for issuer in issuers:
        problems.extend(issuer.problems)
    for problem in problems:
        kind = Warning if problem.warning else Error
        messages.append(kind(problem.msg, hint=problem.hint or None, id=problem.id))

    for issuer in issuers:
        if issuer.jwks is not None and not issuer.problems:
            try:
                get_runtime().keys.static_keyset(issuer)  # the same parse, memoised, that requests use
            except KeySetError as exc:
                messages.append(
                    Error(
                        f"Issuer {issuer.issuer!r}: the inline 'jwks' is refused: {exc.reason}.",
                        hint="Paste the issuer's public signing keys (RSA >= 2048 bits, EC, Ed25519).",
                        id="bearer_guard.E012",
                    )
                )

    for row in rows:
        if covers(settings.issuers, row.issuer):
            messages.append(
                Warning(
                    f"The TrustedIssuer row for {row.issuer!r} is ignored: BEARER_GUARD['ISSUERS'] "
                    "names the same issuer (or a template of its tenant), and the settings win.",
                    hint="Delete the row or the ISSUERS entry, so the one in use is the one you edit.",
                    id="bearer_guard.W004",
                )
            )
    messages.extend(_tenant_messages(settings))

    if not issuers:
        messages.append(
            Warning(
                "BEARER_GUARD has no trusted issuers, so every Bearer token is refused.",
                hint="Add an issuer to BEARER_GUARD['ISSUERS'] or a TrustedIssuer row "
                "(rows are counted by 'manage.py check --database default').",
                id="bearer_guard.W001",
            )
        )

    caches: dict[str, Any] = getattr(django_settings, "CACHES", {})
    alias = settings.cache_alias
    if alias not in caches:
        messages.append(
            Error(
                f"BEARER_GUARD['CACHE_ALIAS'] is {alias!r}, which is not in CACHES.",
                hint="Name a configured cache alias.",
                id="bearer_guard.E013",
            )
        )
    elif caches[alias].get("BACKEND") == _LOCMEM and not django_settings.DEBUG:
        messages.append(
            Warning(
                f"The cache {alias!r} is local-memory: every worker process fetches and keeps its own "
                "keys, and the refetch cool-down only holds per process.",
                hint="Use a shared cache (Redis, Memcached, database) for CACHE_ALIAS in production.",
                id="bearer_guard.W002",
            )
        )
    messages.extend(_user_lookup_messages(settings))
    messages.extend(_resource_messages(settings, issuers))
    messages.extend(_dpop_messages(settings, issuers, caches.get(alias, {}).get("BACKEND")))
    if settings.leeway > 300:
        messages.append(
            Warning(
                f"BEARER_GUARD['LEEWAY'] is {settings.leeway} s: expired tokens stay usable that long.",
                hint="Keep LEEWAY to the clock skew you expect (30-60 s).",
                id="bearer_guard.W003",
            )
        )
    return messages


def _resource_messages(settings: GuardSettings, issuers: Iterable[Any]) -> list[CheckMessage]:
    metadata = settings.resource_metadata
    if metadata is None:
        return []
    messages: list[CheckMessage] = []
    allowed = list(django_settings.ALLOWED_HOSTS)
    if django_settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]  # what Django itself allows then
    host, _ = split_domain_port(urlsplit(metadata.resource).netloc)
    if not validate_host(host, allowed):
        # RFC 9728 §3.3: clients compare the document's resource with the URL they called.
        messages.append(
            Warning(
                f"RESOURCE_METADATA['resource'] is {metadata.resource!r}, whose host is not in ALLOWED_HOSTS: "
                "clients are told to call a URL this site refuses.",
                hint="Set resource to the URL clients use for this API, or add its host to ALLOWED_HOSTS.",
                id="bearer_guard.W017",
            )
        )
    usable = [issuer for issuer in issuers if issuer.usable]
    names = {issuer.issuer for issuer in usable}
    untrusted = [
        server for server in metadata.authorization_servers or () if server not in names and not covers(usable, server)
    ]
    if untrusted:
        messages.append(
            Warning(
                f"RESOURCE_METADATA['authorization_servers'] lists {untrusted}, which are not enabled, correctly "
                "configured issuers: clients are sent for tokens this API refuses.",
                hint="List only trusted issuers, spelt exactly as their 'issuer' "
                "(rows are counted by 'manage.py check --database default').",
                id="bearer_guard.W018",
            )
        )
    return messages


_DUMMY = "django.core.cache.backends.dummy.DummyCache"
# Backends that drop entries when they hold MAX_ENTRIES: a flood of proofs can push a jti out.
_EVICTING = frozenset({
    _LOCMEM,
    "django.core.cache.backends.db.DatabaseCache",
    "django.core.cache.backends.filebased.FileBasedCache",
})


def _dpop_messages(settings: GuardSettings, issuers: Iterable[Any], backend: Any) -> list[CheckMessage]:
    alias = settings.cache_alias
    if backend == _DUMMY:
        # Any issuer's token may carry cnf.jkt, so this holds without a "dpop" issuer too.
        return [
            Warning(
                f"The cache {alias!r} is a DummyCache, which remembers no DPoP proof: every DPoP-bound token "
                "is refused.",
                hint="Use a shared cache (Redis) for CACHE_ALIAS.",
                id="bearer_guard.W011",
            )
        ]
    dpop_issuers = [issuer.issuer for issuer in issuers if issuer.binding == "dpop" and issuer.enabled]
    if not dpop_issuers:
        return []
    messages: list[CheckMessage] = []
    # Like W002: a local-memory cache under DEBUG is a development server's.
    if backend in _EVICTING and not (backend == _LOCMEM and django_settings.DEBUG):
        messages.append(
            Warning(
                f"Issuer {dpop_issuers[0]!r} binds tokens to DPoP keys, and the cache {alias!r} evicts entries "
                "when full: a flood of valid proofs can push out the one a captured proof is refused by.",
                hint="Keep DPoP proofs in Redis with maxmemory-policy noeviction or volatile-ttl and enough memory.",
                id="bearer_guard.W012",
            )
        )
    hosts = getattr(django_settings, "ALLOWED_HOSTS", [])
    wildcards = [host for host in hosts if host == "*" or host.startswith(".")]
    if wildcards:
        # RFC 9449 §4.3: htu pins a proof to this server only when the Host header cannot be chosen freely.
        messages.append(
            Warning(
                f"Issuer {dpop_issuers[0]!r} binds tokens to DPoP keys, and ALLOWED_HOSTS holds {wildcards[0]!r}: a "
                "proof captured at another server under it that accepts the same token is accepted here when sent "
                "with that server's Host header.",
                hint="List this site's own host names in ALLOWED_HOSTS.",
                id="bearer_guard.W010",
            )
        )
    return messages


@register(Tags.security, Tags.urls)
def check_views(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Report DRF views that use ``HasScopes``, ``AllowedWorkloads`` or ``RequiresAuthenticationLevel``
    without declaring what they need, or ``TokenRateThrottle`` with rates it cannot read."""
    return [
        *check_scope_declarations(app_configs, **kwargs),
        *check_authentication_levels(app_configs, **kwargs),
        *check_file_roots(app_configs, **kwargs),
        *check_throttle_declarations(app_configs, **kwargs),
    ]


def check_throttle_declarations(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """System check: DRF views in the URLconf that use ``TokenRateThrottle`` with a
    ``throttle_rates_by_scope`` it cannot read (``bearer_guard.E033``)."""
    from rest_framework.views import APIView

    from django_bearer_guard.throttling import TokenRateThrottle

    messages: list[CheckMessage] = []
    for route, _, cls, initkwargs in routed_views(APIView):
        throttles = initkwargs.get("throttle_classes", cls.throttle_classes)
        if not any(isinstance(throttle, type) and issubclass(throttle, TokenRateThrottle) for throttle in throttles):
            continue
        try:
            throttle_rates_by_scope(DeclaredView(cls, initkwargs))
        except InvalidDeclaration as exc:
            messages.append(
                Error(
                    f"{cls.__module__}.{cls.__qualname__} at '{route}' uses TokenRateThrottle with an invalid "
                    f"declaration: {exc}. The rates meant for its scopes cannot be applied, so every request "
                    "with a token is refused (429).",
                    hint="Make throttle_rates_by_scope a dict of scope to rate, e.g. {'reports:read': '100/min'} "
                    "(periods: s, sec, m, min, h, hour, d, day).",
                    obj=cls,
                    id="bearer_guard.E033",
                )
            )
    return messages


def check_authentication_levels(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """System check: DRF views in the URLconf that use ``RequiresAuthenticationLevel`` with a
    step-up declaration it cannot read (``bearer_guard.E031``) or none (``bearer_guard.E032``),
    or as an operand of ``|`` (``bearer_guard.W016``)."""
    from rest_framework.views import APIView

    from django_bearer_guard.permissions import RequiresAuthenticationLevel, offered_as_alternative, uses_permission

    messages: list[CheckMessage] = []
    for route, _, cls, initkwargs in routed_views(APIView):
        permission_classes = initkwargs.get("permission_classes", cls.permission_classes)
        if not uses_permission(permission_classes, RequiresAuthenticationLevel):
            continue
        name = f"{cls.__module__}.{cls.__qualname__} at '{route}'"
        probe = DeclaredView(cls, initkwargs)
        try:
            required_acr_values(probe, "GET")  # reads every method's entry
            max_auth_age(probe)
        except InvalidDeclaration as exc:
            messages.append(
                Error(
                    f"{name} uses RequiresAuthenticationLevel with an invalid declaration: {exc}.",
                    hint="Fix required_acr, required_acr_by_method or max_auth_age; until then every request "
                    "is refused.",
                    obj=cls,
                    id="bearer_guard.E031",
                )
            )
        else:
            if not declares_authentication_level(probe):
                messages.append(
                    Error(
                        f"{name} uses RequiresAuthenticationLevel but declares no required_acr, "
                        "required_acr_by_method or max_auth_age.",
                        hint="Set required_acr (or required_acr_by_method) and/or max_auth_age; until then "
                        "every request is refused.",
                        obj=cls,
                        id="bearer_guard.E032",
                    )
                )
        if offered_as_alternative(permission_classes, RequiresAuthenticationLevel):
            messages.append(
                Warning(
                    f"{name} offers RequiresAuthenticationLevel as an alternative ('|'): a token that passes the "
                    "other operand skips the step-up requirement.",
                    hint="List it beside the other permission classes (or join them with '&') so every request "
                    "must meet it.",
                    obj=cls,
                    id="bearer_guard.W016",
                )
            )
    return messages


def check_scope_declarations(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """System check: DRF views in the URLconf that use ``HasScopes`` or ``AllowedWorkloads``
    without declaring scopes (``bearer_guard.E020``) or workloads (``bearer_guard.E021``), and
    ``TokenOwnsObject`` without ``owner_issuer_field`` while several issuers are trusted
    (``bearer_guard.W008``)."""
    # Imported here: the faces load DRF's views, which must not happen while the app registry loads.
    from rest_framework.views import APIView

    from django_bearer_guard.permissions import AllowedWorkloads, HasScopes, TokenOwnsObject, uses_permission

    several_issuers = trusted_issuer_count(kwargs.get("databases")) > 1
    messages: list[CheckMessage] = []
    for route, callback, cls, initkwargs in routed_views(APIView):
        permission_classes = initkwargs.get("permission_classes", cls.permission_classes)
        methods: Iterable[tuple[str, str | None]] = view_methods(callback, cls)
        name = f"{cls.__module__}.{cls.__qualname__} at '{route}'"
        if not uses_permission(permission_classes, HasScopes):
            methods = ()
        for method, action in methods:
            # HEAD and OPTIONS fall back to GET; when nothing is declared they are refused at run time.
            probe = DeclaredView(cls, initkwargs, action)
            if method not in ("head", "options") and required_scope_sets(probe, method) is None:
                messages.append(
                    Error(
                        f"{name} uses HasScopes but declares no valid scopes for {method.upper()}.",
                        hint="Set required_scopes, required_scopes_by_method or required_scopes_by_action; "
                        "until then every request is refused.",
                        obj=cls,
                        id="bearer_guard.E020",
                    )
                )
        probe = DeclaredView(cls, initkwargs)
        bare_owner = not isinstance(getattr(probe, "owner_issuer_field", None), str)
        if several_issuers and uses_permission(permission_classes, TokenOwnsObject) and bare_owner:
            messages.append(
                Warning(
                    f"{name} uses TokenOwnsObject without owner_issuer_field while several issuers are "
                    "trusted: a token of one issuer owns the objects of another issuer's subject of the same name.",
                    hint="Store the owner's issuer beside the owner and name it in owner_issuer_field, "
                    "or restrict the view with allowed_issuers.",
                    obj=cls,
                    id="bearer_guard.W008",
                )
            )
        no_workloads = declared_workloads(probe) is None
        if uses_permission(permission_classes, AllowedWorkloads) and no_workloads:
            messages.append(
                Error(
                    f"{name} uses AllowedWorkloads without an allowed_workloads list.",
                    hint="Set allowed_workloads to the workload identifiers allowed to call it; "
                    "until then every request is refused.",
                    obj=cls,
                    id="bearer_guard.E021",
                )
            )
    return messages


def check_file_roots(
    app_configs: Any = None, databases: Collection[str] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """System check: a ``ProtectedFileView`` in the URLconf whose per-caller root names the
    caller by a claim or workload without ``{issuer}`` while it accepts several issuers
    (``bearer_guard.W006``). Issuers are the settings ones plus, when the check gets the
    database, enabled ``TrustedIssuer`` rows; a view's ``allowed_issuers`` narrows them."""
    from django_bearer_guard.views import ProtectedFileView

    trusted = trusted_issuer_count(databases)
    messages: list[CheckMessage] = []
    for route, _, cls, initkwargs in routed_views(ProtectedFileView):
        root = initkwargs.get("root", cls.root)
        try:
            fields = root_fields(root)
        except ValueError:
            continue  # as_view() refuses it
        allowed = initkwargs.get("allowed_issuers", cls.allowed_issuers)
        if allowed is None:
            accepted, source = trusted, "trusted (settings + database)" if databases else "trusted (settings)"
        else:
            accepted, source = len(set(allowed)), "named by allowed_issuers"
        per_caller = [field for field in fields if field == "workload" or field.startswith("claims.")]
        if per_caller and "issuer" not in fields and accepted > 1:
            messages.append(
                Warning(
                    f"ProtectedFileView at '{route}' uses a per-caller root with {{{per_caller[0]}}} but no "
                    f"{{issuer}} while {accepted} issuers are {source}: callers of different issuers "
                    f"with the same value share a folder of {root!r}.",
                    hint="Add {issuer} to the root (e.g. 'tenants/{issuer}/{claims.sub}') or set "
                    "allowed_issuers to the one issuer whose callers own these folders.",
                    obj=cls,
                    id="bearer_guard.W006",
                )
            )
    return messages
