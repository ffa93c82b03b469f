from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from django_bearer_guard.testing import LocalIssuer
from tests.files.fixtures import build_store
from tests.files.gunicorn_server import GunicornServer

GIB = 1024**3


def _download(address: tuple[str, int], target: str, token: str, extra: str = "") -> tuple[bytes, int]:
    """Read a whole response, counting body bytes without keeping them."""
    request = f"GET {target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n{extra}Connection: close\r\n\r\n"
    received = 0
    head = b""
    with socket.create_connection(address, timeout=30) as sock:
        sock.sendall(request.encode())
        buffer = bytearray(1024 * 1024)
        while True:
            count = sock.recv_into(buffer)
            if not count:
                break
            if not head:
                head, _, rest = bytes(buffer[:count]).partition(b"\r\n\r\n")
                received += len(rest)
            else:
                received += count
    return head, received


@pytest.mark.slow
@pytest.mark.parametrize("route", ["files", "stream"])
def test_one_gib_download_keeps_worker_memory_flat(
    tmp_path: Path, make_idp: Callable[..., LocalIssuer], route: str
) -> None:
    store = build_store(tmp_path)
    with open(store.public / "big.bin", "wb") as big:
        big.truncate(GIB)  # sparse: no disk space needed
    idp: LocalIssuer = make_idp()
    guard = {"ALLOW_HTTP_LOOPBACK": True, "ISSUERS": [idp.issuer_settings(jwks=idp.jwks())]}
    token = idp.mint(scope="files:read", lifetime=600)
    server = GunicornServer(store.location, guard)
    try:
        head, size = _download(server.address, f"/{route}/hello.txt", token)
        assert head.startswith(b"HTTP/1.1 200"), head
        (worker,) = server.worker_pids()
        before = server.peak_rss_kib(worker)
        started = time.monotonic()
        head, size = _download(server.address, f"/{route}/big.bin", token)
        elapsed = time.monotonic() - started
        after = server.peak_rss_kib(worker)
        tail_head, tail = _download(server.address, f"/{route}/big.bin", token, f"Range: bytes={GIB - 1000}-\r\n")
        middle_head, middle = _download(server.address, f"/{route}/big.bin", token, "Range: bytes=1000-1999\r\n")
    finally:
        server.stop()
    assert head.startswith(b"HTTP/1.1 200"), head
    assert size == GIB
    assert after - before < 32 * 1024, f"peak RSS grew {after - before} KiB in {elapsed:.1f}s"
    # Ranges through a server that uses sendfile: the length must be exact, not "to the end".
    assert (tail_head.split(b" ", 2)[1], tail) == (b"206", 1000)
    assert (middle_head.split(b" ", 2)[1], middle) == (b"206", 1000)
