"""Adversarial review of ProtectedFileView through real servers on 127.0.0.1.

Each test is one attack, sent as a raw request target (no client re-encodes it) through
Django's development server in a thread, or through gunicorn in a subprocess running with
PYTHONDEVMODE=1 and warnings as errors. Each test names the weakness it guards against.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from django_bearer_guard.testing import LocalIssuer
from tests.files.fixtures import Store, bearer, build_store, flip_symlinks, store
from tests.files.server import RawResponse, raw_get, running_server

__all__ = ["bearer", "store"]  # fixtures

ROOT = Path(__file__).resolve().parents[2]
NFC_E = "\u00e9"
NFD_E = "e\u0301"


@pytest.fixture
def server(store: Store) -> Iterator[tuple[str, int]]:
    with running_server() as address:
        yield address


@pytest.fixture
def auth(bearer: Callable[..., dict[str, str]]) -> dict[str, str]:
    return {"Authorization": bearer()["HTTP_AUTHORIZATION"]}


@pytest.fixture
def planted(store: Store) -> Store:
    """Extra traps in the public root: loops, a self link, a directory named like a file."""
    public = store.public
    (public / "folder.txt").mkdir()
    (public / "folder.txt" / "inner.txt").write_bytes(b"inner\n")
    (public / "loop1").symlink_to("loop2")
    (public / "loop2").symlink_to("loop1")
    (public / "self").symlink_to(".")
    (public / "root-link").symlink_to("../public")
    (public / "up").symlink_to("..")
    (public / "hard.txt").write_bytes(b"not a link\n")
    return store


def _leaked(store: Store, response: RawResponse) -> bool:
    return store.marker[:12].encode() in response.head + response.body


# Traversal and aliasing targets beyond traversal_corpus.txt, appended to "/files/".
EXTRA_TARGETS = [
    b"..%2F..%2Fsecret.txt",
    b"%2e%2e%2F%2E%2e/outside.txt",
    b"..%252f..%252fsecret.txt",
    b"%25%32%65%25%32%65/secret.txt",
    b"%c0%af..%c0%afsecret.txt",
    b"%e0%80%ae%e0%80%ae%e0%80%afsecret.txt",
    b"%c0%ae%c0%ae%2fsecret.txt",
    b"..;/secret.txt",
    b"..;/..;/outside.txt",
    b"hello.txt;/../../secret.txt",
    b".%00./secret.txt",
    b"..%00/..%00/outside.txt",
    b"hello.txt.",
    b"hello.txt..",
    b"hello.txt%20",
    b"hello.txt%2e",
    b"hello.txt%09",
    b"hello.txt%0b",
    b"hello.txt%c2%a0",
    b"hello.txt%e3%80%80",
    b"HELLO.TXT/../../secret.txt",
    b"nested//deep/file.txt",
    b"nested/./deep/file.txt",
    b"nested/deep/./../../../secret.txt",
    b"nested/%2e/deep/file.txt",
    b"nested%2f%2fdeep/file.txt",
    b"e\xcc\x81/../../secret.txt",
    b".\xcc\x81./secret.txt",
    b".\xcc\xa3./secret.txt",
    b"\xef\xbc\x8e\xef\xbc\x8e\xef\xbc\x8fsecret.txt",
    b"\xe2\x80\xae..\xe2\x80\xac/secret.txt",
    b"\xe2\x80\x8b../secret.txt",
    b"..\xe2\x80\x8d/secret.txt",
    b"\xef\xbb\xbf../secret.txt",
    b"..\xe2\x81\xa0/secret.txt",
    b"\xc2\xad../secret.txt",
    b"~/../secret.txt",
    b"~root/.bashrc",
    b"$HOME/../secret.txt",
    b"${PWD}/../secret.txt",
    b"..?/secret.txt",
    b"..#/secret.txt",
    b"%3f/../secret.txt",
    b"%23/../secret.txt",
    b"hello.txt%3b../../secret.txt",
    b"a" * 300 + b"/../secret.txt",
    b"/".join([b"a"] * 33),
    b"x/" * 500 + b"secret.txt",
    b"\xf0\x9f\x98\x80" * 70 + b"/../secret.txt",
    b"up/secret.txt",
    b"up/public-evil/secret.txt",
    b"root-link/../secret.txt",
    b"self/../secret.txt",
    b"self/up/secret.txt",
    b"dir-out%2fsecret.txt",
    b"link-out.txt%00",
    b"loop1",
    b"loop1/x",
    b"folder.txt",
    b"folder.txt/",
    b"hello.txt/x",
    b"pipe",
    b"pipe/../secret.txt",
    b".env",
    b".git/config",
    b".git%2fconfig",
    b"%2eenv",
    b".ENV",
    b"CON",
    b"aux.txt/../../secret.txt",
    b"hello.txt::$DATA",
    b"secret.txt",
    b"public-evil/secret.txt",
    b"..%5c..%5c..%5csecret.txt",
    b"%5c../secret.txt",
]


@pytest.mark.parametrize("target", EXTRA_TARGETS, ids=lambda t: t[:40].decode("latin-1"))
def test_extra_traversal_variant_is_refused_without_leaking(planted, server, auth, target):
    response = raw_get(server, b"/files/" + target, auth)
    assert response.status in (400, 404), response.head
    assert not _leaked(planted, response)
    # Error bodies never name a place on disk.
    assert str(planted.location).encode() not in response.body


def test_absolute_form_request_target_is_not_a_way_out(planted, server, auth):
    for target in (b"http://evil/files/../secret.txt", b"http://127.0.0.1/files/%2e%2e/secret.txt"):
        response = raw_get(server, target, auth)
        assert response.status in (400, 404)
        assert not _leaked(planted, response)


def test_query_after_a_name_is_only_a_query(planted, server, auth):
    response = raw_get(server, b"/files/hello.txt?/../../secret.txt", auth)
    assert (response.status, response.body) == (200, b"hello world\n")


def test_symlink_loop_and_self_links_inside_the_root_are_harmless(planted, server, auth):
    assert raw_get(server, b"/files/loop1", auth).status == 404
    assert raw_get(server, b"/files/self", auth).status == 404
    assert raw_get(server, b"/files/root-link", auth).status == 404
    assert raw_get(server, b"/files/self/self/hello.txt", auth).body == b"hello world\n"
    assert raw_get(server, b"/files/folder.txt/inner.txt", auth).body == b"inner\n"


def test_nfd_request_reaches_the_nfc_name(store, server, auth):
    store.write(f"caf{NFC_E}.txt", b"coffee\n")
    response = raw_get(server, f"/files/caf{NFD_E}.txt".encode(), auth)
    assert (response.status, response.body) == (200, b"coffee\n")


# Unauthenticated and unscoped callers must get the same answer whatever the path names.
PROBES = [
    b"hello.txt",
    b"missing.txt",
    b"subdir",
    b"pipe",
    b".env",
    b"link-out.txt",
    b"../secret.txt",
    b"%2e%2e/secret.txt",
    b"nested/deep/file.txt",
    b"nested/deep/missing.txt",
]


def _fingerprint(response: RawResponse) -> tuple[int, bytes, tuple[bytes, ...]]:
    names = sorted(line.split(b":", 1)[0].lower() for line in response.head.split(b"\r\n")[1:])
    return response.status, response.body, tuple(names)


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_caller_without_token_learns_nothing_about_what_exists(store, server, method):
    answers = {_fingerprint(raw_get(server, b"/files/" + probe, {}, method=method)) for probe in PROBES}
    assert len(answers) == 1
    assert next(iter(answers))[0] == 401


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_caller_without_scope_learns_nothing_about_what_exists(store, server, bearer, method):
    headers = {"Authorization": bearer(scope="other")["HTTP_AUTHORIZATION"]}
    answers = {_fingerprint(raw_get(server, b"/files/" + probe, headers, method=method)) for probe in PROBES}
    assert len(answers) == 1
    assert next(iter(answers))[0] == 403


def test_caller_without_a_tenant_learns_nothing_about_any_tenant(store, server, bearer):
    headers = {"Authorization": bearer()["HTTP_AUTHORIZATION"]}
    probes = [b"report.txt", b"missing.txt", b"../other/secret.txt", b"%2e%2e/acme/report.txt"]
    answers = {_fingerprint(raw_get(server, b"/tenant/" + probe, headers)) for probe in probes}
    assert len(answers) == 1
    assert next(iter(answers))[0] == 403


@pytest.mark.parametrize(
    "tenant",
    [
        "..",
        ".",
        "",
        "a/b",
        "acme/../other",
        "%2e%2e",
        "..%2fother",
        "..\\other",
        "x" * 256,
        ".git",
        "acme\x00",
        "acme\n",
        " acme",
        "acme ",
        "acme.",
        "\u2025",
        "\uff0e\uff0e",
        "acme\u2215..",
        "\u202eemca",
        "ac\u200bme",
        "C:",
        "*",
        True,
        None,
        1.5,
        ["acme"],
        {"name": "acme"},
    ],
    ids=repr,
)
def test_per_caller_root_refuses_injected_tenant(store, server, bearer, tenant):
    headers = {"Authorization": bearer(tenant=tenant)["HTTP_AUTHORIZATION"]}
    for target in (b"/tenant/report.txt", b"/tenant/secret.txt", b"/tenant/other/secret.txt"):
        response = raw_get(server, target, headers)
        assert response.status == 403, (tenant, target, response.status)
        assert not _leaked(store, response)


def test_per_caller_root_tenant_named_like_a_sibling_reaches_only_its_folder(store, server, bearer):
    # "tenants" and "other" are real folders; the token may only read directly under its own.
    other = {"Authorization": bearer(tenant="other")["HTTP_AUTHORIZATION"]}
    assert _leaked(store, raw_get(server, b"/tenant/secret.txt", other))
    acme = {"Authorization": bearer(tenant="acme")["HTTP_AUTHORIZATION"]}
    for target in (b"/tenant/secret.txt", b"/tenant/../other/secret.txt", b"/tenant/..%2fother%2fsecret.txt"):
        response = raw_get(server, target, acme)
        assert response.status in (400, 404)
        assert not _leaked(store, response)


def test_per_caller_root_unicode_tenant_in_another_normal_form_is_not_served(store, server, bearer):
    folder = store.location / "tenants" / f"caf{NFC_E}"
    folder.mkdir()
    (folder / "report.txt").write_bytes(b"cafe report\n")
    nfc = {"Authorization": bearer(tenant=f"caf{NFC_E}")["HTTP_AUTHORIZATION"]}
    assert raw_get(server, b"/tenant/report.txt", nfc).body == b"cafe report\n"
    nfd = {"Authorization": bearer(tenant=f"caf{NFD_E}")["HTTP_AUTHORIZATION"]}
    assert raw_get(server, b"/tenant/report.txt", nfd).status in (403, 404)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("bytes=0-0,-1", (200, None, 1024)),
        ("bytes=0-,0-,0-", (200, None, 1024)),
        ("bytes=" + ",".join(["0-1"] * 2000), (200, None, 1024)),
        ("bytes=-0", (416, "bytes */1024", 0)),
        ("bytes=-1", (206, "bytes 1023-1023/1024", 1)),
        ("bytes=-99999", (206, "bytes 0-1023/1024", 1024)),
        ("bytes=1024-", (416, "bytes */1024", 0)),
        ("bytes=1023-", (206, "bytes 1023-1023/1024", 1)),
        ("bytes=0-99999999999999999999999", (200, None, 1024)),
        ("bytes=999999999999999999-", (416, "bytes */1024", 0)),
        ("bytes=-1-2", (200, None, 1024)),
        ("bytes=--1", (200, None, 1024)),
        ("bytes=+1-2", (200, None, 1024)),
        ("bytes=1-+2", (200, None, 1024)),
        ("bytes=0x10-", (200, None, 1024)),
        ("bytes=1e2-", (200, None, 1024)),
        ("bytes=\u0661-2", (200, None, 1024)),
        ("bytes=5-1", (200, None, 1024)),
        ("bytes=", (200, None, 1024)),
        ("bytes", (200, None, 1024)),
        ("=0-1", (200, None, 1024)),
        ("items=0-1", (200, None, 1024)),
        ("bytes=1-2", (206, "bytes 1-2/1024", 2)),
        ("bytes=1-2 ", (206, "bytes 1-2/1024", 2)),
    ],
)
def test_range_abuse(store, server, auth, value, expected):
    status, content_range, length = expected
    response = raw_get(server, b"/files/data.bin", {**auth, "Range": value})
    assert response.status == status
    assert response.header("Content-Range") == content_range
    assert len(response.body) == length
    assert response.header("Content-Length") == str(length)
    if status == 206:
        start = int(content_range.split()[1].split("-")[0])
        assert response.body == (bytes(range(256)) * 4)[start : start + length]


def test_range_on_an_empty_file_is_416(store, server, auth):
    for value in ("bytes=0-", "bytes=0-0", "bytes=-1"):
        response = raw_get(server, b"/files/empty.txt", {**auth, "Range": value})
        assert (response.status, response.header("Content-Range")) == (416, "bytes */0")


def test_if_range_weak_or_wrong_validator_sends_the_whole_file(store, server, auth):
    etag = raw_get(server, b"/files/data.bin", auth, method="HEAD").header("ETag") or ""
    for validator in ("W/" + etag, '"other"', etag.strip('"'), "yesterday", "Mon, 01 Jan 2001 00:00:00 GMT"):
        response = raw_get(server, b"/files/data.bin", {**auth, "Range": "bytes=0-1", "If-Range": validator})
        assert (response.status, len(response.body)) == (200, 1024), validator
    response = raw_get(server, b"/files/data.bin", {**auth, "Range": "bytes=0-1", "If-Range": etag})
    assert (response.status, response.body) == (206, b"\x00\x01")


def test_if_range_date_in_the_future_is_not_a_strong_validator(store, server, auth):
    target = store.public / "data.bin"
    future = time.time() + 3600
    os.utime(target, (future, future))
    last_modified = raw_get(server, b"/files/data.bin", auth, method="HEAD").header("Last-Modified") or ""
    response = raw_get(server, b"/files/data.bin", {**auth, "Range": "bytes=0-1", "If-Range": last_modified})
    assert response.status == 200


@pytest.mark.parametrize(
    ("make_headers", "status"),
    [
        (lambda etag, date: {"If-None-Match": "*"}, 304),
        (lambda etag, date: {"If-None-Match": "W/" + etag}, 304),
        (lambda etag, date: {"If-None-Match": f'"a", W/"b",{etag}'}, 304),
        (lambda etag, date: {"If-None-Match": etag.strip('"')}, 200),
        (lambda etag, date: {"If-None-Match": '"nope"', "If-Modified-Since": date}, 200),
        (lambda etag, date: {"If-Modified-Since": date}, 304),
        (lambda etag, date: {"If-Modified-Since": "garbage"}, 200),
        (lambda etag, date: {"If-Match": "W/" + etag}, 412),
        (lambda etag, date: {"If-Match": "*"}, 200),
        (lambda etag, date: {"If-Match": etag, "If-None-Match": etag}, 304),
        (lambda etag, date: {"If-Unmodified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"}, 412),
        (lambda etag, date: {"If-None-Match": etag, "Range": "bytes=0-1"}, 304),
    ],
)
def test_conditional_headers(store, server, auth, make_headers, status):
    head = raw_get(server, b"/files/data.bin", auth, method="HEAD")
    headers = make_headers(head.header("ETag") or "", head.header("Last-Modified") or "")
    for method in ("GET", "HEAD"):
        response = raw_get(server, b"/files/data.bin", {**auth, **headers}, method=method)
        assert response.status == status, (method, headers)
        if status in (304, 412):
            assert response.body == b""
            assert response.header("ETag") == head.header("ETag")


HEAD_CASES = [
    ("/files/data.bin", {}),
    ("/files/data.bin", {"Range": "bytes=5-9"}),
    ("/files/data.bin", {"Range": "bytes=5000-"}),
    ("/files/empty.txt", {}),
    ("/files/missing.txt", {}),
    ("/files/../secret.txt", {}),
    ("/files/page.html", {}),
    ("/stream/data.bin", {}),
    ("/memory/missing", {}),
    ("/accel/hello.txt", {}),
    ("/sendfile/hello.txt", {}),
]


@pytest.mark.parametrize(("target", "extra"), HEAD_CASES)
def test_head_matches_get_except_for_the_body(store, server, auth, target, extra):
    get = raw_get(server, target.encode(), {**auth, **extra})
    head = raw_get(server, target.encode(), {**auth, **extra}, method="HEAD")
    assert head.body == b""
    if "Range" in extra:
        # RFC 9110 §14.2: Range applies to GET only; HEAD describes the whole representation.
        assert head.status in (200, get.status)
        return
    assert head.status == get.status
    for name in ("Content-Type", "ETag", "Last-Modified", "Content-Disposition", "X-Content-Type-Options"):
        assert head.header(name) == get.header(name), name
    assert get.header("Content-Length") == str(len(get.body))
    # RFC 9110 §9.3.2: HEAD may omit Content-Length (the development server does for 0), never change it.
    if head.header("Content-Length") is not None and not target.startswith(("/accel/", "/sendfile/")):
        assert head.header("Content-Length") == get.header("Content-Length")


WEIRD_NAME = 'we\r\nX-Evil: 1?#%";\u65e5.txt'


@pytest.fixture
def weird(store: Store) -> Store:
    """A file whose resolved name holds CR, LF, quotes, ';', '?', '#', '%' and CJK, behind a tidy link."""
    (store.public / WEIRD_NAME).write_bytes(b"weird\n")
    (store.public / "tidy.txt").symlink_to(WEIRD_NAME)
    return store


def test_resolved_name_cannot_inject_headers_through_x_accel_redirect(weird, server, auth):
    response = raw_get(server, b"/accel/tidy.txt", auth)
    assert response.status == 200
    assert response.header("X-Evil") is None
    location = response.header("X-Accel-Redirect") or ""
    assert location.startswith("/internal/public/")
    assert not set(location) & set('\r\n?#" ;')
    assert response.header("Content-Disposition") == "attachment; filename=\"tidy.txt\"; filename*=UTF-8''tidy.txt"


def test_resolved_name_with_newline_through_x_sendfile_is_not_a_server_error(weird, server, auth):
    response = raw_get(server, b"/sendfile/tidy.txt", auth)
    assert response.status in (200, 404)
    assert response.header("X-Evil") is None


def test_content_disposition_for_awkward_served_names(store, server, auth):
    store.write("semi;colon=x.txt", b"x\n")
    store.write("quote'and`tick.txt", b"x\n")
    for name, expected in (
        (b"semi;colon=x.txt", "attachment; filename=\"semi;colon=x.txt\"; filename*=UTF-8''semi%3Bcolon%3Dx.txt"),
        (b"quote'and`tick.txt", "attachment; filename=\"quote'and`tick.txt\"; filename*=UTF-8''quote%27and`tick.txt"),
    ):
        response = raw_get(server, b"/files/" + name, auth)
        assert (response.status, response.header("Content-Disposition")) == (200, expected)


def test_symlink_to_a_hidden_file_does_not_bypass_the_hidden_policy(store, server, auth):
    (store.public / "visible.txt").symlink_to(".env")
    assert raw_get(server, b"/files/visible.txt", auth).status == 404


def test_storage_without_local_paths_does_not_follow_symlinks_out(store, server, auth):
    response = raw_get(server, b"/stream/link-out.txt", auth)
    assert not _leaked(store, response)


def _fds_on(path: Path, pid: int | str = "self") -> list[str]:
    found = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == str(path):
                found.append(fd)
        except OSError:
            pass
    return found


def _start_and_abort(address: tuple[str, int], target: str, token: str, extra: str = "") -> bytes:
    """Send a request, read the first bytes, then reset the connection."""
    sock = socket.create_connection(address, timeout=10)
    try:
        request = f"GET {target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n{extra}\r\n"
        sock.sendall(request.encode())
        first = sock.recv(4096)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    finally:
        sock.close()
    return first


def _wait_closed(path: Path, pid: int | str = "self") -> list[str]:
    deadline = time.monotonic() + 5
    while (open_fds := _fds_on(path, pid)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return open_fds


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
def test_client_disconnect_mid_download_closes_the_file(store, server, bearer, target, extra):
    big = store.write("big.bin", b"a" * (16 << 20))
    token = bearer()["HTTP_AUTHORIZATION"].removeprefix("Bearer ")
    first = _start_and_abort(server, target, token, extra)
    assert first.startswith((b"HTTP/1.1 200", b"HTTP/1.1 206"))
    assert _wait_closed(big) == []


@pytest.mark.parametrize("extra", ["", "Range: bytes=5000000-\r\n", "If-None-Match: *\r\n", "Range: bytes=1-2\r\n"])
def test_every_answer_closes_the_file(store, server, bearer, extra):
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
def test_growing_file_never_sends_more_than_content_length(store, server, bearer, target):
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


def test_symlink_swaps_during_requests_never_leak(store, server, auth):
    public = store.public
    (public / "swapdir").mkdir()
    (public / "swapdir" / "secret.txt").write_text("benign\n")
    store.write("swapfile.txt", b"benign\n")
    stop = threading.Event()

    flipper = threading.Thread(target=flip_symlinks, args=(public, stop))
    flipper.start()
    statuses: dict[int, int] = {}
    try:
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            for target in (b"/files/swapdir/secret.txt", b"/files/swapfile.txt", b"/accel/swapfile.txt"):
                response = raw_get(server, target, auth)
                assert not _leaked(store, response)
                assert not (response.header("X-Accel-Redirect") or "").endswith("/secret.txt")
                statuses[response.status] = statuses.get(response.status, 0) + 1
    finally:
        stop.set()
        flipper.join()
    assert statuses.get(200, 0) > 0


def test_hard_link_inside_the_root_is_served_like_any_file(store, server, auth):
    # Documented limit: a hard link is the file itself; only who can write the root can make one.
    os.link(store.public / "hello.txt", store.public / "hard-in.txt")
    assert raw_get(server, b"/files/hard-in.txt", auth).body == b"hello world\n"


# -- gunicorn, development mode, warnings as errors ------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _gunicorn(location: Path, guard: dict[str, Any], log: Path) -> tuple[subprocess.Popen[bytes], tuple[str, int]]:
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.files.server_settings",
        "BG_FILES_LOCATION": str(location),
        "BG_GUARD": json.dumps(guard),
        "PYTHONPATH": str(ROOT),
        "PYTHONDEVMODE": "1",
        "PYTHONWARNINGS": "error::ResourceWarning",
    }
    command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1"]
    command += ["--log-level", "warning", "django.core.wsgi:get_wsgi_application()"]
    with open(log, "wb") as err:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.monotonic() + 20
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        except OSError:
            time.sleep(0.05)
            continue
        if children.exists() and children.read_text().split():
            return process, ("127.0.0.1", port)
    process.terminate()
    process.wait(timeout=20)
    raise RuntimeError("gunicorn did not start")


def test_gunicorn_in_development_mode_refuses_attacks_and_closes_every_file(tmp_path, make_idp):
    store = build_store(tmp_path)
    big = store.write("big.bin", bytes(range(256)) * 65536)
    idp: LocalIssuer = make_idp()
    token = idp.mint(scope="files:read", lifetime=600)
    guard = {"ALLOW_HTTP_LOOPBACK": True, "ISSUERS": [idp.issuer_settings(jwks=idp.jwks())]}
    log = tmp_path / "gunicorn.log"
    process, address = _gunicorn(store.location, guard, log)
    auth = {"Authorization": f"Bearer {token}"}
    try:
        worker = int(Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()[0])
        for target in [*EXTRA_TARGETS[:40], b"../secret.txt", b"%2e%2e%2fsecret.txt", b"link-out.txt"]:
            response = raw_get(address, b"/files/" + target, auth)
            assert response.status in (400, 404), (target, response.status)
            assert not _leaked(store, response)
        unauthenticated = {_fingerprint(raw_get(address, b"/files/" + probe, {}))[:2] for probe in PROBES}
        assert len(unauthenticated) == 1
        # sendfile honours the offset and the announced length.
        whole = bytes(range(256)) * 65536
        ranges = (("bytes=100-", whole[100:]), ("bytes=100-199", whole[100:200]), ("bytes=-7", whole[-7:]))
        for value, expected in ranges:
            for route in (b"/files/big.bin", b"/stream/big.bin"):
                response = raw_get(address, route, {**auth, "Range": value})
                assert (response.status, response.body) == (206, expected), (route, value)
        for route in ("/files/big.bin", "/stream/big.bin"):
            assert _start_and_abort(address, route, token).startswith(b"HTTP/1.1 200")
            assert _start_and_abort(address, route, token, "Range: bytes=1-\r\n").startswith(b"HTTP/1.1 206")
        assert _wait_closed(big, worker) == []
    finally:
        process.terminate()
        process.wait(timeout=20)
    errors = log.read_text(errors="replace")
    # gunicorn itself leaves its listening socket to the garbage collector at shutdown.
    listener = f"laddr={address!r}>"
    warnings = [line for line in errors.splitlines() if "ResourceWarning" in line and not line.endswith(listener)]
    assert warnings == []
    assert "Traceback" not in errors
