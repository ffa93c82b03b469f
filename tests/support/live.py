"""The test URLs served for real on 127.0.0.1: gunicorn in a subprocess, the development server in a thread.

Requests go out through ``http.client`` with every Authorization header exactly as given.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler

ROOT = Path(__file__).resolve().parents[2]
Address = tuple[str, int]


def live_application() -> Any:
    """The WSGI app gunicorn serves: the test settings with ``BEARER_GUARD`` from ``BG_FUZZ_GUARD``."""
    from django.conf import settings

    settings.BEARER_GUARD = json.loads(os.environ["BG_FUZZ_GUARD"])
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(address: Address, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("gunicorn exited")
        try:
            status, _ = send(address, "/whoami/", [])
        except OSError:
            time.sleep(0.05)
            continue
        if status == 401:
            return
    raise RuntimeError("gunicorn did not answer")


@contextlib.contextmanager
def gunicorn(guard: dict[str, Any], log_path: Path) -> Iterator[Address]:
    """gunicorn serving ``tests.urls`` with ``BEARER_GUARD = guard``; no traceback may reach its log."""
    address = ("127.0.0.1", free_port())
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONPATH": str(ROOT),
           "BG_FUZZ_GUARD": json.dumps(guard)}
    env.pop("PYTHONDEVMODE", None)
    command = [sys.executable, "-m", "gunicorn", "--bind", f"{address[0]}:{address[1]}", "--workers", "2",
               # gunicorn's default 8190-byte header line would answer 431 before MAX_TOKEN_BYTES applies.
               "--limit-request-field_size", "16384", "--log-level", "warning",
               "tests.support.live:live_application()"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=log)
        try:
            _wait_for(address, process)
            yield address
        finally:
            process.terminate()
            process.wait(timeout=20)
    assert b"Traceback" not in log_path.read_bytes()


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def development_server() -> Iterator[Address]:
    """Django's development server in a thread, serving the current ``ROOT_URLCONF``."""
    server = ThreadedWSGIServer(("127.0.0.1", 0), _QuietHandler, allow_reuse_address=True)
    server.set_app(WSGIHandler())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield ("127.0.0.1", server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def send(address: Address, path: str, authorization: list[bytes]) -> tuple[int, http.client.HTTPMessage]:
    """GET ``path`` with one Authorization header per item; the status and headers of the answer."""
    conn = http.client.HTTPConnection(*address, timeout=10)
    try:
        conn.putrequest("GET", path)
        for value in authorization:
            conn.putheader("Authorization", value)
        conn.putheader("Connection", "close")
        conn.endheaders()
        response = conn.getresponse()
        response.read()
        return response.status, response.headers
    finally:
        conn.close()
