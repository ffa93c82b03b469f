"""A Redis server of the test's own: started, stopped, paused and resumed by the test.

``redis-server`` runs as a subprocess on a free port of 127.0.0.1, without persistence, so a
restart on the same port comes back empty, as a Redis that lost its memory does. Stopping uses
the server's pid (SIGTERM, then SIGKILL); pausing sends SIGSTOP, which leaves connections open
and unanswered, as a hung server or a frozen VM does.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.support.live import free_port

__all__ = ["RedisServer", "redis_server"]


class RedisServer:
    """``redis-server`` on ``127.0.0.1:port`` with its log and working directory in ``directory``."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not on PATH (apt-get install redis-server)")
        self.binary = binary
        self.directory = directory
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.paused = False

    @property
    def url(self) -> str:
        """The ``LOCATION`` of a Django Redis cache on this server (database 0)."""
        return f"redis://127.0.0.1:{self.port}/0"

    def caches(self, **options: Any) -> dict[str, Any]:
        """A ``CACHES`` setting whose default cache is this server; ``options`` go into its entry."""
        return {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": self.url,
                            **options}}

    def start(self) -> RedisServer:
        """Start the server (again, on the same port) and wait until it answers PING."""
        if self.process is not None:
            raise RuntimeError("redis-server is already running")
        self.directory.mkdir(parents=True, exist_ok=True)
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no", "--daemonize", "no", "--dir", str(self.directory),
                   "--logfile", str(self.directory / "redis.log")]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not self.answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)
        return self

    def answers(self, timeout: float = 0.5) -> bool:
        """True when the server answers PING within ``timeout`` seconds."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """End the server by its pid: SIGTERM, then SIGKILL if it lingers."""
        process, self.process = self.process, None
        if process is None:
            return
        if self.paused:
            self._continue(process)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): it accepts connections and never answers."""
        if self.process is None:
            raise RuntimeError("redis-server is not running")
        self.process.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        """Let a paused server go on (SIGCONT)."""
        if self.process is not None:
            self._continue(self.process)

    def _continue(self, process: subprocess.Popen[bytes]) -> None:
        process.send_signal(signal.SIGCONT)
        self.paused = False


@contextlib.contextmanager
def redis_server(directory: Path) -> Iterator[RedisServer]:
    """A started :class:`RedisServer`, stopped on the way out whatever state the test left it in."""
    server = RedisServer(directory).start()
    try:
        yield server
    finally:
        server.stop()
