"""``manage.py bearer_guard_issuers``: every trusted issuer with the health of its keys."""

from __future__ import annotations

import dataclasses
import datetime
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from django_bearer_guard import _clock
from django_bearer_guard.jwks.health import IssuerHealth
from django_bearer_guard.management.terminal import printable
from django_bearer_guard.runtime import all_health, get_runtime, issuer_health
from django_bearer_guard.tokens.trace import in_words

__all__ = ["Command"]


def _as_data(health: IssuerHealth) -> dict[str, Any]:
    config = health.config
    return {
        "name": config.name,
        "issuer": config.issuer,
        "origin": health.origin,
        "enabled": config.enabled,
        "status": health.status,
        "source": health.source,
        "keys": [dataclasses.asdict(key) for key in health.keys],
        "last_attempt_at": health.last_attempt_at,
        "last_success_at": health.last_success_at,
        "last_error": health.last_error,
        "expires_at": health.expires_at,
        "stale_until": health.stale_until,
        "problems": list(health.problems),
    }


def _when(timestamp: float | None, now: float) -> str:
    if timestamp is None:
        return "never"
    moment = datetime.datetime.fromtimestamp(timestamp, tz=datetime.timezone.utc)
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC ({in_words(now - timestamp)} ago)"


def _render(health: IssuerHealth, now: float) -> list[str]:
    config = health.config
    kids = ", ".join(repr(key.kid) for key in health.keys)
    rows = [
        ("issuer", config.issuer),
        ("key source", health.source),
        ("keys", f"{len(health.keys)} (kid {kids})" if kids else "0"),
        ("last success", _when(health.last_success_at, now)),
        ("last error", health.last_error or "none"),
        *(("problem", problem) for problem in health.problems),
    ]
    title = f"{config.name or config.issuer} ({health.origin}): {health.status}"
    return [title, *(f"  {label:<12}  {value}" for label, value in rows)]


class Command(BaseCommand):
    """Print every trusted issuer, from the settings and the database, with its key health.

    For each: where it is configured, its status (``healthy``, ``stale``, ``failing``,
    ``misconfigured``, ``disabled``, ``shadowed``, ``not fetched yet``), its key source, the
    keys it serves, its last successful fetch and its last error. Nothing is fetched: run
    ``bearer_guard_refresh_keys`` for that. Exits with 1 when the database rows cannot be read.
    """

    help = "List the trusted issuers (settings and database) with the status and health of their keys."
    # Each issuer's configuration problems are part of what is printed.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print the issuers as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        unreadable = None
        try:
            healths = all_health()
        except DatabaseError as exc:
            # The settings' issuers still say something; the rows' absence is the error.
            unreadable = exc
            healths = [issuer_health(config) for config in get_runtime().settings.issuers]
        if options.get("json"):
            self.stdout.write(json.dumps([_as_data(health) for health in healths], indent=2))
        elif healths:
            now = _clock.now()
            self.stdout.write(printable("\n\n".join("\n".join(_render(health, now)) for health in healths)))
        elif unreadable is None:
            self.stdout.write("No trusted issuers: add one to BEARER_GUARD['ISSUERS'] or as a TrustedIssuer row.")
        if unreadable is not None:
            raise CommandError(f"The TrustedIssuer rows cannot be read: {unreadable}", returncode=1)
