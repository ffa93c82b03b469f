"""A small, strict HTTP GET for key material: total deadline, size cap, no redirects."""

from __future__ import annotations

import contextlib
import http.client
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django_bearer_guard import __version__
from django_bearer_guard._json import JSONError, loads_object
from django_bearer_guard._urls import key_url_problem
from django_bearer_guard.exceptions import KeyFetchError

_ssl_context: ssl.SSLContext | None = None
_ssl_lock = threading.Lock()
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d{1,10})\"?\s*(?:,|$)", re.IGNORECASE)
_NO_STORE = re.compile(r"(?:^|,)\s*(?:no-store|no-cache)\s*(?:,|$)", re.IGNORECASE)


def ssl_context() -> ssl.SSLContext:
    """One verifying client context for every fetch (building one costs ~20 ms of CPU)."""
    global _ssl_context
    with _ssl_lock:
        if _ssl_context is None:
            _ssl_context = ssl.create_default_context()
        return _ssl_context


@dataclass(frozen=True)
class JSONResponse:
    """A fetched JSON object and the freshness its server announced."""

    data: dict[str, Any]
    max_age: int | None


def parse_max_age(cache_control: str | None) -> int | None:
    """Seconds from ``Cache-Control: max-age``; ``0`` for no-store/no-cache; ``None`` if absent."""
    if not cache_control:
        return None
    if _NO_STORE.search(cache_control):
        return 0
    match = _MAX_AGE.search(cache_control)
    return int(match.group(1)) if match else None


def _abort(conn: http.client.HTTPConnection) -> None:
    sock = conn.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _read_body(
    conn: http.client.HTTPConnection, response: http.client.HTTPResponse, url: str, deadline: float, max_bytes: int
) -> bytes:
    length = response.getheader("Content-Length")
    if length and length.isdigit() and int(length) > max_bytes:
        raise KeyFetchError(f"{url} announced {length} bytes, over the {max_bytes} byte cap")
    body = bytearray()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise KeyFetchError(f"{url} took too long")
        if conn.sock is not None:
            conn.sock.settimeout(remaining)
        chunk = response.read1(65536)
        if not chunk:
            return bytes(body)
        body += chunk
        if len(body) > max_bytes:
            raise KeyFetchError(f"{url} sent more than {max_bytes} bytes")


PeerPolicy = Callable[[str], "str | None"]


def _connect_checked(peers: PeerPolicy) -> Callable[..., socket.socket]:
    def connect(address: tuple[str, int], timeout: float, source_address: Any = None) -> socket.socket:
        sock = socket.create_connection(address, timeout, source_address)
        peer = str(sock.getpeername()[0])
        # Checked on the connected socket, before TLS or a byte of HTTP: DNS rebinding cannot slip past.
        problem = peers(peer)
        if problem is not None:
            sock.close()
            raise KeyFetchError(f"{address[0]} resolved to {peer}, which {problem}")
        return sock

    return connect


def get_json(
    url: str, *, timeout: float, max_bytes: int, allow_http_loopback: bool, peers: PeerPolicy | None = None
) -> JSONResponse:
    """GET ``url`` and parse a JSON object, within ``timeout`` seconds in total.

    ``peers``, when given, vets the address the host name resolved to before anything is sent
    (it returns why the address is refused, or ``None``). Raises :class:`KeyFetchError` for a
    refused URL or peer, a network error, a status other than 200, a redirect, a body over
    ``max_bytes``, a blown deadline or anything but a JSON object.
    """
    problem = key_url_problem(url, allow_http_loopback=allow_http_loopback)
    if problem:
        raise KeyFetchError(f"refusing to fetch {url!r}: it {problem}")
    parts = urlsplit(url)
    host = parts.hostname or ""
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    # Always an explicit port: without one, http.client reads an IPv6 host's last group as a port.
    port = parts.port or (443 if parts.scheme == "https" else 80)
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=ssl_context())
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    if peers is not None:
        conn._create_connection = _connect_checked(peers)  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout
    # The socket timeout bounds each operation; the timer bounds the whole exchange.
    watchdog = threading.Timer(timeout, _abort, args=(conn,))
    watchdog.daemon = True
    watchdog.start()
    try:
        conn.request(
            "GET",
            target,
            headers={
                "Accept": "application/json, application/jwk-set+json",
                "User-Agent": f"django-bearer-guard/{__version__}",
                "Connection": "close",
            },
        )
        response = conn.getresponse()
        if response.status != 200:
            raise KeyFetchError(f"{url} answered HTTP {response.status}")
        body = _read_body(conn, response, url, deadline, max_bytes)
        if time.monotonic() > deadline:
            raise KeyFetchError(f"{url} took longer than {timeout}s")
        data = loads_object(body)
        return JSONResponse(data, parse_max_age(response.getheader("Cache-Control")))
    except KeyFetchError:
        raise
    except JSONError as exc:
        raise KeyFetchError(f"{url} did not send a JSON object: {exc}") from None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise KeyFetchError(f"fetching {url} failed: {type(exc).__name__}: {exc}") from None
    finally:
        watchdog.cancel()
        conn.close()
