"""``manage.py bearer_guard_refresh_keys``: fetch every trusted issuer's keys now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_bearer_guard.exceptions import KeySetError
from django_bearer_guard.management.terminal import printable
from django_bearer_guard.runtime import get_runtime

__all__ = ["Command"]


class Command(BaseCommand):
    """Prefetch the keys of every configured issuer (or one) and print their key ids.

    Useful at deploy time, before traffic arrives, and to check that an issuer is reachable.
    Exits with status 1 when any fetch failed.
    """

    help = "Fetch the signing keys of every trusted issuer now and print their key ids."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--issuer", metavar="ISS", help="Only this issuer (its exact iss or its name).")

    def handle(self, *args: Any, **options: Any) -> None:
        wanted = options.get("issuer")
        runtime = get_runtime()
        issuers = [
            config for config in runtime.issuers.all_issuers()
            if wanted is None or wanted in (config.issuer, config.name)
        ]
        if wanted is not None and not issuers:
            raise CommandError(f"No configured issuer is {wanted!r}.")
        failed = 0
        for config in issuers:
            label = config.name or config.issuer
            if not config.enabled:
                self.stdout.write(printable(f"{label}: disabled, skipped"))
                continue
            try:
                keyset = runtime.keys.refresh_now(config)
            except KeySetError as exc:
                failed += 1
                self.stderr.write(printable(f"{label}: FAILED: {exc.reason}"))
                continue
            kids = ", ".join(kid if kid is not None else "(no kid)" for kid in keyset.kids)
            self.stdout.write(printable(f"{label}: {len(keyset)} keys: {kids}"))
        if failed:
            raise CommandError(f"{failed} of {len(issuers)} issuers failed.")
