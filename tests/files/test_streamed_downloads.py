"""Streamed answers close their file whatever happens, and never send more than Content-Length."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest

from tests.files.fixtures import Store
from tests.files.probes import start_and_abort as _start_and_abort
from tests.files.probes import wait_closed as _wait_closed
from tests.files.server import raw_get


@pytest.mark.parametrize(
    ("target", "extra"),
    [
        ("/files/big.bin", ""),
        ("/files/big.bin", "Range: bytes=100-\r\n"),
        ("/files/big.bin", "Range: bytes=100-9000000\r\n"),
        ("/stream/big.bin", ""),
        ("/stream/big.bin", "Range: bytes=5-9000000\r\n"),
    ],
)
def test_client_disconnect_mid_download_closes_the_file(
    store: Store, server: tuple[str, int], bearer: Callable[..., dict[str, str]], target: str, extra: str
) -> None:
    big = store.write("big.bin", b"a" * (16 << 20))
    token = bearer()["HTTP_AUTHORIZATION"].removeprefix("Bearer ")
    first = _start_and_abort(server, target, token, extra)
    assert first.startswith((b"HTTP/1.1 200", b"HTTP/1.1 206"))
    assert _wait_closed(big) == []


@pytest.mark.parametrize("extra", ["", "Range: bytes=5000000-\r\n", "If-None-Match: *\r\n", "Range: bytes=1-2\r\n"])
def test_every_answer_closes_the_file(
    store: Store, server: tuple[str, int], bearer: Callable[..., dict[str, str]], extra: str
) -> None:
    big = store.write("big.bin", b"a" * (1 << 20))
    token = bearer()["HTTP_AUTHORIZATION"].removeprefix("Bearer ")
    for method in ("GET", "HEAD"):
        headers = {"Authorization": f"Bearer {token}"}
        if extra:
            name, value = extra.strip().split(": ", 1)
            headers[name] = value
        raw_get(server, b"/files/big.bin", headers, method=method)
        raw_get(server, b"/accel/big.bin", headers, method=method)
        assert _wait_closed(big) == []


@pytest.mark.parametrize("target", ["/files/grow.bin", "/stream/grow.bin"])
def test_growing_file_never_sends_more_than_content_length(
    store: Store, server: tuple[str, int], bearer: Callable[..., dict[str, str]], target: str
) -> None:
    grow = store.write("grow.bin", b"a" * (8 << 20))
    token = bearer()["HTTP_AUTHORIZATION"].removeprefix("Bearer ")
    with socket.socket() as sock:
        # A small receive window keeps the server from reading the whole file before the append.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        sock.settimeout(10)
        sock.connect(server)
        request = f"GET {target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        sock.sendall(request.encode())
        data = sock.recv(4096)
        with open(grow, "ab") as tail:
            tail.write(b"HTTP/1.1 200 OK\r\nX-Smuggled: yes\r\n\r\n" * 100)
        while chunk := sock.recv(1 << 20):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"Content-Length: 8388608" in head
    assert len(body) == 8 << 20
