"""Management commands run for real: ``python -m django <command>`` in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def run(command: str, *args: str, settings: dict[str, Any], stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """Run ``command`` with the test settings plus ``settings``; its exit status and output, as bytes."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.support.command_settings",
        "PYTHONPATH": str(ROOT),
        "BG_COMMAND_SETTINGS": json.dumps(settings),
    }
    return subprocess.run(
        [sys.executable, "-m", "django", command, *args],
        env=env, cwd=ROOT, input=stdin, capture_output=True, timeout=60, check=False,
    )
