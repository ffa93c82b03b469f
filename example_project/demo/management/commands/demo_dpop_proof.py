"""Print a fresh DPoP proof of the demo client's key, as a DPoP client makes before each request."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from example_project.demo.dev_clients import dpop_proof


class Command(BaseCommand):
    help = (
        "Print a DPoP proof (RFC 9449) for one request: METHOD and URL are the request's, --token its"
        " DPoP-bound access token. The proof is good once, for about a minute."
    )
    # A client tool: it reads no issuer, so the API's checks have nothing to say here.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("method", help="The request's method, e.g. GET.")
        parser.add_argument("url", help="The request's URL (the query, if any, is not part of the proof).")
        parser.add_argument("--token", required=True, help="The DPoP-bound access token the request carries.")

    def handle(self, *args: Any, **options: Any) -> None:
        url: str = options["url"]
        if not url.startswith(("http://", "https://")):
            raise CommandError(f"the URL must be absolute (http:// or https://), not {url!r}")
        # RFC 9449 §4.2: htu is the URL without query and fragment.
        htu = url.partition("#")[0].partition("?")[0]
        self.stdout.write(dpop_proof(options["method"].upper(), htu, options["token"]))
