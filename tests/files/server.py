"""A real HTTP server on 127.0.0.1 for the file view, and a raw-socket client that sends targets verbatim."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def running_server() -> Iterator[tuple[str, int]]:
    """Django's development WSGI server in a thread, on an ephemeral port."""
    server = ThreadedWSGIServer(("127.0.0.1", 0), _QuietHandler, allow_reuse_address=True)
    server.set_app(WSGIHandler())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield str(host), int(port)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass
class RawResponse:
    status: int
    head: bytes
    body: bytes

    def header(self, name: str) -> str | None:
        match = re.search(rb"\r\n" + name.encode() + rb":\s*([^\r\n]*)", self.head, re.IGNORECASE)
        return match.group(1).decode("latin-1") if match else None


def raw_get(address: tuple[str, int], target: bytes, headers: dict[str, str], method: str = "GET") -> RawResponse:
    """Send ``target`` byte for byte as the request target; read until the server closes."""
    lines = [method.encode() + b" " + target + b" HTTP/1.1", f"Host: {address[0]}:{address[1]}".encode()]
    lines += [f"{name}: {value}".encode() for name, value in headers.items()]
    lines.append(b"Connection: close")
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    data = b"".join(chunks)
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    return RawResponse(status, head, body)
