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

_MANAGE = Path(__file__).resolve().parents[4] / "example_project" / "manage.py"


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


class Command(BaseCommand):
    help = "Run the development server, wait until it answers, print the curls, keep serving."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--wait", type=float, default=30.0, help="Seconds to wait for the server.")

    def handle(self, *args: Any, **options: Any) -> None:
        # Stopped by SIGTERM as by Ctrl-C: the server process goes with it.
        signal.signal(signal.SIGTERM, _interrupt)
        env = {**os.environ, "BG_DEMO_ADDR": settings.DEMO_ADDR}
        server = subprocess.Popen(
            [sys.executable, str(_MANAGE), "runserver", "--noreload", settings.DEMO_ADDR], env=env
        )
        try:
            deadline = time.monotonic() + options["wait"]
            # Fetching the JWKS also makes the development keys on first run.
            while not _answers(f"{settings.DEMO_ISSUER}/.well-known/jwks.json"):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise CommandError(f"the server on {settings.DEMO_ADDR} did not start")
                time.sleep(0.2)
            self.stdout.write("\n")
            call_command("demo_tokens", stdout=self.stdout)
            self.stdout.write(f"# Serving on {settings.DEMO_ORIGIN}; press Ctrl-C to stop.")
            self.stdout.flush()
            server.wait()
        except KeyboardInterrupt:
            pass
        finally:
            if server.poll() is None:
                server.terminate()
            server.wait()
