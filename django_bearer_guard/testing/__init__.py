"""Helpers for tests: a local issuer with real keys and a JWKS served over HTTP.

>>> with LocalIssuer() as idp:
...     token = idp.mint(scope="files:read")
...     settings.BEARER_GUARD = {"ISSUERS": [idp.issuer_settings()], "ALLOW_HTTP_LOOPBACK": True}

Sender-constrained tokens: :class:`WorkloadCA` makes client certificates with SPIFFE IDs and
their ``X-Forwarded-Client-Cert`` elements (:mod:`~django_bearer_guard.testing.certificates`),
:class:`DPoPKey` makes DPoP keys and proofs (:mod:`~django_bearer_guard.testing.dpop`).

Nothing here is used by the library at run time; it exists for adopters' tests and the demo.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt

from django_bearer_guard import _clock
from django_bearer_guard.testing.certificates import WorkloadCA, WorkloadCertificate, xfcc_header
from django_bearer_guard.testing.dpop import DPoPKey
from django_bearer_guard.testing.keys import SigningKey, generate_key

__all__ = [
    "Clock",
    "DPoPKey",
    "LocalIssuer",
    "SigningKey",
    "WorkloadCA",
    "WorkloadCertificate",
    "generate_key",
    "use_clock",
    "xfcc_header",
]



@contextlib.contextmanager
def use_clock(fn: Callable[[], float]) -> Iterator[Callable[[], float]]:
    """Replace the library's clock with ``fn`` inside the block."""
    previous = _clock.set_clock(fn)
    try:
        yield fn
    finally:
        _clock.set_clock(previous)


class Clock:
    """A manual clock for :func:`use_clock`: ``clock.advance(seconds)`` moves time on."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``."""
        self.now += seconds


class LocalIssuer:
    """An identity provider on 127.0.0.1: key pairs, a served JWKS and discovery, ``mint()``.

    The server is real HTTP, and its behaviour can be changed while it runs: ``mode`` is
    ``"ok"``, ``"down"`` (503), ``"garbage"`` (not JSON), ``"oversized"`` (a huge body),
    ``"slow"`` (waits ``delay`` seconds first) or ``"dribble"`` (one byte per ``delay``);
    ``cache_control`` sets the header; ``requests`` counts the requests per path. It listens on
    ``port`` (default: a free one), and a port in use raises :class:`OSError`.
    """

    jwks_path = "/.well-known/jwks.json"

    def __init__(
        self,
        *,
        algorithms: tuple[str, ...] = ("RS256",),
        audience: str = "https://api.example.test",
        issuer_path: str = "/",
        keys: list[SigningKey] | None = None,
        port: int = 0,
    ) -> None:
        self.audience = audience
        self.algorithms = algorithms
        self.keys: list[SigningKey] = list(keys) if keys else [generate_key(alg) for alg in algorithms]
        self.mode = "ok"
        self.delay = 0.0
        self.cache_control: str | None = "max-age=300"
        self.metadata_issuer: str | None = None
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.issuer = self.url + issuer_path

    # -- server --------------------------------------------------------------------------
    def start(self) -> LocalIssuer:
        """Serve in a background thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (afterwards connections are refused)."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> LocalIssuer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fetches(self, path: str | None = None) -> int:
        """How many requests reached ``path`` (default: the JWKS)."""
        with self._lock:
            return self.requests[path or self.jwks_path]

    def jwks(self) -> dict[str, Any]:
        """The published JWK Set."""
        return {"keys": [key.public_jwk() for key in self.keys]}

    def metadata(self) -> dict[str, Any]:
        """The discovery document."""
        return {
            "issuer": self.metadata_issuer or self.issuer,
            "jwks_uri": self.url + self.jwks_path,
            "id_token_signing_alg_values_supported": list(self.algorithms),
        }

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                with idp._lock:
                    idp.requests[self.path] += 1
                base_path = idp.issuer[len(idp.url):].rstrip("/")
                documents = {
                    idp.jwks_path: idp.jwks,
                    base_path + "/.well-known/openid-configuration": idp.metadata,
                    "/.well-known/oauth-authorization-server" + base_path: idp.metadata,
                }
                if self.path not in documents:
                    self.send_error(404)
                    return
                idp._respond(self, json.dumps(documents[self.path]()).encode())

        return Handler

    def _respond(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        mode, delay = self.mode, self.delay
        if mode == "down":
            handler.send_error(503)
            return
        if mode == "slow":
            time.sleep(delay)
        if mode == "garbage":
            body = b"<html>not json</html>"
        elif mode == "oversized":
            body = b'{"keys": [], "padding": "' + b"x" * (2 * 1024 * 1024) + b'"}'
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        if mode != "dribble":
            handler.send_header("Content-Length", str(len(body)))
        if self.cache_control:
            handler.send_header("Cache-Control", self.cache_control)
        handler.end_headers()
        try:
            if mode == "dribble":
                for byte in body:
                    handler.wfile.write(bytes([byte]))
                    handler.wfile.flush()
                    time.sleep(delay)
            else:
                handler.wfile.write(body)
        except OSError:
            pass  # the client gave up; that is what the slow modes test

    # -- keys and tokens -----------------------------------------------------------------
    def signing_key(self, alg: str | None = None) -> SigningKey:
        """The newest key for ``alg`` (default: the first algorithm)."""
        alg = alg or self.algorithms[0]
        for key in reversed(self.keys):
            if key.alg == alg:
                return key
        raise LookupError(f"no key for {alg}")

    def rotate(self, alg: str | None = None, *, drop_old: bool = False) -> SigningKey:
        """Add a new key for ``alg`` that becomes the signing key; optionally unpublish the old ones."""
        alg = alg or self.algorithms[0]
        key = generate_key(alg)
        if drop_old:
            self.keys = [k for k in self.keys if k.alg != alg]
        self.keys.append(key)
        return key

    def mint(
        self,
        *,
        alg: str | None = None,
        key: SigningKey | None = None,
        headers: dict[str, Any] | None = None,
        lifetime: int = 300,
        **claims: Any,
    ) -> str:
        """A signed token. Default claims: iss, aud, sub, iat, exp, jti; a claim set to ``None`` is left out."""
        key = key or self.signing_key(alg)
        now = int(_clock.now())
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": "test-user",
            "iat": now,
            "exp": now + lifetime,
            "jti": uuid.uuid4().hex,
        }
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        header = {"kid": key.kid, **(headers or {})}
        # Encoded here rather than by jwt.encode, so tests can mint malformed claims too.
        body = json.dumps(payload, separators=(",", ":")).encode()
        return jwt.api_jws.encode(body, key.private_key, algorithm=key.alg, headers=header)

    def issuer_settings(self, **overrides: Any) -> dict[str, Any]:
        """An ``ISSUERS`` entry for this issuer (needs ``ALLOW_HTTP_LOOPBACK``)."""
        entry: dict[str, Any] = {
            "issuer": self.issuer,
            "audiences": [self.audience],
            "algorithms": list(self.algorithms),
            "jwks_uri": self.url + self.jwks_path,
        }
        entry.update(overrides)
        if "discovery" in overrides or "jwks" in overrides:
            entry.pop("jwks_uri")
        return entry

