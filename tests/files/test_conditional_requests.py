"""Preconditions (RFC 9110 §13) and HEAD through a real server."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.files.fixtures import Store
from tests.files.server import raw_get


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
def test_conditional_headers(
    store: Store,
    server: tuple[str, int],
    auth: dict[str, str],
    make_headers: Callable[[str, str], dict[str, str]],
    status: int,
) -> None:
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
def test_head_matches_get_except_for_the_body(
    store: Store, server: tuple[str, int], auth: dict[str, str], target: str, extra: dict[str, str]
) -> None:
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
