from __future__ import annotations

import datetime
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from django_bearer_guard import _http
from django_bearer_guard.exceptions import KeyFetchError
from django_bearer_guard.testing import LocalIssuer


class _Handler(BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        status, headers, body = self.routes.get(self.path, (404, {}, b""))
        self.send_response(status)
        for name, value in headers.items():
            if name != "X-Omit-Length":
                self.send_header(name, value)
        if "Content-Length" not in headers and "X-Omit-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[tuple[str, dict[str, tuple[int, dict[str, str], bytes]]]]:
    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
    handler = type("Handler", (_Handler,), {"routes": routes})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", routes
    httpd.shutdown()
    thread.join()
    httpd.server_close()


def get(url: str, **kwargs: Any) -> _http.JSONResponse:
    options: dict[str, Any] = {"timeout": 2.0, "max_bytes": 1024, "allow_http_loopback": True, **kwargs}
    return _http.get_json(url, **options)


def test_ssl_context_is_built_once_and_verifies() -> None:
    context = _http.ssl_context()
    assert _http.ssl_context() is context
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("max-age=600", 600),
        ("public, max-age=60, must-revalidate", 60),
        ('max-age="120"', 120),
        ("MAX-AGE=5", 5),
        ("no-store", 0),
        ("private, no-cache", 0),
        ("s-maxage=100", None),
        ("max-age=-1", None),
        ("max-age=abc", None),
    ],
)
def test_parse_max_age(header: str | None, expected: int | None) -> None:
    assert _http.parse_max_age(header) == expected


def test_get_json_returns_object_and_max_age(server: Any) -> None:
    url, routes = server
    routes["/jwks"] = (200, {"Cache-Control": "max-age=900"}, b'{"keys": []}')
    assert get(url + "/jwks") == _http.JSONResponse({"keys": []}, 900)


@pytest.mark.parametrize(
    ("route", "reason"),
    [
        ((302, {"Location": "https://elsewhere.example/jwks"}, b""), "HTTP 302"),
        ((500, {}, b"{}"), "HTTP 500"),
        ((200, {}, b"[1, 2]"), "JSON object"),
        ((200, {}, b'{"a": 1, "a": 2}'), "JSON object"),
        ((200, {"Content-Length": "999999"}, b"{}"), "over the 1024 byte cap"),
        ((200, {"X-Omit-Length": "1"}, b'{"k": "' + b"x" * 2000 + b'"}'), "more than 1024 bytes"),
        ((200, {}, b'{"k": "' + b"x" * 2000 + b'"}'), "announced 2009 bytes"),
    ],
)
def test_get_json_refuses_redirects_errors_garbage_and_oversize(server: Any, route: Any, reason: str) -> None:
    url, routes = server
    routes["/jwks"] = route
    with pytest.raises(KeyFetchError, match=reason):
        get(url + "/jwks")


def test_get_json_refuses_a_url_the_settings_forbid(server: Any) -> None:
    url, routes = server
    routes["/jwks"] = (200, {}, b"{}")
    with pytest.raises(KeyFetchError, match="ALLOW_HTTP_LOOPBACK"):
        get(url + "/jwks", allow_http_loopback=False)


def test_get_json_reports_connection_refused(server: Any) -> None:
    with pytest.raises(KeyFetchError, match="failed"):
        get("http://127.0.0.1:1/jwks")


def _self_signed(tmp_path: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    return context


def test_get_json_over_https_verifies_the_certificate(tmp_path: Path) -> None:
    # An untrusted (self-signed) certificate is refused: there is no way to turn verification off.
    handler = type("Handler", (_Handler,), {"routes": {"/jwks": (200, {}, b'{"keys": []}')}})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.socket = _self_signed(tmp_path).wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        with pytest.raises(KeyFetchError, match="CERTIFICATE_VERIFY_FAILED"):
            get(f"https://127.0.0.1:{httpd.server_address[1]}/jwks", allow_http_loopback=False)
    finally:
        httpd.shutdown()
        thread.join()
        httpd.server_close()


@pytest.mark.parametrize("char", ["\r\n", "\n", "\t", " ", "\x00", "\x7f", "\x85", "\xa0", "\u2028"])
def test_get_json_refuses_whitespace_and_control_characters_before_connecting(idp: LocalIssuer, char: str) -> None:
    # urlsplit would drop tab, CR and LF and fetch a URL other than the one given.
    url = idp.url + idp.jwks_path
    for unsafe in (url + char, char + url, url.replace("jwks", "jw" + char + "ks")):
        with pytest.raises(KeyFetchError, match="whitespace or control characters"):
            get(unsafe, max_bytes=65536)
    assert sum(idp.requests.values()) == 0


def test_get_json_reaches_an_ipv6_literal_host() -> None:
    handler = type("Handler", (_Handler,), {"routes": {"/jwks": (200, {}, b'{"keys": []}')}})
    server_class = type("Server", (ThreadingHTTPServer,), {"address_family": socket.AF_INET6})
    httpd = server_class(("::1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        assert get(f"http://[::1]:{httpd.server_address[1]}/jwks").data == {"keys": []}
    finally:
        httpd.shutdown()
        thread.join()
        httpd.server_close()


def test_get_json_with_an_ipv6_host_and_no_port_fails_as_a_fetch_error() -> None:
    # Given no port, http.client reads the text after the last ":" as one and raises InvalidURL.
    with pytest.raises(KeyFetchError, match="failed"):
        get("https://[::ffff:127.0.0.1]/jwks", timeout=0.5, allow_http_loopback=False)


def test_get_json_counts_time_spent_before_the_connection_exists_against_the_deadline(server: Any) -> None:
    # Nothing can abort a connection that does not exist yet (a slow name lookup, a slow peer
    # check): the body is refused unread once the deadline passed meanwhile.
    url, routes = server
    routes["/jwks"] = (200, {}, b'{"keys": []}')

    def slow_peer_check(peer: str) -> None:
        time.sleep(0.5)

    started = time.monotonic()
    with pytest.raises(KeyFetchError, match="took too long"):
        get(url + "/jwks", timeout=0.3, peers=slow_peer_check)
    assert time.monotonic() - started < 2


@pytest.fixture
def stalled_chunked() -> Iterator[str]:
    """A server that sends a complete JSON object as one chunk, then the last chunk's size and no more."""
    listener = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            while b"\r\n\r\n" not in conn.recv(65536):
                pass
            body = b'{"keys": []}'
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                         + f"{len(body):x}\r\n".encode() + body + b"\r\n")
            time.sleep(0.3)
            conn.sendall(b"0\r\n")  # the final CRLF never comes
            done.wait(10)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    done.set()
    thread.join(10)
    listener.close()


def test_get_json_refuses_a_body_cut_off_at_the_deadline_even_when_it_parses(stalled_chunked: str) -> None:
    # The watchdog ends the read at the deadline; what arrived until then is not the document.
    started = time.monotonic()
    with pytest.raises(KeyFetchError, match=r"took longer than 1\.0s"):
        get(stalled_chunked + "/jwks", timeout=1.0)
    assert time.monotonic() - started < 1.5
