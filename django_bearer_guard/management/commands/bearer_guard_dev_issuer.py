"""``manage.py bearer_guard_dev_issuer``: an issuer for development, with its key kept in a file."""

from __future__ import annotations

import contextlib
import json
import shlex
import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from django_bearer_guard.management.terminal import printable
from django_bearer_guard.testing import LocalIssuer, SigningKey
from django_bearer_guard.testing.dev_issuer import KeyFileError, load_key, mint

__all__ = ["DEFAULT_AUDIENCE", "DEFAULT_KEY_FILE", "DEFAULT_PORT", "Command"]

DEFAULT_PORT = 8765
"""Where the issuer listens on 127.0.0.1 unless ``--port`` says otherwise (runserver keeps 8000)."""
DEFAULT_KEY_FILE = ".bearer-guard-dev-key.pem"
"""The signing key's file, in the working directory unless ``--key-file`` says otherwise."""
DEFAULT_AUDIENCE = "http://localhost:8000"
"""The audience of the tokens and of the printed ``ISSUERS`` entry: runserver's address."""

_SETTINGS = """\
BEARER_GUARD = {{
    # ALLOW_HTTP_LOOPBACK must be True: this issuer serves its keys over http:// on 127.0.0.1.
    # Development only: keep this issuer and ALLOW_HTTP_LOOPBACK out of production settings.
    "ALLOW_HTTP_LOOPBACK": True,
    "ISSUERS": [
        {{
{entry}
        }},
    ],
}}"""



class Command(BaseCommand):
    """Serve a development issuer's JWKS and discovery on 127.0.0.1, or print one of its tokens.

    The signing key is made on the first run in ``--key-file`` (readable by its owner only) and
    reused afterwards. The command prints the ``BEARER_GUARD`` settings that trust the issuer and a
    curl line with a fresh token, then serves until Ctrl-C; with ``--mint`` it prints one token and
    exits. It refuses to run unless ``DEBUG`` is true. Exits with 1 when it cannot run and with 2
    on a usage error.
    """

    help = (
        "Serve a development issuer on 127.0.0.1 (DEBUG only) and print the settings that trust it and a"
        " token; with --mint, print one token and exit."
    )
    # A test stops the server by setting this threading.Event.
    stealth_options = ("stop",)
    # The settings may not trust the issuer yet, or not allow http:// yet: this command says how.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--port", type=int, default=DEFAULT_PORT, help=f"The port on 127.0.0.1 (default {DEFAULT_PORT})."
        )
        parser.add_argument(
            "--key-file",
            type=Path,
            default=Path(DEFAULT_KEY_FILE),
            help=f"The PEM private key, made if missing (default ./{DEFAULT_KEY_FILE}; keep it out of git).",
        )
        parser.add_argument("--mint", action="store_true", help="Print one token and exit (no server needed).")
        parser.add_argument(
            "--scope", action="append", default=[], metavar="SCOPE", help="A scope of the token (repeatable)."
        )
        parser.add_argument(
            "--audience", default=DEFAULT_AUDIENCE, help=f"The token's aud (default {DEFAULT_AUDIENCE})."
        )
        parser.add_argument("--subject", default="dev-client", help="The token's sub (default dev-client).")
        parser.add_argument(
            "--lifetime", type=int, default=3600, metavar="SECONDS", help="How long the token is valid (default 3600)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # Run by mistake in a production deploy, it would mint tokens that the API might trust.
        if not settings.DEBUG:
            raise CommandError("bearer_guard_dev_issuer runs only with DEBUG = True: it is for development only.")
        port: int = options["port"]
        if not 0 < port < 65536:
            raise CommandError(f"--port must be between 1 and 65535, not {port}.", returncode=2)
        if options["lifetime"] <= 0:
            raise CommandError(f"--lifetime must be a positive number of seconds, not {options['lifetime']}.",
                               returncode=2)
        path: Path = options["key_file"]
        try:
            key = load_key(path)
        except KeyFileError as exc:
            raise CommandError(printable(f"The key file is refused: {exc}")) from None
        # Whoever can read the key can mint tokens that the API accepts.
        if path.stat().st_mode & 0o077:
            self.stderr.write(printable(f"Warning: {path} is readable by other users; chmod 600 it."))
        issuer = f"http://127.0.0.1:{port}"
        scopes = [scope for value in options["scope"] for scope in value.split()]
        token = mint(
            key,
            issuer=issuer,
            audience=options["audience"],
            subject=options["subject"],
            scopes=scopes,
            lifetime=options["lifetime"],
        )
        if options["mint"]:
            self.stdout.write(token)
            return
        try:
            served = LocalIssuer(
                algorithms=(key.alg,), audience=options["audience"], issuer_path="", keys=[key], port=port
            )
        except OSError as exc:
            raise CommandError(
                f"Cannot listen on 127.0.0.1:{port} ({exc.strerror}); choose another port with --port."
            ) from None
        with served:
            banner = self._banner(served, key, path=path, token=token, scopes=scopes, options=options)
            self.stdout.write(printable(banner))
            self.stdout.flush()
            with contextlib.suppress(KeyboardInterrupt):
                (options.get("stop") or threading.Event()).wait()

    def _banner(
        self,
        served: LocalIssuer,
        key: SigningKey,
        *,
        path: Path,
        token: str,
        scopes: list[str],
        options: dict[str, Any],
    ) -> str:
        entry = served.issuer_settings()
        # JSON strings and lists of strings are Python literals too.
        fields = "\n".join(f"            {json.dumps(name)}: {json.dumps(value, ensure_ascii=False)},"
                           for name, value in entry.items())
        curl = shlex.join(["curl", "-sS", "-i", "-H", f"Authorization: Bearer {token}", f"{DEFAULT_AUDIENCE}/"])
        return "\n".join(
            [
                f"# Development issuer {served.issuer}, on 127.0.0.1 only. Never use it in production.",
                f"#   signing key  {path.resolve()} ({key.alg}, kid {key.kid}): add it to .gitignore",
                f"#   JWKS         {entry['jwks_uri']}",
                f"#   discovery    {served.issuer}/.well-known/openid-configuration",
                "#",
                "# Paste into settings.py (if BEARER_GUARD is there already, add the entry to its ISSUERS",
                '# and set "ALLOW_HTTP_LOOPBACK": True):',
                _SETTINGS.format(entry=fields),
                "",
                f"# A token for {options['subject']!r} (scopes: {' '.join(scopes) or 'none'}), valid"
                f" {options['lifetime']} seconds; more with --mint --scope SCOPE. Put your view's path in the URL:",
                curl,
                "",
                f"# Serving on {served.url}; press Ctrl-C to stop.",
            ]
        )
