"""Serve the example project and print the demo's curl commands once it answers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from example_project.demo.dev_issuer import NAME, mint
from example_project.demo.management.commands.demo_setup import PASSWORD_FILE, setup_admin, setup_issuers

_MANAGE = Path(__file__).resolve().parents[4] / "example_project" / "manage.py"


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _status(url: str, headers: dict[str, str] | None = None) -> int | None:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return None


class Command(BaseCommand):
    help = (
        "Migrate, make the demo's issuer rows and admin user, run the development server on DEMO_ADDR,"
        " wait until it accepts a token, print the curls and the admin login, keep serving."
    )

    # The checks run in handle(), once the issuer row exists and with the database that holds it.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--wait", type=float, default=30.0, help="Seconds to wait for the server.")

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0, skip_checks=True)
        setup_issuers()
        username, password = setup_admin()
        # With the database, so the checks count the issuer row (runserver's own would not).
        call_command("check", "--database", "default", stdout=self.stdout, stderr=self.stderr)
        # Stopped by SIGTERM as by Ctrl-C: the server process goes with it.
        signal.signal(signal.SIGTERM, _interrupt)
        env = {**os.environ, "BG_DEMO_ADDR": settings.DEMO_ADDR}
        server = subprocess.Popen(
            [sys.executable, str(_MANAGE), "runserver", "--noreload", "--skip-checks", settings.DEMO_ADDR],
            env=env,
        )
        try:
            self._wait(server, options["wait"])
            self.stdout.write("\n")
            call_command("demo_tokens", stdout=self.stdout)
            admin = f"{settings.DEMO_ORIGIN}/admin/"
            self.stdout.write(f"# Admin: {admin} (user: {username}, password: {password})")
            self.stdout.write(f"#   the password is kept in {Path(settings.DEMO_KEYS_DIR) / PASSWORD_FILE}")
            self.stdout.write(
                f"# Disable {NAME!r} there and the first curl answers 401 within a few seconds;"
                " enable it and it answers 200 again."
            )
            self.stdout.write(f"# Serving on {settings.DEMO_ORIGIN}; press Ctrl-C to stop.")
            self.stdout.flush()
            server.wait()
        except KeyboardInterrupt:
            pass
        finally:
            if server.poll() is None:
                server.terminate()
            server.wait()

    def _wait(self, server: subprocess.Popen[bytes], seconds: float) -> None:
        # Accepting a token shows the server read the issuer row and fetched its keys: the admin
        # then shows the issuer healthy.
        checks = [
            (f"{settings.DEMO_ISSUER}/.well-known/jwks.json", {}),
            (f"{settings.DEMO_ORIGIN}/api/whoami/", {"Authorization": f"Bearer {mint()}"}),
        ]
        deadline = time.monotonic() + seconds
        for url, headers in checks:
            while (status := _status(url, headers)) != 200:
                if server.poll() is not None or time.monotonic() > deadline:
                    answer = status or "nothing"
                    raise CommandError(f"{url} answers {answer}: the demo on {settings.DEMO_ADDR} is not up")
                time.sleep(0.2)
