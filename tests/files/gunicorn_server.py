"""Start and stop gunicorn serving the file view test URLs (used by the large-download test and bench/)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class GunicornServer:
    """``gunicorn`` with one sync worker on 127.0.0.1; ``worker_pid`` for memory readings."""

    def __init__(
        self, location: Path, guard: dict[str, Any], *, workers: int = 1, urlconf: str = "tests.files_urls"
    ) -> None:
        self.port = _free_port()
        self.address = ("127.0.0.1", self.port)
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.files.server_settings",
            "BG_FILES_LOCATION": str(location),
            "BG_GUARD": json.dumps(guard),
            "BG_URLCONF": urlconf,
            "PYTHONPATH": str(ROOT),
        }
        env.pop("PYTHONDEVMODE", None)
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            "--log-level",
            "warning",
            "--timeout",
            "120",
            "django.core.wsgi:get_wsgi_application()",
        ]
        self.process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
        self._wait()

    def _wait(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(self.address, timeout=0.2).close()
            except OSError:
                time.sleep(0.05)
                continue
            if self.worker_pids():
                return
        self.stop()
        raise RuntimeError("gunicorn did not start")

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()] if children.exists() else []

    def peak_rss_kib(self, pid: int) -> int:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise LookupError("VmHWM")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)
