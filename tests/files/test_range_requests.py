"""Range and If-Range through the view and a real server."""

from __future__ import annotations

import os
import time

import pytest

from tests.files.fixtures import Store
from tests.files.server import raw_get


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
def test_range_abuse(
    store: Store, server: tuple[str, int], auth: dict[str, str], value: str, expected: tuple[int, str | None, int]
) -> None:
    status, content_range, length = expected
    response = raw_get(server, b"/files/data.bin", {**auth, "Range": value})
    assert response.status == status
    assert response.header("Content-Range") == content_range
    assert len(response.body) == length
    assert response.header("Content-Length") == str(length)
    if status == 206:
        assert content_range is not None
        start = int(content_range.split()[1].split("-")[0])
        assert response.body == (bytes(range(256)) * 4)[start : start + length]


def test_range_on_an_empty_file_is_416(store: Store, server: tuple[str, int], auth: dict[str, str]) -> None:
    for value in ("bytes=0-", "bytes=0-0", "bytes=-1"):
        response = raw_get(server, b"/files/empty.txt", {**auth, "Range": value})
        assert (response.status, response.header("Content-Range")) == (416, "bytes */0")


def test_if_range_weak_or_wrong_validator_sends_the_whole_file(
    store: Store, server: tuple[str, int], auth: dict[str, str]
) -> None:
    etag = raw_get(server, b"/files/data.bin", auth, method="HEAD").header("ETag") or ""
    for validator in ("W/" + etag, '"other"', etag.strip('"'), "yesterday", "Mon, 01 Jan 2001 00:00:00 GMT"):
        response = raw_get(server, b"/files/data.bin", {**auth, "Range": "bytes=0-1", "If-Range": validator})
        assert (response.status, len(response.body)) == (200, 1024), validator
    response = raw_get(server, b"/files/data.bin", {**auth, "Range": "bytes=0-1", "If-Range": etag})
    assert (response.status, response.body) == (206, b"\x00\x01")


def test_if_range_date_in_the_future_is_not_a_strong_validator(
    store: Store, server: tuple[str, int], auth: dict[str, str]
) -> None:
    target = store.public / "data.bin"
    future = time.time() + 3600
    os.utime(target, (future, future))
    last_modified = raw_get(server, b"/files/data.bin", auth, method="HEAD").header("Last-Modified") or ""
    response = raw_get(server, b"/files/data.bin", {**auth, "Range": "bytes=0-1", "If-Range": last_modified})
    assert response.status == 200
