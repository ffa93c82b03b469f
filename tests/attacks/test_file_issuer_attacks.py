"""Attacks on the file view through identities: look-alike claims, other issuers, forward-only storages.

Real tokens from LocalIssuers through the real view (Django's test client and, for forward-only
storages, gunicorn). Each test names the attack it stops.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import InMemoryStorage
from django.test import Client

from django_bearer_guard.files.paths import issuer_slug
from django_bearer_guard.testing import LocalIssuer
from tests.files import issuer_urls
from tests.files.fixtures import Store, bearer, build_store, store
from tests.files.gunicorn_server import GunicornServer

__all__ = ["bearer", "store"]  # fixtures

KELVIN = "\u212a"  # KELVIN SIGN: NFC turns it into "K"
NFD_JOSE = "jose\u0301"  # NFC: "josé"
NFC_JOSE = "jos\u00e9"


@pytest.fixture
def routes(store: Store, settings: Any) -> Store:
    settings.ROOT_URLCONF = "tests.files.issuer_urls"
    issuer_urls.ALLOWED.clear()
    issuer_urls.STORAGE_CALLS.clear()
    return store


@pytest.fixture
def memory(routes: Store) -> InMemoryStorage:
    return issuer_urls.fresh_memory()


@pytest.fixture
def partner(make_idp: Callable[..., LocalIssuer], idp: LocalIssuer, guard: Callable[..., None]) -> LocalIssuer:
    """A second trusted issuer beside ``idp``."""
    other = make_idp(issuer_path="/partner")
    guard(issuers=[idp.issuer_settings(), other.issuer_settings()])
    return other


def _auth(issuer: LocalIssuer, **claims: Any) -> dict[str, Any]:
    claims.setdefault("scope", "files:read")
    return {"HTTP_AUTHORIZATION": f"Bearer {issuer.mint(**claims)}"}


def _body(response: Any) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


# -- look-alike claim values (finding 3) -----------------------------------------------------


@pytest.mark.parametrize(
    ("folder", "claim"),
    [
        ("Kate", f"{KELVIN}ate"),
        (NFC_JOSE, NFD_JOSE),
        ("kate", "\uff4bate"),  # FULLWIDTH k: NFKC and Windows best-fit fold it to "k"
        ("\u00c5sa", "\u212bsa"),  # ANGSTROM SIGN: NFC gives LATIN CAPITAL A WITH RING
    ],
)
def test_lookalike_tenant_claim_cannot_read_the_folder_it_normalises_to_in_memory(
    client: Client, memory: InMemoryStorage, bearer: Callable[..., dict[str, Any]], folder: str, claim: str
) -> None:
    memory.save(f"tenants/{folder}/report.txt", ContentFile(b"private report\n"))
    own = client.get("/mem-tenant/report.txt", **bearer(tenant=folder))
    assert _body(own) == b"private report\n"
    response = client.get("/mem-tenant/report.txt", **bearer(tenant=claim))
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"


def test_lookalike_subject_cannot_read_the_folder_it_normalises_to_in_memory(
    client: Client, memory: InMemoryStorage, bearer: Callable[..., dict[str, Any]]
) -> None:
    memory.save("tenants/Kate/report.txt", ContentFile(b"kate's report\n"))
    response = client.get("/mem-sub/report.txt", **bearer(sub=f"{KELVIN}ate"))
    assert response.status_code == 403


@pytest.mark.parametrize("claim", [f"{KELVIN}ate", NFD_JOSE, "\uff4bate"])
def test_lookalike_tenant_claim_is_refused_on_the_filesystem_too(
    client: Client, routes: Store, bearer: Callable[..., dict[str, Any]], claim: str
) -> None:
    for folder in ("Kate", NFC_JOSE, "kate", claim):
        (routes.location / "tenants" / folder).mkdir(exist_ok=True)
        (routes.location / "tenants" / folder / "report.txt").write_bytes(b"private report\n")
    response = client.get("/tenant/report.txt", **bearer(tenant=claim))
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"


def test_normalised_tenant_claim_still_reads_its_own_folder(
    client: Client, memory: InMemoryStorage, bearer: Callable[..., dict[str, Any]]
) -> None:
    memory.save(f"tenants/{NFC_JOSE}/report.txt", ContentFile(b"jose report\n"))
    assert _body(client.get("/mem-tenant/report.txt", **bearer(tenant=NFC_JOSE))) == b"jose report\n"


# -- an issuer speaks only for itself (finding 2, file view) --------------------------------


def test_same_subject_of_another_issuer_cannot_read_the_first_issuers_folder(
    client: Client, memory: InMemoryStorage, idp: LocalIssuer, partner: LocalIssuer
) -> None:
    mine = f"tenants/{issuer_slug(idp.issuer)}/acme/report.txt"
    memory.save(mine, ContentFile(b"acme at the first issuer\n"))
    assert _body(client.get("/mem-by-issuer/report.txt", **_auth(idp, tenant="acme"))) == b"acme at the first issuer\n"
    response = client.get("/mem-by-issuer/report.txt", **_auth(partner, tenant="acme"))
    assert response.status_code == 404
    memory.save(f"tenants/{issuer_slug(partner.issuer)}/acme/report.txt", ContentFile(b"partner acme\n"))
    assert _body(client.get("/mem-by-issuer/report.txt", **_auth(partner, tenant="acme"))) == b"partner acme\n"


def test_same_tenant_of_another_issuer_gets_its_own_folder_on_the_filesystem(
    client: Client, routes: Store, idp: LocalIssuer, partner: LocalIssuer
) -> None:
    for issuer, text in ((idp, b"first\n"), (partner, b"second\n")):
        folder = routes.location / "tenants" / issuer_slug(issuer.issuer) / "acme"
        folder.mkdir(parents=True)
        (folder / "report.txt").write_bytes(text)
    assert _body(client.get("/by-issuer/report.txt", **_auth(idp, tenant="acme"))) == b"first\n"
    assert _body(client.get("/by-issuer/report.txt", **_auth(partner, tenant="acme"))) == b"second\n"


@pytest.mark.parametrize("route", ["/partner/hello.txt", "/partner-open/hello.txt"])
def test_token_of_an_issuer_outside_allowed_issuers_is_403_before_storage(
    client: Client, routes: Store, idp: LocalIssuer, partner: LocalIssuer, route: str
) -> None:
    issuer_urls.ALLOWED.append(idp.issuer)
    assert _body(client.get(route, **_auth(idp))) == b"hello world\n"
    calls = len(issuer_urls.STORAGE_CALLS)
    response = client.get(route, **_auth(partner))
    assert response.status_code == 403
    assert response.json()["error"] == "access_denied"
    assert len(issuer_urls.STORAGE_CALLS) == calls
    head = client.head(route, **_auth(partner))
    assert head.status_code == 403


def test_allowed_issuers_refuses_a_request_without_a_bearer_token(
    client: Client, routes: Store, idp: LocalIssuer
) -> None:
    issuer_urls.ALLOWED.append(idp.issuer)
    response = client.get("/partner-open/hello.txt")
    # RFC 6750 §3.1: no credentials is a 401 with the bare challenge, not a 403.
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    # Without an authenticator there is no challenge to send: DRF answers 403.
    assert client.get("/partner-anonymous/hello.txt").status_code == 403
    assert issuer_urls.STORAGE_CALLS == []


# -- forward-only storages (finding 6) ------------------------------------------------------

WHOLE = bytes(range(256)) * 4


@pytest.mark.parametrize("route", ["/forward/data.bin", "/forward-unmarked/data.bin"])
@pytest.mark.parametrize("extra", [{}, {"HTTP_RANGE": "bytes=10-19"}, {"HTTP_RANGE": "bytes=1000-"},
                                   {"HTTP_RANGE": "bytes=-4"}, {"HTTP_RANGE": "bytes=5000-"}])
def test_forward_only_storage_streams_the_whole_file_never_500(
    client: Client, routes: Store, bearer: Callable[..., dict[str, Any]], route: str, extra: dict[str, Any]
) -> None:
    response = client.get(route, **bearer(), **extra)
    assert response.status_code == 200
    assert _body(response) == WHOLE
    assert response["Content-Length"] == "1024"
    assert response["Accept-Ranges"] == "none"
    assert "Content-Range" not in response


def test_forward_only_storage_answers_head_and_conditionals(
    client: Client, routes: Store, bearer: Callable[..., dict[str, Any]]
) -> None:
    head = client.head("/forward/data.bin", **bearer())
    assert (head.status_code, head["Content-Length"], head.content) == (200, "1024", b"")
    again = client.get("/forward/data.bin", **bearer(), HTTP_IF_NONE_MATCH=head["ETag"])
    assert again.status_code == 304


def _raw(address: tuple[str, int], target: str, token: str, extra: str = "", method: str = "GET") -> bytes:
    request = f"{method} {target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
    request += f"{extra}Connection: close\r\n\r\n"
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(request.encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.fixture
def gunicorn(tmp_path: Path, make_idp: Callable[..., LocalIssuer]) -> Iterator[tuple[GunicornServer, str]]:
    store = build_store(tmp_path)
    idp = make_idp()
    guard = {"ALLOW_HTTP_LOOPBACK": True, "ISSUERS": [idp.issuer_settings(jwks=idp.jwks())]}
    server = GunicornServer(store.location, guard, urlconf="tests.files.issuer_urls")
    try:
        yield server, idp.mint(scope="files:read", lifetime=600)
    finally:
        server.stop()


def test_forward_only_storage_under_gunicorn_streams_with_content_length(gunicorn: tuple[GunicornServer, str]) -> None:
    server, token = gunicorn
    for route in ("/forward/data.bin", "/forward-unmarked/data.bin"):
        for extra in ("", "Range: bytes=100-199\r\n", "Range: bytes=-7\r\n"):
            head, _, body = _raw(server.address, route, token, extra).partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200"), (route, extra, head)
            assert b"\r\nContent-Length: 1024" in head
            assert body == WHOLE
        head = _raw(server.address, route, token, method="HEAD")
        assert head.startswith(b"HTTP/1.1 200") and head.endswith(b"\r\n\r\n")
