"""System checks (``bearer_guard.E0xx`` / ``W0xx``) over the parsed settings."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.core.exceptions import FieldDoesNotExist

from django_bearer_guard.conf import GuardSettings, get_settings
from django_bearer_guard.exceptions import KeySetError
from django_bearer_guard.issuers import database
from django_bearer_guard.jwks.fetch import static_keyset

__all__ = ["check_settings", "check_views", "trusted_issuer_count"]

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
                id="bearer_guard.E009",
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
                static_keyset(issuer)  # the same parse, memoised, that requests use
            except KeySetError as exc:
                messages.append(
                    Error(
                        f"Issuer {issuer.issuer!r}: the inline 'jwks' is refused: {exc.reason}.",
                        hint="Paste the issuer's public signing keys (RSA >= 2048 bits, EC, Ed25519).",
                        id="bearer_guard.E012",
                    )
                )

    pinned = {issuer.issuer for issuer in settings.issuers}
    for row in rows:
        if row.issuer in pinned:
            messages.append(
                Warning(
                    f"The TrustedIssuer row for {row.issuer!r} is ignored: BEARER_GUARD['ISSUERS'] "
                    "names the same issuer, and the settings win.",
                    hint="Delete the row or the ISSUERS entry, so the one in use is the one you edit.",
                    id="bearer_guard.W004",
                )
            )

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
    if settings.leeway > 300:
        messages.append(
            Warning(
                f"BEARER_GUARD['LEEWAY'] is {settings.leeway} s: expired tokens stay usable that long.",
                hint="Keep LEEWAY to the clock skew you expect (30-60 s).",
                id="bearer_guard.W003",
            )
        )
    return messages


@register(Tags.security, Tags.urls)
def check_views(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Report DRF views that use ``HasScopes`` or ``AllowedWorkloads`` without declaring what they need."""
    from django_bearer_guard.permissions import check_scope_declarations
    from django_bearer_guard.views import check_file_roots

    return [*check_scope_declarations(app_configs, **kwargs), *check_file_roots(app_configs, **kwargs)]
