"""Benchmark ProtectedFileView against a bare Django FileResponse view under gunicorn.

Run: .venv/bin/python bench/bench_files.py [--rounds 7] [--small 300]

Starts gunicorn (one sync worker) on 127.0.0.1 serving tests/files_urls.py, then, in
interleaved rounds, downloads a 256 MiB file through the view and through the bare view
(files with a real fileno: sendfile; and files without one: streamed in blocks), and times
1 KiB requests. Prints medians and ratios. Tokens come from a LocalIssuer whose keys are
given inline (no key server is needed).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from django_bearer_guard.testing import LocalIssuer  # noqa: E402
from tests.files.gunicorn_server import GunicornServer  # noqa: E402

MIB = 1024 * 1024


def fetch(address: tuple[str, int], target: str, token: str | None) -> int:
    """GET ``target`` and return the number of body bytes (headers skipped)."""
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    request = f"GET {target} HTTP/1.1\r\nHost: bench\r\n{auth}Connection: close\r\n\r\n".encode()
    buffer = bytearray(4 * MIB)
    total, header_end = 0, -1
    head = b""
    with socket.create_connection(address) as sock:
        sock.sendall(request)
        while count := sock.recv_into(buffer):
            if header_end < 0:
                head += bytes(buffer[:count])
                header_end = head.find(b"\r\n\r\n")
                if header_end >= 0:
                    total += len(head) - header_end - 4
                    if not head.startswith(b"HTTP/1.1 200"):
                        raise RuntimeError(head[:200])
            else:
                total += count
    return total


def timed(address: tuple[str, int], target: str, token: str | None, expected: int) -> float:
    started = time.perf_counter()
    size = fetch(address, target, token)
    elapsed = time.perf_counter() - started
    if size != expected:
        raise RuntimeError(f"{target}: got {size} bytes, expected {expected}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--small", type=int, default=300, help="1 KiB requests per variant and round")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, LocalIssuer() as idp:
        public = Path(tmp) / "public"
        public.mkdir()
        with open(public / "big.bin", "wb") as big:
            for _ in range(256):
                big.write(os.urandom(MIB))
        (public / "small.bin").write_bytes(os.urandom(1024))
        guard = {"ALLOW_HTTP_LOOPBACK": True, "ISSUERS": [idp.issuer_settings(jwks=idp.jwks())]}
        token = idp.mint(scope="files:read", lifetime=3600)
        server = GunicornServer(Path(tmp), guard)
        try:
            large = {
                "view, fileno": ("/files/big.bin", token),
                "bare, fileno": ("/bare/big.bin", None),
                "view, no fileno": ("/stream/big.bin", token),
                "bare, no fileno": ("/bare-stream/big.bin", None),
            }
            small = {
                "view, 1 KiB": ("/files/small.bin", token),
                "view no auth, 1 KiB": ("/open/small.bin", None),
                "bare, 1 KiB": ("/bare/small.bin", None),
            }
            for target, auth in [*large.values(), *small.values()]:  # warm up
                fetch(server.address, target, auth)
            seconds: dict[str, list[float]] = {name: [] for name in [*large, *small]}
            for _ in range(args.rounds):
                for name, (target, auth) in large.items():
                    seconds[name].append(timed(server.address, target, auth, 256 * MIB))
                for _ in range(args.small):
                    for name, (target, auth) in small.items():
                        seconds[name].append(timed(server.address, target, auth, 1024))
        finally:
            server.stop()
    median = {name: statistics.median(values) for name, values in seconds.items()}
    for name in large:
        print(f"{name:18} {256 / median[name]:8.0f} MiB/s")
    for name in small:
        print(f"{name:18} {median[name] * 1e6:8.0f} µs/request")
    print(f"ratio view/bare, fileno:    {median['bare, fileno'] / median['view, fileno']:.2f}x")
    print(f"ratio view/bare, no fileno: {median['bare, no fileno'] / median['view, no fileno']:.2f}x")
    print(f"ratio view no fileno / bare sendfile: {median['bare, fileno'] / median['view, no fileno']:.2f}x")
    overhead = median["view, 1 KiB"] - median["bare, 1 KiB"]
    print(f"1 KiB overhead: {overhead * 1e6:.0f} µs/request ({median['bare, 1 KiB'] / median['view, 1 KiB']:.2f}x)")
    unauthenticated = median["view no auth, 1 KiB"] - median["bare, 1 KiB"]
    print(f"1 KiB overhead without token validation: {unauthenticated * 1e6:.0f} µs/request")


if __name__ == "__main__":
    main()
